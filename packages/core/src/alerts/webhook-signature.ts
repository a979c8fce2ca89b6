import { createHmac, timingSafeEqual } from 'node:crypto';
import { BulwarkAlertError, type BulwarkConfigError, ErrorCodes } from '../errors';
import { configError, intInRange } from '../util/options';

// Standard Webhooks (https://www.standardwebhooks.com, spec v1): the signed content is
// `${webhook-id}.${webhook-timestamp}.${body}`, HMAC-SHA256 under the base64 secret that follows the
// `whsec_` prefix; `webhook-signature` holds space-separated `v1,<base64>` signatures.

const SECRET_PREFIX = 'whsec_';
/** Spec: secrets are 24 to 64 bytes. */
const MIN_SECRET_BYTES = 24;
const MAX_SECRET_BYTES = 64;
const DEFAULT_TOLERANCE_SEC = 300;
/** The widest replay window `toleranceSec` may open. */
const MAX_TOLERANCE_SEC = 86_400;

/** Decodes a `whsec_<base64>` secret (the prefix is optional); throws on anything shorter than 24 bytes. */
export function webhookSecretBytes(secret: string | Uint8Array): Buffer {
  if (secret instanceof Uint8Array) return checkLength(Buffer.from(secret));
  if (typeof secret !== 'string') throw invalidSecret();
  const b64 = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) throw invalidSecret();
  return checkLength(Buffer.from(b64, 'base64'));
}

function checkLength(bytes: Buffer): Buffer {
  if (bytes.length < MIN_SECRET_BYTES || bytes.length > MAX_SECRET_BYTES) throw invalidSecret();
  return bytes;
}

function invalidSecret(): BulwarkConfigError {
  // Never echoes the value: it is a secret.
  return configError(
    'webhook secret',
    `must be 'whsec_' + base64 of ${MIN_SECRET_BYTES}-${MAX_SECRET_BYTES} random bytes`,
  );
}

/** `v1,<base64 HMAC-SHA256(id.timestamp.body)>` for the `webhook-signature` header. */
export function signWebhook(
  secret: string | Uint8Array,
  id: string,
  timestampSec: number,
  body: string,
): string {
  const mac = createHmac('sha256', webhookSecretBytes(secret))
    .update(`${id}.${timestampSec}.${body}`, 'utf8')
    .digest('base64');
  return `v1,${mac}`;
}

export interface VerifyWebhookOptions {
  /**
   * Accepted clock skew either way, in seconds (replay window): an integer from 0 to 86400 (one
   * day), else BulwarkConfigError ERR_CONFIG_INVALID. Default 300.
   */
  toleranceSec?: number;
  /** Current time (tests). */
  now?: () => Date;
}

/** The verified message: its id (de-duplicate on it: retries re-send the same id) and time. */
export interface VerifiedWebhook {
  id: string;
  timestamp: number;
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const value = headers[name] ?? headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

function refuse(reason: string): BulwarkAlertError {
  return new BulwarkAlertError(ErrorCodes.ALERT_WEBHOOK_INVALID, `webhook verification failed: ${reason}`, {
    reason,
  });
}

/**
 * Receiver helper: checks a Standard Webhooks request against the shared secret. Pass the RAW body
 * (the exact bytes received, not re-serialised JSON) and the request headers (lower-case names, as
 * Node gives them). Throws BulwarkAlertError ERR_ALERT_WEBHOOK_INVALID (missing header, timestamp
 * outside the tolerance, or no matching `v1` signature); comparisons are constant-time.
 */
export function verifyWebhook(
  secret: string | Uint8Array,
  body: string | Buffer,
  headers: Record<string, string | string[] | undefined>,
  options: VerifyWebhookOptions = {},
): VerifiedWebhook {
  const key = webhookSecretBytes(secret);
  const id = header(headers, 'webhook-id');
  const ts = header(headers, 'webhook-timestamp');
  const signatures = header(headers, 'webhook-signature');
  if (id === undefined || id === '' || ts === undefined || signatures === undefined) {
    throw refuse('missing-headers');
  }
  if (!/^\d{1,12}$/.test(ts)) throw refuse('bad-timestamp');
  const timestamp = Number(ts);
  const now = Math.floor((options.now?.() ?? new Date()).getTime() / 1000);
  // NaN or Infinity would make every timestamp "within tolerance" and disable replay protection.
  const tolerance = intInRange(
    options.toleranceSec,
    'verifyWebhook.toleranceSec',
    0,
    MAX_TOLERANCE_SEC,
    DEFAULT_TOLERANCE_SEC,
  );
  if (Math.abs(now - timestamp) > tolerance) throw refuse('timestamp-out-of-tolerance');
  const expected = createHmac('sha256', key)
    .update(`${id}.${ts}.`, 'utf8')
    .update(typeof body === 'string' ? Buffer.from(body, 'utf8') : body)
    .digest();
  let match = false;
  for (const candidate of signatures.split(' ')) {
    const comma = candidate.indexOf(',');
    if (comma < 0 || candidate.slice(0, comma) !== 'v1') continue;
    const given = Buffer.from(candidate.slice(comma + 1), 'base64');
    // Every candidate is compared (no early exit), each in constant time.
    if (given.length === expected.length && timingSafeEqual(given, expected)) match = true;
  }
  if (!match) throw refuse('signature-mismatch');
  return { id, timestamp };
}
