import { configError } from '../util/options';

/** The response headers the helpers touch (Node's ServerResponse fits; Express's res and Koa's ctx.res are one). */
export interface ResponseHeaders {
  getHeader(name: string): unknown;
  setHeader(name: string, value: string): unknown;
  readonly headersSent?: boolean;
}

/**
 * Marks a response to an authenticated request as not storable (RFC 9111 §5.2.2.5; ASVS 5.0
 * V14.3.2): no shared or browser cache keeps a copy of private data. Called when authentication
 * succeeds, before the handler runs, so a handler that sets its own Cache-Control (a private
 * `max-age` for a user's avatar) replaces it; one already set is left alone.
 */
export function markPrivateResponse(res: ResponseHeaders): void {
  if (res.headersSent === true || res.getHeader('cache-control') !== undefined) return;
  res.setHeader('Cache-Control', 'no-store');
}

/** What `Clear-Site-Data` asks the browser to drop (W3C Clear Site Data §3.1). */
export type ClearSiteDataType = 'cache' | 'cookies' | 'storage' | 'executionContexts' | '*';

const TYPES: readonly ClearSiteDataType[] = ['cache', 'cookies', 'storage', 'executionContexts', '*'];

/**
 * The `Clear-Site-Data` value for a logout response (ASVS 5.0 V14.3.1): by default
 * `"cache", "cookies", "storage"`, so the browser drops cached pages, cookies and web storage of
 * the origin when the user signs out. Browsers honour it on HTTPS only. Throws at start-up for an
 * unknown type.
 */
export function clearSiteDataValue(
  types: readonly ClearSiteDataType[] = ['cache', 'cookies', 'storage'],
  path = 'clearSiteData',
): string {
  if (!Array.isArray(types) || types.length === 0 || !types.every((t) => TYPES.includes(t))) {
    throw configError(path, `must be a non-empty array of ${TYPES.join(', ')}`);
  }
  return types.map((t) => `"${t}"`).join(', ');
}
