import { configError, nonEmptyString } from '../util/options';
import { alertTitle, type Alert, type AlertChannel } from './alert';
import { checkChannelName } from './channel-name';
import { deliveryError } from './delivery-error';

/** The part of a nodemailer `Transporter` used (`nodemailer.createTransport(...)`): core never imports it. */
export interface MailTransport {
  sendMail(message: {
    from: string;
    to: string[];
    subject: string;
    text: string;
    messageId: string;
    headers?: Record<string, string>;
  }): Promise<unknown>;
  close?(): void;
}

export interface EmailChannelOptions {
  name: string;
  /** A nodemailer transport (SMTP with TLS in production). Closed with the channel unless `closeTransport: false`. */
  transport: MailTransport;
  from: string;
  to: string | readonly string[];
  closeTransport?: boolean;
}

/** Sends each alert as a plain-text e-mail (one per alert; the subject line is the alert title). */
export class EmailChannel implements AlertChannel {
  readonly name: string;
  readonly kind = 'email';
  readonly #transport: MailTransport;
  readonly #from: string;
  readonly #to: string[];
  readonly #closeTransport: boolean;

  constructor(options: EmailChannelOptions) {
    this.name = checkChannelName(options?.name, 'alerts.channels[].name');
    const path = `alerts.channels.${this.name}`;
    if (typeof options.transport?.sendMail !== 'function') {
      throw configError(`${path}.transport`, 'must be a nodemailer transport (sendMail)');
    }
    this.#transport = options.transport;
    this.#from = nonEmptyString(options.from, `${path}.from`, 320);
    const to = typeof options.to === 'string' ? [options.to] : options.to;
    if (!Array.isArray(to) || to.length === 0)
      throw configError(`${path}.to`, 'must name at least one recipient');
    this.#to = to.map((t, i) => nonEmptyString(t, `${path}.to[${i}]`, 320));
    this.#closeTransport = options.closeTransport ?? true;
  }

  async send(alert: Alert): Promise<void> {
    const lines = [
      alertTitle(alert),
      '',
      `Rule:      ${alert.rule}`,
      `Severity:  ${alert.severity}`,
      `Category:  ${alert.category}`,
      `Raised at: ${alert.at}`,
      `Alert id:  ${alert.id}`,
      ...(alert.subject !== undefined
        ? Object.entries(alert.subject).map(([k, v]) => `Subject ${k}: ${v}`)
        : []),
      ...(alert.risk !== undefined
        ? [
            `Risk:      ${alert.risk.score} (${alert.risk.signals.map((s) => `${s.name} ${s.weight}`).join(', ')})`,
          ]
        : []),
      ...(alert.entries !== undefined ? [`Audit seqs: ${alert.entries.join(', ')}`] : []),
      ...(alert.suppressed ? [`Repeats suppressed since the last alert: ${alert.suppressed}`] : []),
    ];
    try {
      await this.#transport.sendMail({
        from: this.#from,
        to: this.#to,
        subject: alertTitle(alert),
        text: `${lines.join('\n')}\n`,
        messageId: `<${alert.id}@bulwark.alerts>`,
        headers: { 'X-Bulwark-Alert-Severity': alert.severity },
      });
    } catch (err) {
      throw deliveryError(this.name, 'the mail transport refused the message', err);
    }
  }

  close(): void {
    if (this.#closeTransport) this.#transport.close?.();
  }
}
