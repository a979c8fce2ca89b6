// NATS publish rules of NatsAuditSink: subjects, message-id inputs, and which errors are worth
// another attempt.

export const DEFAULT_SUBJECT = 'bulwark.audit.{category}';
export const CATEGORY_PLACEHOLDER = '{category}';
export const MAX_RETRY_DELAY_MS = 5000;
// eslint-disable-next-line no-control-regex
export const CONTROL_OR_SPACE = /[\s\x00-\x1f\x7f]/;
// eslint-disable-next-line no-control-regex
export const CONTROL = /[\x00-\x1f\x7f]/;

/**
 * nats.js error codes that another attempt cannot fix: the connection is gone or closing, the
 * message is malformed or too large, or the account may not publish there.
 */
export const PERMANENT_CODES: ReadonlySet<string> = new Set([
  'CONNECTION_CLOSED',
  'CONNECTION_DRAINING',
  'BAD_SUBJECT',
  'BAD_HEADER',
  'BAD_PAYLOAD',
  'BAD_JSON',
  'INVALID_OPTION',
  'INVALID_PAYLOAD',
  'MAX_PAYLOAD_EXCEEDED',
  'PERMISSIONS_VIOLATION',
  'AUTHORIZATION_VIOLATION',
  'AUTHENTICATION_EXPIRED',
  'BAD_AUTHENTICATION',
  'ACCOUNT_EXPIRED',
  'NOT_FUNC',
]);

/**
 * Whether a publish error is worth another attempt. JetStream API errors carry an HTTP-like code:
 * 4xx (wrong expected stream, bad request) are permanent, 5xx and 408 transient. Without one, a
 * timeout, "503 no responders" (no stream yet, or a stream leader election in progress) and a
 * disconnect are transient. Retrying is safe either way: the message id makes the stream drop a
 * copy whose first attempt was stored but whose PubAck was lost.
 */
export function isTransient(err: unknown): boolean {
  if (err === null || typeof err !== 'object') return true;
  const apiCode = (err as { api_error?: { code?: unknown } }).api_error?.code;
  if (typeof apiCode === 'number') return apiCode >= 500 || apiCode === 408;
  const code = (err as { code?: unknown }).code;
  return typeof code !== 'string' || !PERMANENT_CODES.has(code);
}

export function errorCode(err: unknown): string | undefined {
  if (err === null || typeof err !== 'object') return undefined;
  const apiCode = (err as { api_error?: { code?: unknown; err_code?: unknown } }).api_error;
  if (apiCode !== undefined && typeof apiCode.code === 'number') {
    return typeof apiCode.err_code === 'number'
      ? `${apiCode.code}/${apiCode.err_code}`
      : String(apiCode.code);
  }
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' || typeof code === 'number' ? String(code) : undefined;
}

/** NATS subject rules for publishing: non-empty tokens, no whitespace, no wildcards. */
export function subjectProblem(subject: unknown): string | undefined {
  if (typeof subject !== 'string' || subject === '') return 'must be a non-empty string';
  if (subject.length > 1024) return 'must be at most 1024 characters';
  if (CONTROL_OR_SPACE.test(subject)) return 'must not contain whitespace or control characters';
  if (/[*>]/.test(subject))
    return "must not contain the wildcards '*' or '>' (publish needs a concrete subject)";
  if (subject.split('.').some((t) => t === ''))
    return "must not have empty tokens (leading, trailing or double '.')";
  return undefined;
}

/** A category as subject levels: dots kept (hierarchy), other characters outside the audit category alphabet and empty levels become `_`. */
export function categoryTokens(category: unknown): string {
  const text = typeof category === 'string' && category !== '' ? category : '_';
  return text
    .replace(/[^A-Za-z0-9_.-]/g, '_')
    .split('.')
    .map((t) => (t === '' ? '_' : t))
    .join('.');
}

/** Errors that mean "the bus is away" for the spool: transient ones and a closed/draining connection. */
export function busAway(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return isTransient(err) || code === 'CONNECTION_CLOSED' || code === 'CONNECTION_DRAINING';
}
