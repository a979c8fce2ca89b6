import { createHmac } from 'node:crypto';
import { BulwarkError, BulwarkTokenError } from '../../src/errors';

export const b64url = (value: unknown): string =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

/** A hand-built unsecured JWT (RFC 7519 §6): `{"alg":"none"}` header and an empty signature. */
export function unsecuredToken(payload: Record<string, unknown>, alg = 'none'): string {
  return `${b64url({ alg, typ: 'JWT' })}.${b64url(payload)}.`;
}

/** An HS* token signed with arbitrary bytes as the HMAC secret (e.g. a public key's PEM). */
export function hmacToken(
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  secret: string | Buffer,
): string {
  const input = `${b64url(header)}.${b64url(payload)}`;
  const hash = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' }[String(header.alg)] ?? 'sha256';
  return `${input}.${createHmac(hash, secret).update(input).digest('base64url')}`;
}

/**
 * Awaits a rejection and checks it is a BulwarkTokenError with `code`, whose message and details do
 * not contain the token (nor its payload or signature segments).
 */
export async function expectTokenError(
  promise: Promise<unknown>,
  code: string,
  token?: unknown,
): Promise<BulwarkTokenError> {
  let error: unknown;
  try {
    await promise;
  } catch (e) {
    error = e;
  }
  if (!(error instanceof BulwarkTokenError)) {
    throw new Error(
      `expected BulwarkTokenError ${code}, got ${error instanceof Error ? error.stack : String(error)}`,
    );
  }
  expect(error.code).toBe(code);
  if (typeof token === 'string' && token.length > 0) assertNoLeak(error, token);
  return error;
}

export function assertNoLeak(error: BulwarkError, token: string): void {
  const text = `${error.message} ${JSON.stringify(error.details ?? {})}`;
  // Very short inputs can coincide with ordinary message text ("a" in "malformed"); they prove nothing.
  if (token.length >= 16) expect(text.includes(token)).toBe(false);
  for (const segment of token.split('.').slice(1)) {
    if (segment.length >= 8) expect(text.includes(segment)).toBe(false);
  }
}

/** Replaces one character in the middle of a segment (avoids the final, partly-padding character). */
export function flipChar(segment: string): string {
  const i = Math.floor(segment.length / 2);
  const replacement = segment[i] === 'A' ? 'B' : 'A';
  return segment.slice(0, i) + replacement + segment.slice(i + 1);
}
