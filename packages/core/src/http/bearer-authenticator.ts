import { configError } from '../util/options';
import { BulwarkTokenError, ErrorCodes } from '../errors';
import type { TokenClaims, VerifiedToken } from '../tokens/token-service';
import { BulwarkHttpError } from './bulwark-http-error';
import type { HttpPrincipal } from './http-principal';
import { tokenAuthentication } from './token-authentication';

/** What the authenticator needs from a token service: `TokenService` fits. */
export interface BearerTokenVerifier {
  verify(token: string): Promise<VerifiedToken>;
}

/** What the authenticator needs from a revocation service: `TokenRevocation` fits. */
export interface BearerRevocationCheck {
  /** Throws (ERR_TOKEN_REVOKED, ERR_TOKEN_REVOCATION_STORE...) unless the verified token still stands. */
  check(claims: TokenClaims): Promise<void>;
}

export interface BearerAuthenticatorOptions {
  tokens: BearerTokenVerifier;
  /**
   * Revocations (a `TokenRevocation`, shared by every instance through its store): asked on every
   * request, cached verification or not, so a token revoked on any instance is refused by all on
   * their next request. Costs one store round trip per request (a Map lookup in memory, one Redis
   * `MGET`, one indexed SQL query).
   */
  revocation?: BearerRevocationCheck;
  /** Claim holding the roles (array of strings, or a space-separated string). Default `roles`. */
  rolesClaim?: string;
  /** Builds the principal from verified claims. Default: `{ id: sub, roles: claims[rolesClaim], type: 'user' }`. */
  principal?: (claims: TokenClaims) => HttpPrincipal;
  /**
   * Verified tokens are remembered (keyed by the exact token string, so a changed byte is verified
   * afresh) for at most this many seconds and never past their `exp`. Checking a signature on
   * every request of a client that reuses its access token is the dominant cost of bearer auth.
   * 0 disables the cache. Default 30. A token the service would refuse only because of
   * `maxTokenAgeSec` can be accepted for up to this long after its age limit.
   */
  cacheTtlSec?: number;
  /** Most cached tokens (oldest evicted first). Default 10 000. */
  cacheMaxEntries?: number;
  /** Time source of the cache (align with the token service's clock in tests). Default Date.now. */
  now?: () => number;
  configPath?: string;
}

interface CacheEntry {
  principal: HttpPrincipal;
  claims: TokenClaims;
  expiresAt: number;
}

/** RFC 6750 §2.1: `Authorization: Bearer <b64token>`, scheme case-insensitive. */
const BEARER_RE = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

function defaultPrincipal(rolesClaim: string): (claims: TokenClaims) => HttpPrincipal {
  return (claims) => {
    const raw = claims[rolesClaim];
    const roles = Array.isArray(raw)
      ? raw.filter((r): r is string => typeof r === 'string')
      : typeof raw === 'string'
        ? raw.split(' ').filter((r) => r.length > 0)
        : [];
    const authentication = tokenAuthentication(claims);
    return Object.freeze({
      id: claims.sub as string,
      roles: Object.freeze(roles),
      type: 'user',
      claims,
      ...(authentication !== undefined ? { authentication } : {}),
    });
  };
}

function nonNegativeInt(value: unknown, fallback: number, path: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw configError(path, 'must be a non-negative integer');
  }
  return value;
}

/**
 * Turns an Authorization header into a principal: parses the bearer credential, verifies it with
 * the token service (algorithm allow-list, signature, exp/nbf/iss/aud), and maps claims to an
 * `HttpPrincipal`. Failures throw BulwarkTokenError (401 invalid_token) or, with no credential,
 * ERR_HTTP_AUTH_REQUIRED (401 without an error code, RFC 6750 §3.1).
 */
export class BearerAuthenticator {
  readonly #tokens: BearerTokenVerifier;
  readonly #toPrincipal: (claims: TokenClaims) => HttpPrincipal;
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #now: () => number;
  readonly #cache = new Map<string, CacheEntry>();
  readonly #revocation?: BearerRevocationCheck;

