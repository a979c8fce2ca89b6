import type { PrincipalAuthentication } from '../identity/authentication';
import { amrAuthentication } from '../identity/amr';
import type { TokenClaims } from '../tokens/token-service';

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
  const { factors, mfaAt } = amrAuthentication(amr, authTime);
  const at = hasTime ? authTime * 1000 : 0;
  return Object.freeze({
    method: 'bearer',
    at,
    factors: Object.freeze(factors),
    // The token says which factors were used at auth_time, not when each was: all count from auth_time.
    ...(mfaAt !== undefined ? { mfaAt } : {}),
  });
}
