/** One code to deliver. `code` is the secret: a transport must not log it. */
export interface OtpMessage {
  readonly channel: 'email' | 'sms';
  /** E-mail address or phone number (E.164), as the app gave it. */
  readonly to: string;
  readonly code: string;
  /** Seconds the code stays valid (for the message text). */
  readonly expiresInSec: number;
}

/**
 * Delivers one-time codes: `NodemailerOtpTransport` for e-mail; for SMS the app implements it on
 * its provider's SDK (Twilio, Vonage, AWS SNS...). `send` resolves once the provider accepted the
 * message and rejects otherwise; the factor then drops the code and answers ERR_MFA_DELIVERY.
 */
export interface OtpTransport {
  send(message: OtpMessage): Promise<void>;
}
