/**
 * How a second factor was proven. `federated-mfa`: the identity provider asserted a multi-factor
 * sign-in (OIDC `amr`, SAML AuthnContext); Bulwark did not see the factors itself.
 */
export type MfaMethod = 'totp' | 'recovery' | 'webauthn' | 'email-otp' | 'sms-otp' | 'federated-mfa';

/** What `TotpFactor.verify` / `RecoveryCodes.verify` return on success. */
export interface MfaVerification {
  readonly userId: string;
  readonly method: MfaMethod;
  /** ISO-8601 UTC time of the verification. */
  readonly at: string;
  /** TOTP: the accepted RFC 6238 time step. */
  readonly step?: number;
  /** Recovery: unused codes left after this one (prompt the user to regenerate when low). */
  readonly remaining?: number;
}

/** Context attributes the policy engine (and `MfaPolicy`) read. */
export interface MfaContext {
  readonly mfaVerified: true;
  readonly mfaMethod: MfaMethod;
  /** ISO-8601 UTC time the factor was verified; `MfaPolicy.maxAgeSec` is measured from it. */
  readonly mfaAt: string;
}

/**
 * The attributes to merge into an authorization context after a successful second factor, e.g.
 * `engine.can(subject, 'approve', invoice, { ...mfaContext(verification) })`. Keep them in the
 * session (server side) and merge them on each request; never take them from the client.
 */
export function mfaContext(verification: MfaVerification): MfaContext {
  return Object.freeze({
    mfaVerified: true,
    mfaMethod: verification.method,
    mfaAt: verification.at,
  });
}
