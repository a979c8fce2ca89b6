import { configError } from '../util/options';

export interface CookieOptions {
  /** Default `/`. */
  path?: string;
  domain?: string;
  /** Default true. `__Host-` / `__Secure-` names require it (RFC 6265bis §4.1.3). */
  secure?: boolean;
  /** Default true: the token reaches the page through csrfToken(), not document.cookie. */
  httpOnly?: boolean;
  /** Default `Strict`. */
  sameSite?: 'Strict' | 'Lax' | 'None';
  /** Lifetime in seconds; default: a session cookie. */
  maxAgeSec?: number;
}

const NAME_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/; // RFC 9110 token
const VALUE_RE = /^[A-Za-z0-9._~-]*$/;

/** One cookie's value from a Cookie header, or undefined. No decoding: Bulwark's values are base64url. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (header === undefined || header.length === 0) return undefined;
  let start = 0;
  while (start < header.length) {
    let end = header.indexOf(';', start);
    if (end === -1) end = header.length;
    const eq = header.indexOf('=', start);
    if (eq !== -1 && eq < end && header.slice(start, eq).trim() === name) {
      return header.slice(eq + 1, end).trim();
    }
    start = end + 1;
  }
  return undefined;
}

/** Validates cookie options at start-up (names and values that need no quoting, prefix rules). */
export function checkCookieOptions(name: unknown, options: CookieOptions, path: string): void {
  const fail = (field: string, message: string): never => {
    throw configError(`${path}.${field}`, message);
  };
  if (typeof name !== 'string' || !NAME_RE.test(name)) fail('name', 'must be a cookie name (RFC 6265 token)');
  const n = name as string;
  if ((n.startsWith('__Host-') || n.startsWith('__Secure-')) && options.secure === false) {
    fail('secure', `must be true for a ${n.startsWith('__Host-') ? '__Host-' : '__Secure-'} cookie`);
  }
  if (n.startsWith('__Host-') && (options.domain !== undefined || (options.path ?? '/') !== '/')) {
    fail('path', 'must be / with no domain for a __Host- cookie');
  }
  if (options.sameSite !== undefined && !['Strict', 'Lax', 'None'].includes(options.sameSite)) {
    fail('sameSite', 'must be Strict, Lax or None');
  }
  if (options.sameSite === 'None' && options.secure === false)
    fail('secure', 'must be true with sameSite None');
  if (options.path !== undefined && !/^\/[\x21-\x3a\x3c-\x7e]*$/.test(options.path))
    fail('path', 'is not a path');
  if (options.domain !== undefined && !/^[A-Za-z0-9.-]+$/.test(options.domain))
    fail('domain', 'is not a domain');
  if (
    options.maxAgeSec !== undefined &&
    !(Number.isSafeInteger(options.maxAgeSec) && options.maxAgeSec > 0)
  ) {
    fail('maxAgeSec', 'must be a positive integer');
  }
}

/** A Set-Cookie header value with secure defaults (Secure, HttpOnly, SameSite=Strict, Path=/). */
export function serializeCookie(name: string, value: string, options: CookieOptions = {}): string {
  if (!VALUE_RE.test(value)) throw new TypeError('cookie value must be base64url');
  let out = `${name}=${value}; Path=${options.path ?? '/'}`;
  if (options.domain !== undefined) out += `; Domain=${options.domain}`;
  if (options.maxAgeSec !== undefined) out += `; Max-Age=${options.maxAgeSec}`;
  if (options.secure !== false) out += '; Secure';
  if (options.httpOnly !== false) out += '; HttpOnly';
  out += `; SameSite=${options.sameSite ?? 'Strict'}`;
  return out;
}
