import { randomUUID } from 'node:crypto';

/** The request-id header echoed on every response (and read, as a client's own id, from requests). */
export const REQUEST_ID_HEADER = 'x-request-id';

/** Longest client-supplied request id kept. */
const CLIENT_ID_MAX = 128;

/**
 * A fresh request id. The id written into audit entries, logs, problem bodies and X-Request-Id is
 * always minted by the server: a client able to choose it could make its requests collide with, or
 * impersonate, other entries of the trail.
 */
export function newRequestId(): string {
  return randomUUID();
}

/**
 * The X-Request-Id a client (or a proxy in front of the app) sent, kept for correlation in its own
 * field (`details.clientRequestId` of the audit event), never as the request id. Only a short,
 * inert token is kept: the first value, clipped to 128 characters, every character outside
 * `A-Z a-z 0-9 . _ : -` replaced by `_` (no spaces, quotes or control characters that could forge
 * log lines). `undefined` when absent or empty.
 */
export function clientRequestIdFrom(header: string | readonly string[] | undefined): string | undefined {
  const value = typeof header === 'string' ? header : header?.[0];
  if (value === undefined) return undefined;
  const clipped = value
    .trim()
    .slice(0, CLIENT_ID_MAX)
    .replace(/[^A-Za-z0-9._:-]/g, '_');
  return clipped.length > 0 ? clipped : undefined;
}

/**
 * @deprecated Since issue 12 a client's X-Request-Id is never adopted: this ignores `header` and
 * returns `newRequestId()`. Use `newRequestId()`, and `clientRequestIdFrom(header)` to keep the
 * client's id for correlation.
 */
export function requestIdFrom(_header?: string | readonly string[]): string {
  return newRequestId();
}
