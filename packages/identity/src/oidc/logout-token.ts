import type { JWTVerifyGetKey } from 'jose';
import { oidcFailure } from './oidc-failure';

type Jose = typeof import('jose');
let joseModule: Jose | undefined;
/** jose 6 is ESM-only: loaded through require(esm) by the first back-channel logout. */
export function jose(): Jose {
  return (joseModule ??= require('jose') as Jose);
}

/** OpenID Connect Back-Channel Logout 1.0 §2.4: the event a logout token must carry. */
export const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

/** What a valid logout token tells. */
export interface LogoutTokenClaims {
  readonly jti: string;
  readonly sub?: string;
  readonly sid?: string;
}

/** Logout tokens older than this (by `iat`) are refused; the replay window of `jti`s covers it. */
const MAX_AGE = '10m';

/**
 * Validates a logout token as Back-Channel Logout 1.0 §2.6 says: signature by the provider's keys
 * with the one allowed algorithm, `iss`, `aud`, `iat` (recent), `jti`, the logout event, `sub` or
 * `sid`, and no `nonce` (so an ID token can never pass for one). `typ`, when present, must be
 * `logout+jwt`. Throws ERR_SIGNIN_FAILED `invalid_logout_token`, telling nothing of which check.
 */
export async function verifyLogoutToken(
  token: string,
  options: { issuer: string; audience: string; algorithm: string; keys: JWTVerifyGetKey; provider: string },
): Promise<LogoutTokenClaims> {
  const invalid = (): Error => oidcFailure('invalid_logout_token', options.provider);
  if (token.length > 16_384) throw invalid();
  let payload: Record<string, unknown>;
  let typ: string | undefined;
  try {
    const result = await jose().jwtVerify(token, options.keys, {
      issuer: options.issuer,
      audience: options.audience,
      algorithms: [options.algorithm],
      requiredClaims: ['iat', 'jti'],
      maxTokenAge: MAX_AGE,
    });
    payload = result.payload;
    typ = result.protectedHeader.typ;
  } catch {
    throw invalid();
  }
  if (
    typ !== undefined &&
    typ.toLowerCase() !== 'logout+jwt' &&
    typ.toLowerCase() !== 'application/logout+jwt'
  ) {
    throw invalid();
  }
  const events = payload.events as Record<string, unknown> | undefined;
  const event = typeof events === 'object' && events !== null ? events[BACKCHANNEL_LOGOUT_EVENT] : undefined;
  if (typeof event !== 'object' || event === null || Array.isArray(event)) throw invalid();
  if (payload.nonce !== undefined) throw invalid();
  const sub = typeof payload.sub === 'string' && payload.sub !== '' ? payload.sub : undefined;
  const sid = typeof payload.sid === 'string' && payload.sid !== '' ? payload.sid : undefined;
  if (sub === undefined && sid === undefined) throw invalid();
  if (typeof payload.jti !== 'string' || payload.jti === '' || payload.jti.length > 256) throw invalid();
  return { jti: payload.jti, ...(sub !== undefined ? { sub } : {}), ...(sid !== undefined ? { sid } : {}) };
}
