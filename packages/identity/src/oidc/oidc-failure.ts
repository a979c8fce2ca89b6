import { BulwarkIdentityError, ErrorCodes } from '@bulwark/core';

/**
 * Why an OIDC sign-in was refused (`details.reason` of ERR_SIGNIN_FAILED, and the `reason` of the
 * `auth.login` failure event). The response body says only "Sign-in failed.".
 */
export type OidcFailureReason =
  | 'missing_transaction'
  | 'unknown_transaction'
  | 'state_mismatch'
  | 'issuer_mismatch'
  | 'provider_error'
  | 'code_rejected'
  | 'refresh_rejected'
  | 'invalid_id_token'
  | 'nonce_mismatch'
  | 'audience_mismatch'
  | 'bad_signature'
  | 'algorithm_not_allowed'
  | 'token_expired'
  | 'userinfo_mismatch'
  | 'invalid_response'
  | 'provider_unavailable'
  | 'invalid_logout_token'
  | 'replayed_logout_token';

const MESSAGES: Readonly<Record<OidcFailureReason, string>> = {
  missing_transaction: 'the callback came without this browser’s login cookie; start the sign-in again',
  unknown_transaction: 'the login transaction is unknown, already used or expired; start the sign-in again',
  state_mismatch: 'the state parameter does not match this browser’s login',
  issuer_mismatch: 'the response names another issuer than the one the login was sent to',
  provider_error: 'the identity provider refused the sign-in',
  code_rejected: 'the identity provider refused the authorization code',
  refresh_rejected: 'the identity provider refused the refresh token; sign in again',
  invalid_id_token: 'the ID token is not valid',
  nonce_mismatch: 'the ID token was not issued for this login (nonce)',
  audience_mismatch: 'the ID token was issued to another client',
  bad_signature: 'the ID token signature does not verify with the provider’s keys',
  algorithm_not_allowed: 'the token is signed with an algorithm that is not allowed',
  token_expired: 'the ID token is expired',
  userinfo_mismatch: 'the userinfo response is for another subject',
  invalid_response: 'the identity provider’s response is not valid',
  provider_unavailable: 'the identity provider (or the login transaction store) could not be reached',
  invalid_logout_token: 'the logout token is not valid',
  replayed_logout_token: 'the logout token was already used',
};

/**
 * ERR_SIGNIN_FAILED (ERR_SIGNIN_UNAVAILABLE, 503, for `provider_unavailable`) with `details.reason`, the provider name and, for a library error, its code
 * (`details.libraryCode`). The library error itself is not kept as `cause`: its message and
 * fields can quote claims (personal data) that must not reach logs.
 */
export function oidcFailure(
  reason: OidcFailureReason,
  provider: string,
  cause?: unknown,
): BulwarkIdentityError {
  const code = (cause as { code?: unknown } | undefined)?.code;
  // A provider (or store) that does not answer is not the user's failure: 503, retry later.
  return new BulwarkIdentityError(
    reason === 'provider_unavailable' ? ErrorCodes.SIGNIN_UNAVAILABLE : ErrorCodes.SIGNIN_FAILED,
    `OpenID Connect sign-in failed: ${MESSAGES[reason]}.`,
    {
      reason,
      provider,
      ...(typeof code === 'string' && /^[A-Z0-9_]{1,64}$/.test(code) ? { libraryCode: code } : {}),
    },
  );
}

const CLAIM_REASONS: Readonly<Record<string, OidcFailureReason>> = {
  iss: 'issuer_mismatch',
  aud: 'audience_mismatch',
  azp: 'audience_mismatch',
  nonce: 'nonce_mismatch',
  exp: 'token_expired',
  state: 'state_mismatch',
};

interface LibraryError {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  cause?: unknown;
}

function asError(value: unknown): LibraryError {
  return typeof value === 'object' && value !== null ? (value as LibraryError) : {};
}

/**
 * The failure reason of an error thrown by openid-client / oauth4webapi while completing a callback.
 * openid-client wraps oauth4webapi's error (`cause`), whose own `cause` names the claim, header or
 * parameter that failed; these are read, and the error itself is then dropped (it quotes claims).
 */
export function oidcFailureReason(error: unknown): OidcFailureReason {
  const e = asError(error);
  const name = typeof e.name === 'string' ? e.name : '';
  const code = typeof e.code === 'string' ? e.code : '';
  const inner = asError(e.cause);
  const message = typeof inner.message === 'string' ? inner.message : '';
  const detail = asError(inner.cause) as Record<string, unknown>;
  if (name === 'AuthorizationResponseError') return 'provider_error';
  if (name === 'ResponseBodyError') return 'code_rejected';
  if (code === 'OAUTH_TIMEOUT' || name === 'AbortError' || name === 'TimeoutError')
    return 'provider_unavailable';
  if (name === 'TypeError' && code === '') return 'provider_unavailable';
  if (code === 'OAUTH_JWT_TIMESTAMP_CHECK_FAILED') return 'token_expired';
  const claim = typeof detail.claim === 'string' ? detail.claim : '';
  if (Object.hasOwn(CLAIM_REASONS, claim)) return CLAIM_REASONS[claim]!;
  if (typeof detail.header === 'object' && /"alg"/.test(message)) return 'algorithm_not_allowed';
  if (/signature verification failed/i.test(message)) return 'bad_signature';
  if (/"iss" \(issuer\) response parameter/.test(message)) return 'issuer_mismatch';
  if (/"state"/.test(message)) return 'state_mismatch';
  if (code.startsWith('OAUTH_JWT') || code.startsWith('OAUTH_JSON_ATTRIBUTE')) return 'invalid_id_token';
  return 'invalid_response';
}
