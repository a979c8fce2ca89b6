import { configError } from '../util/options';
import type { Alert, AlertChannel } from './alert';
import { checkChannelName } from './channel-name';
import { deliveryError } from './delivery-error';

/** The part of a nats.js `NatsConnection` used: core publish (+ flush to learn the server got it). */
export interface NatsPublisher {
  publish(subject: string, data: Uint8Array): void;
  flush?(): Promise<void>;
}

export interface NatsChannelOptions {
  name: string;
  /** An open nats.js connection; the app owns it (never closed here). */
  connection: NatsPublisher;
  /** Subject prefix; alerts go to `<prefix>.<severity>`. Default `bulwark.alerts`. */
  subjectPrefix?: string;
}

const SUBJECT = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

/**
 * Publishes each alert as JSON on `<prefix>.<severity>` (subscribe to `bulwark.alerts.critical`,
 * or `bulwark.alerts.>` for all). Delivery counts once the server acknowledged a flush.
 */
export class NatsChannel implements AlertChannel {
  readonly name: string;
  readonly kind = 'nats';
  readonly #nc: NatsPublisher;
  readonly #prefix: string;

  constructor(options: NatsChannelOptions) {
    this.name = checkChannelName(options?.name, 'alerts.channels[].name');
    const path = `alerts.channels.${this.name}`;
    if (typeof options.connection?.publish !== 'function') {
      throw configError(`${path}.connection`, 'must be a NATS connection (publish)');
    }
    this.#nc = options.connection;
    this.#prefix = options.subjectPrefix ?? 'bulwark.alerts';
    if (typeof this.#prefix !== 'string' || !SUBJECT.test(this.#prefix)) {
      throw configError(`${path}.subjectPrefix`, 'must be a NATS subject of [A-Za-z0-9_-] tokens');
    }
  }

  /** The subject an alert goes to. */
  subject(alert: Alert): string {
    return `${this.#prefix}.${alert.severity}`;
  }

  async send(alert: Alert): Promise<void> {
    try {
      this.#nc.publish(this.subject(alert), Buffer.from(JSON.stringify(alert), 'utf8'));
      await this.#nc.flush?.();
    } catch (err) {
      throw deliveryError(this.name, 'the NATS connection refused the message', err);
    }
  }
}
