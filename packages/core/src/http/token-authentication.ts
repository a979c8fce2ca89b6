import type { AuthenticationFactor, PrincipalAuthentication } from '../identity/authentication';
import type { TokenClaims } from '../tokens/token-service';

/**
 * RFC 8176 authentication method reference values -> Bulwark factor names. Values not listed are
 * kept as they are (an app's policy may name them); `pwd` is the only first factor.
 */
const AMR_FACTORS: ReadonlyMap<string, AuthenticationFactor> = new Map<string, AuthenticationFactor>([
  ['pwd', 'password'],
  ['otp', 'totp'],
  ['sms', 'sms-otp'],
  ['hwk', 'webauthn'],
  ['swk', 'webauthn'],
]);
const FIRST_FACTORS: ReadonlySet<string> = new Set(['password']);
const AMR_RE = /^[A-Za-z0-9_.:-]{1,64}$/;
const AMR_MAX = 16;

/**
 * The authentication facts a verified token carries: OpenID Connect Core §2 / RFC 9068 §2.2.1
 * `auth_time` (seconds) and `amr`. Undefined when the token has neither. Without `auth_time` the
 * sign-in time is unknown and recorded as 0, so no "recent authentication" check passes on it
 * (the token's `iat` says when it was issued, not when the user authenticated).
 */
export function tokenAuthentication(claims: TokenClaims): PrincipalAuthentication | undefined {
  const amr = claims.amr;
  const authTime = claims.auth_time;
  const hasTime = typeof authTime === 'number' && Number.isSafeInteger(authTime) && authTime > 0;
  if (!Array.isArray(amr) && !hasTime) return undefined;
  const factors: AuthenticationFactor[] = [];
  if (Array.isArray(amr)) {
    for (const value of amr.slice(0, AMR_MAX)) {
      if (typeof value !== 'string' || !AMR_RE.test(value)) continue;
      const factor = AMR_FACTORS.get(value) ?? value;
      if (!factors.includes(factor)) factors.push(factor);
    }
  }
  const at = hasTime ? authTime * 1000 : 0;
  const secondFactor = factors.some((f) => !FIRST_FACTORS.has(f));
  return Object.freeze({
    method: 'bearer',
    at,
    factors: Object.freeze(factors),
    // The token says which factors were used at auth_time, not when each was: all count from auth_time.
    ...(secondFactor && hasTime ? { mfaAt: at } : {}),
  });
}