  constructor(options: BearerAuthenticatorOptions) {
    const path = options?.configPath ?? 'authenticate';
    if (typeof options?.tokens?.verify !== 'function') {
      throw configError(`${path}.tokens`, 'must be a TokenService');
    }
    const rolesClaim = options.rolesClaim ?? 'roles';
    if (typeof rolesClaim !== 'string' || rolesClaim.length === 0) {
      throw configError(`${path}.rolesClaim`, 'must be a claim name');
    }
    if (options.principal !== undefined && typeof options.principal !== 'function') {
      throw configError(`${path}.principal`, 'must be a function');
    }
    if (options.revocation !== undefined && typeof options.revocation?.check !== 'function') {
      throw configError(`${path}.revocation`, 'must be a TokenRevocation');
    }
    this.#tokens = options.tokens;
    this.#revocation = options.revocation;
    this.#toPrincipal = options.principal ?? defaultPrincipal(rolesClaim);
    this.#ttlMs = nonNegativeInt(options.cacheTtlSec, 30, `${path}.cacheTtlSec`) * 1000;
    this.#maxEntries = nonNegativeInt(options.cacheMaxEntries, 10_000, `${path}.cacheMaxEntries`);
    this.#now = options.now ?? Date.now;
  }

  /** The credential of an Authorization header; undefined when there is none; throws when malformed. */
  static credential(header: string | string[] | undefined): string | undefined {
    const value = Array.isArray(header) ? header[0] : header;
    if (value === undefined || value.length === 0) return undefined;
    const match = BEARER_RE.exec(value);
    if (match === null) {
      throw new BulwarkTokenError(
        ErrorCodes.TOKEN_MALFORMED,
        'The Authorization header is not a Bearer credential.',
      );
    }
    return match[1];
  }

  /**
   * The principal of a request. `optional`: a request without credentials yields undefined instead
   * of a 401 (a credential that is present but bad is always refused).
   */
  async authenticate(
    header: string | string[] | undefined,
    optional = false,
  ): Promise<HttpPrincipal | undefined> {
    const token = BearerAuthenticator.credential(header);
    if (token === undefined) {
      if (optional) return undefined;
      throw new BulwarkHttpError(ErrorCodes.HTTP_AUTH_REQUIRED, 401, 'This resource needs a bearer token.');
    }
    if (this.#ttlMs > 0) {
      const hit = this.#cache.get(token);
      if (hit !== undefined) {
        if (hit.expiresAt > this.#now()) {
          // The cache saves the signature check only: a revocation made anywhere counts at once.
          if (this.#revocation !== undefined) await this.#checkRevocation(token, hit.claims);
          return hit.principal;
        }
        this.#cache.delete(token);
      }
    }
    const verified = await this.#tokens.verify(token);
    const principal = this.#toPrincipal(verified.payload);
    if (typeof principal?.id !== 'string' || principal.id.length === 0 || !Array.isArray(principal.roles)) {
      throw new BulwarkTokenError(ErrorCodes.TOKEN_CLAIM_INVALID, 'The token does not identify a subject.');
    }
    if (this.#revocation !== undefined) await this.#revocation.check(verified.payload);
    if (this.#ttlMs > 0 && this.#maxEntries > 0) {
      const exp = typeof verified.payload.exp === 'number' ? verified.payload.exp * 1000 : Infinity;
      const expiresAt = Math.min(this.#now() + this.#ttlMs, exp);
      if (this.#cache.size >= this.#maxEntries) {
        // Map iteration is insertion order: drop the oldest entry.
        this.#cache.delete(this.#cache.keys().next().value as string);
      }
      this.#cache.set(token, { principal, claims: verified.payload, expiresAt });
    }
    return principal;
  }

  /** A revoked token leaves the cache as well, so it is verified afresh should it ever come back. */
  async #checkRevocation(token: string, claims: TokenClaims): Promise<void> {
    try {
      await this.#revocation!.check(claims);
    } catch (err) {
      this.#cache.delete(token);
      throw err;
    }
  }

  /** Forgets every cached verification (e.g. after rotating keys or revoking a subject). */
  clearCache(): void {
    this.#cache.clear();
  }
}
