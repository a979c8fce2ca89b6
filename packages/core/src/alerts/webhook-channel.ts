import { randomUUID } from 'node:crypto';
import { configError, nonEmptyString } from '../util/options';
import { alertTitle, type Alert, type AlertChannel } from './alert';
import { checkChannelName } from './channel-name';
import { deliveryError } from './delivery-error';
import { signWebhook, webhookSecretBytes } from './webhook-signature';

/** Body shape: Standard Webhooks JSON (`{ type, timestamp, data }`) or a Slack incoming-webhook body. */
export type WebhookFormat = 'standard' | 'slack';

export interface WebhookChannelOptions {
  name: string;
  /** Receiver URL (https; `allowInsecureHttp` for a local receiver). Treated as a secret (Slack URLs carry a token). */
  url: string;
  /** `whsec_<base64>`: signs every request per Standard Webhooks. Required for `standard`, optional for `slack`. */
  secret?: string;
  /** Default `standard`. */
  format?: WebhookFormat;
  /** Per-request timeout. Default 10 000 ms. */
  timeoutMs?: number;
  /** Allow `http:` URLs (a receiver on the same host or in tests). Default false. */
  allowInsecureHttp?: boolean;
  /** Clock for the `webhook-timestamp` header. */
  clock?: () => Date;
}

/**
 * Posts alerts to an HTTP receiver. Each request carries `webhook-id` (the alert id: receivers
 * de-duplicate retries on it), `webhook-timestamp` and `webhook-signature` (`v1,<HMAC-SHA256>`);
 * receivers check them with `verifyWebhook`. Redirects are refused (a signed alert is never sent
 * on to another host) and any non-2xx answer is a failure, retried by the router.
 */
export class WebhookChannel implements AlertChannel {
  readonly name: string;
  readonly kind: 'webhook' | 'slack';
  readonly #url: URL;
  readonly #secret?: Buffer;
  readonly #format: WebhookFormat;
  readonly #timeoutMs: number;
  readonly #clock: () => Date;

  constructor(options: WebhookChannelOptions) {
    const path = `alerts.channels.${String(options?.name)}`;
    this.name = checkChannelName(options?.name, 'alerts.channels[].name');
    const url = nonEmptyString(options.url, `${path}.url`, 2048);
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw configError(`${path}.url`, 'must be an absolute URL');
    }
    if (
      parsed.protocol !== 'https:' &&
      !(parsed.protocol === 'http:' && options.allowInsecureHttp === true)
    ) {
      throw configError(
        `${path}.url`,
        'must be https (set allowInsecureHttp: true for a local http receiver)',
      );
    }
    this.#url = parsed;
    this.#format = options.format ?? 'standard';
    if (this.#format !== 'standard' && this.#format !== 'slack') {
      throw configError(`${path}.format`, "must be 'standard' or 'slack'");
    }
    this.kind = this.#format === 'slack' ? 'slack' : 'webhook';
    if (options.secret !== undefined) this.#secret = webhookSecretBytes(options.secret);
    else if (this.#format === 'standard')
      throw configError(`${path}.secret`, "is required (a 'whsec_' secret)");
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    if (!Number.isSafeInteger(this.#timeoutMs) || this.#timeoutMs < 1) {
      throw configError(`${path}.timeoutMs`, 'must be a positive integer');
    }
    this.#clock = options.clock ?? (() => new Date());
  }

  /** The body as sent (exposed for receivers' tests and docs). */
  body(alert: Alert): string {
    if (this.#format === 'slack') {
      return JSON.stringify({
        text: alertTitle(alert),
        blocks: [
          { type: 'section', text: { type: 'mrkdwn', text: `*${alertTitle(alert)}*` } },
          {
            type: 'context',
            elements: [
              {
                type: 'mrkdwn',
                text: `rule \`${alert.rule}\` · ${alert.category} · ${alert.at} · ${alert.id}`,
              },
            ],
          },
        ],
      });
    }
    return JSON.stringify({ type: `bulwark.alert.${alert.category}`, timestamp: alert.at, data: alert });
  }

  async send(alert: Alert): Promise<void> {
    const body = this.body(alert);
    const timestamp = Math.floor(this.#clock().getTime() / 1000);
    const id = alert.id || `msg_${randomUUID()}`;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.#secret !== undefined) {
      headers['webhook-id'] = id;
      headers['webhook-timestamp'] = String(timestamp);
      headers['webhook-signature'] = signWebhook(this.#secret, id, timestamp, body);
    }
    let res: Response;
    try {
      res = await fetch(this.#url, {
        method: 'POST',
        headers,
        body,
        redirect: 'error',
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (err) {
      throw deliveryError(this.name, 'receiver unreachable', err);
    }
    // The body is drained either way so the connection can be reused.
    await res.arrayBuffer().catch(() => undefined);
    if (res.status < 200 || res.status > 299) {
      throw deliveryError(this.name, `receiver answered ${res.status}`, undefined, { status: res.status });
    }
  }
}
