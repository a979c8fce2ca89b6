import { BulwarkError, BulwarkTokenError, ErrorCodes } from '../errors';

/** Header values come from the attacker: only echo short, printable ones into error details. */
export function safeHeaderValue(value: unknown): string | undefined {
  return typeof value === 'string' && value.length <= 64 && /^[\x21-\x7e]+$/.test(value) ? value : undefined;
}

function tokenError(code: string, message: string, details?: Record<string, unknown>, cause?: unknown) {
  return new BulwarkTokenError(code, message, details, cause === undefined ? undefined : { cause });
}

/**
 * Maps a jose error (jose 6, `dist/types/util/errors.d.ts`) to a BulwarkTokenError. Messages are
 * Bulwark's own, never jose's, and claim errors drop jose's error as `cause` because it carries the
 * decoded payload (personal data) that must not reach logs.
 */
export function mapJoseError(error: unknown): BulwarkError {
  if (error instanceof BulwarkError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  const claim = safeHeaderValue((error as { claim?: unknown } | null)?.claim);
  const reason = safeHeaderValue((error as { reason?: unknown } | null)?.reason);
  switch (code) {
    case 'ERR_JWT_EXPIRED':
      // Also raised by jose for maxTokenAge ("iat" too far in the past).
      return tokenError(ErrorCodes.TOKEN_EXPIRED, 'Token has expired; obtain a new one.', { claim, reason });
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      if ((claim === 'nbf' || claim === 'iat') && reason === 'check_failed') {
        return tokenError(
          ErrorCodes.TOKEN_NOT_YET_VALID,
          `Token is not valid yet ("${claim}" is in the future).`,
          {
            claim,
            reason,
          },
        );
      }
      return tokenError(
        ErrorCodes.TOKEN_CLAIM_INVALID,
        `Token claim ${claim === undefined ? '' : `"${claim}" `}is ${reason === 'missing' ? 'missing' : 'invalid'}.`,
        { claim, reason },
      );
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return tokenError(ErrorCodes.TOKEN_ALGORITHM_NOT_ALLOWED, 'Token algorithm is not in the allow-list.');
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return tokenError(ErrorCodes.TOKEN_SIGNATURE_INVALID, 'Token signature is invalid.');
    case 'ERR_JWKS_NO_MATCHING_KEY':
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
      return tokenError(
        ErrorCodes.TOKEN_KEY_NOT_FOUND,
        code === 'ERR_JWKS_NO_MATCHING_KEY'
          ? 'No key in the JWKS matches the token (kid/alg).'
          : 'More than one key in the JWKS matches the token; keys need distinct "kid" values.',
      );
    case 'ERR_JWKS_TIMEOUT':
    case 'ERR_JWKS_INVALID':
      return tokenError(
        ErrorCodes.TOKEN_JWKS_UNAVAILABLE,
        'The JWKS could not be fetched or read.',
        undefined,
        error,
      );
    case 'ERR_JWS_INVALID':
    case 'ERR_JWT_INVALID':
    case 'ERR_JOSE_NOT_SUPPORTED': // e.g. an unrecognised "crit" header extension
      return tokenError(ErrorCodes.TOKEN_MALFORMED, 'Token is malformed.');
    default:
      // Fail closed: anything unexpected is a verification failure, never a pass.
      return tokenError(
        ErrorCodes.TOKEN_SIGNATURE_INVALID,
        'Token could not be verified.',
        undefined,
        error instanceof Error ? new Error(`${error.name}: ${error.message}`) : undefined,
      );
  }
}
