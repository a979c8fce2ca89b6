import { randomUUID } from 'node:crypto';

/** The request-id header read from clients / proxies and echoed on every response. */
export const REQUEST_ID_HEADER = 'x-request-id';

// A client-chosen id lands in audit entries and logs, so only a short, inert token is kept
// (no spaces, quotes or control characters that could forge log lines); anything else is replaced.
const SAFE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The incoming request id when it is safe to reuse, otherwise a fresh random UUID. */
export function requestIdFrom(header: string | string[] | undefined): string {
  const value = Array.isArray(header) ? header[0] : header;
  return value !== undefined && SAFE_ID.test(value) ? value : randomUUID();
}
