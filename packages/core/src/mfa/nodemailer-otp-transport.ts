import { configError } from '../util/options';
import type { OtpMessage, OtpTransport } from './otp-transport';

/** What the transport needs of a nodemailer `Transporter` (duck-typed: nodemailer is an optional peer). */
export interface MailTransporter {
  sendMail(mail: {
    from: string;
    to: string;
    subject: string;
    text: string;
    html?: string;
  }): Promise<unknown>;
}

export interface NodemailerOtpTransportOptions {
  /** `nodemailer.createTransport(...)`. */
  transporter: MailTransporter;
  /** Sender, e.g. `"Clinic" <no-reply@clinic.example>`. */
  from: string;
  /** Default `Your verification code`. Keep the code out of the subject (lock screens show it). */
  subject?: string;
  /** Body text; default: the code and its lifetime in minutes. */
  text?: (code: string, expiresInMinutes: number) => string;
  configPath?: string;
}

/** Addresses with CR / LF or several recipients are refused (header injection, code sent to two people). */
const EMAIL_RE = /^[^\s@,;<>"]{1,64}@[^\s@,;<>"]{1,255}$/;

/** Sends e-mail one-time codes through nodemailer (SMTP, SES, any nodemailer transport). */
export class NodemailerOtpTransport implements OtpTransport {
  readonly #transporter: MailTransporter;
  readonly #from: string;
  readonly #subject: string;
  readonly #text: (code: string, minutes: number) => string;

  constructor(options: NodemailerOtpTransportOptions) {
    const path = options?.configPath ?? 'mfa.otp.transport';
    if (typeof options?.transporter?.sendMail !== 'function') {
      throw configError(`${path}.transporter`, 'must be a nodemailer Transporter (sendMail)');
    }
    if (typeof options.from !== 'string' || options.from.trim() === '' || /[\r\n]/.test(options.from)) {
      throw configError(`${path}.from`, 'must be a sender address without line breaks');
    }
    const subject = options.subject ?? 'Your verification code';
    if (typeof subject !== 'string' || /[\r\n]/.test(subject)) {
      throw configError(`${path}.subject`, 'must be a string without line breaks');
    }
    if (options.text !== undefined && typeof options.text !== 'function') {
      throw configError(`${path}.text`, 'must be a function (code, minutes) => string');
    }
    this.#transporter = options.transporter;
    this.#from = options.from;
    this.#subject = subject;
    this.#text =
      options.text ??
      ((code, minutes) =>
        `Your verification code is ${code}\n\nIt expires in ${minutes} minutes. ` +
        'If you did not ask for it, ignore this message and consider changing your password.');
  }

  async send(message: OtpMessage): Promise<void> {
    if (message.channel !== 'email') throw new Error('NodemailerOtpTransport sends e-mail codes only');
    if (!EMAIL_RE.test(message.to)) throw new Error('the recipient is not a single e-mail address');
    await this.#transporter.sendMail({
      from: this.#from,
      to: message.to,
      subject: this.#subject,
      text: this.#text(message.code, Math.ceil(message.expiresInSec / 60)),
    });
  }
}
