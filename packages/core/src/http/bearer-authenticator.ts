import { configError } from '../util/options';
import { BulwarkError, BulwarkTokenError, ErrorCodes } from '../errors';
import type { TokenClaims, VerifiedToken } from '../tokens/token-service';
import { BulwarkHttpError } from './bulwark-http-error';
import type { HttpPrincipal } from './http-principal';
import { tokenAuthentication } from './token-authentication';

/** What the authenticator needs from a token service: `TokenService` fits. */
export interface BearerTokenVerifier {
  verify(token: string): Promise<VerifiedToken>;
  /**
   * Optional: the verified token, synchronously, when the verifier is sure it is valid (what
   * `verify()` would return for it), else undefined ("not sure", then `verify()` decides); never
   * throws. `TokenService.tryVerifySync` fits. Lets `immediatePrincipal` answer without a promise.
   */
  tryVerifySync?(token: string): VerifiedToken | undefined;
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
  /**
   * Authorization schemes whose credential is a token for `tokens` (compared case-insensitively,
   * RFC 9110 §11.1). Default `['Bearer']`; an app whose clients send `Authorization: Token <jwt>`
   * adopts Bulwark with `['Bearer', 'Token']`. Names are RFC 9110 tokens (letters, digits and
   * `!#$%&'*+.^_\`|~-`, at most 32), each at most once. The `WWW-Authenticate` challenge names
   * the first one.
   */
  schemes?: readonly string[];
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

/** RFC 9110 §11.4: `credentials = auth-scheme [ 1*SP ( token68 / #auth-param ) ]`. */
const CREDENTIALS_RE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+)(?: +(.*))?$/;
/** RFC 6750 §2.1 b64token (token68 of RFC 9110 §11.2), trailing spaces tolerated. */
const TOKEN68_RE = /^([A-Za-z0-9\-._~+/]+=*) *$/;
/**
 * The two above in one pass, for the common header (`<scheme> <token68>`): what it matches, they
 * match alike (scheme, then the token68 after the spaces). Anything else takes the two-step parse.
 */
const SCHEME_TOKEN68_RE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) +([A-Za-z0-9\-._~+/]+=*) *$/;
const SCHEME_RE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,32}$/;
const DEFAULT_SCHEMES: readonly string[] = Object.freeze(['Bearer']);

/**
 * What an Authorization header holds for an authenticator accepting `schemes` (lower-cased):
 * nothing, a credential of another scheme (`Basic`, or the app's own), a credential of an
 * accepted scheme that is not a token68 (`Bearer a b`, `Bearer` alone), or the token.
 */
type ParsedCredential =
  { kind: 'none' } | { kind: 'other' } | { kind: 'malformed' } | { kind: 'token'; token: string };

function parseCredential(
  header: string | string[] | undefined,
  schemes: ReadonlySet<string>,
): ParsedCredential {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || value.length === 0) return { kind: 'none' };
  const common = SCHEME_TOKEN68_RE.exec(value);
  if (common !== null) {
    return schemes.has(common[1]!.toLowerCase()) ? { kind: 'token', token: common[2]! } : { kind: 'other' };
  }
  const match = CREDENTIALS_RE.exec(value);
  if (match === null) return { kind: 'other' };
  if (!schemes.has(match[1]!.toLowerCase())) return { kind: 'other' };
  const token = match[2] === undefined ? null : TOKEN68_RE.exec(match[2]);
  return token === null ? { kind: 'malformed' } : { kind: 'token', token: token[1]! };
}

function malformedCredential(): BulwarkHttpError {
  return new BulwarkHttpError(
    ErrorCodes.HTTP_AUTH_MALFORMED,
    400,
    'The Authorization header is not a valid token credential.',
  );
}

function authRequired(): BulwarkHttpError {
  return new BulwarkHttpError(ErrorCodes.HTTP_AUTH_REQUIRED, 401, 'This resource needs a bearer token.');
}

/** The validated `schemes` option: RFC 9110 tokens, no duplicates (case-insensitive), at least one. */
function schemeList(value: unknown, path: string): readonly string[] {
  if (value === undefined) return DEFAULT_SCHEMES;
  if (
    !Array.isArray(value) ||
    value.length === 0 ||
    !value.every((v) => typeof v === 'string' && SCHEME_RE.test(v))
  ) {
    throw configError(path, 'must be a non-empty list of auth scheme names (RFC 9110 tokens)');
  }
  const lower = value.map((v: string) => v.toLowerCase());
  if (new Set(lower).size !== lower.length) throw configError(path, 'must not repeat a scheme');
  return Object.freeze([...(value as string[])]);
}

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

/** A principal the authenticator hands out: a non-empty id and a roles array. */
function validPrincipal(principal: HttpPrincipal | undefined): boolean {
  return typeof principal?.id === 'string' && principal.id.length > 0 && Array.isArray(principal.roles);
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
 * `HttpPrincipal`. Failures throw BulwarkTokenError (401 invalid_token); with no credential of an
 * accepted scheme (none, or `Basic` / another scheme), ERR_HTTP_AUTH_REQUIRED (401 without an
 * error code, RFC 6750 §3.1); with a credential of an accepted scheme that is not a token68,
 * ERR_HTTP_AUTH_MALFORMED (400 invalid_request).
 */
export class BearerAuthenticator {
  readonly #tokens: BearerTokenVerifier;
  /** The verifier has `tryVerifySync` (read at construction; called as a method, like `verify`). */
  readonly #hasVerifySync: boolean;
  readonly #toPrincipal: (claims: TokenClaims) => HttpPrincipal;
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #now: () => number;
  readonly #cache = new Map<string, CacheEntry>();
  readonly #revocation?: BearerRevocationCheck;
  readonly #schemes: ReadonlySet<string>;
  /** The accepted schemes as configured; the first is the one the `WWW-Authenticate` challenge names. */
  readonly schemes: readonly string[];

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
    const verifySync: unknown = options.tokens.tryVerifySync;
    if (verifySync !== undefined && typeof verifySync !== 'function') {
      throw configError(`${path}.tokens.tryVerifySync`, 'must be a function when given');
    }
    if (options.revocation !== undefined && typeof options.revocation?.check !== 'function') {
      throw configError(`${path}.revocation`, 'must be a TokenRevocation');
    }
    this.schemes = schemeList(options.schemes, `${path}.schemes`);
    this.#schemes = new Set(this.schemes.map((s) => s.toLowerCase()));
    this.#tokens = options.tokens;
    this.#hasVerifySync = verifySync !== undefined;
    this.#revocation = options.revocation;
    this.#toPrincipal = options.principal ?? defaultPrincipal(rolesClaim);
    this.#ttlMs = nonNegativeInt(options.cacheTtlSec, 30, `${path}.cacheTtlSec`) * 1000;
    this.#maxEntries = nonNegativeInt(options.cacheMaxEntries, 10_000, `${path}.cacheMaxEntries`);
    this.#now = options.now ?? Date.now;
  }

  /**
   * The authentication step's settings, shared by the Express, Koa and Fastify `authenticate()`:
   * the authenticator, `optional` (default false), `noStore` (default true; must be a boolean) and
   * the challenge scheme.
   */
  static forStep(options: BearerAuthenticatorOptions & { optional?: boolean; noStore?: boolean }): {
    authenticator: BearerAuthenticator;
    optional: boolean;
    noStore: boolean;
    scheme: string;
  } {
    const authenticator = new BearerAuthenticator(options);
    if (options.noStore !== undefined && typeof options.noStore !== 'boolean') {
      throw configError('authenticate.noStore', 'must be a boolean');
    }
    return {
      authenticator,
      optional: options.optional === true,
      noStore: options.noStore !== false,
      scheme: authenticator.challengeScheme,
    };
  }

  /** The scheme the `WWW-Authenticate` challenge names (the first of `schemes`). */
  get challengeScheme(): string {
    return this.schemes[0]!;
  }

  /**
   * The token of an Authorization header for `schemes` (default Bearer); undefined when there is
   * no credential of those schemes (none, or another scheme's); throws ERR_HTTP_AUTH_MALFORMED
   * when a credential of those schemes is not a token68.
   */
  static credential(
    header: string | string[] | undefined,
    schemes: readonly string[] = DEFAULT_SCHEMES,
  ): string | undefined {
    const parsed = parseCredential(header, new Set(schemes.map((s) => s.toLowerCase())));
    if (parsed.kind === 'malformed') throw malformedCredential();
    return parsed.kind === 'token' ? parsed.token : undefined;
  }

  /**
   * The principal of a header whose token this authenticator verified recently and still holds in
   * its cache (within `cacheTtlSec`, never past `exp`), synchronously; undefined in every other
   * case (no or another scheme's credential, a malformed one, a miss, an expired entry, or a
   * revocation check configured, which must run on every request): the caller then awaits
   * `authenticate()`, which decides exactly as before. Lets an adapter skip a promise per request.
   */
  cachedPrincipal(header: string | string[] | undefined): HttpPrincipal | undefined {
    if (this.#revocation !== undefined || this.#cache.size === 0) return undefined;
    const parsed = parseCredential(header, this.#schemes);
    return parsed.kind === 'token' ? this.#fresh(parsed.token)?.principal : undefined;
  }

  /**
   * The principal of a header whose token is answered without a promise: held in the cache (as
   * `cachedPrincipal`), or plainly valid for the token service's synchronous check
   * (`tryVerifySync`: a single static key, a plain header, claims that plainly pass), then cached
   * as `authenticate()` would. Undefined in every other case, including every token that would be
   * refused and whenever a revocation check is configured (it must run on every request): the
   * caller then awaits `authenticate()`, which decides exactly as before. For a principal it
   * returns, `authenticate()` would have returned the same one, `optional` or not.
   */
  immediatePrincipal(header: string | string[] | undefined): HttpPrincipal | undefined {
    if (this.#revocation !== undefined || header === undefined) return undefined;
    const parsed = parseCredential(header, this.#schemes);
    if (parsed.kind !== 'token') return undefined;
    const token = parsed.token;
    const hit = this.#fresh(token);
    if (hit !== undefined) return hit.principal;
    if (!this.#hasVerifySync) return undefined;
    let verified: VerifiedToken | undefined;
    let principal: HttpPrincipal;
    try {
      verified = this.#tokens.tryVerifySync!(token);
      if (verified === undefined) return undefined;
      // A `principal` option that throws: `authenticate()` runs it again and reports the error.
      principal = this.#toPrincipal(verified.payload);
    } catch {
      return undefined;
    }
    if (!validPrincipal(principal)) return undefined;
    this.#remember(token, principal, verified.payload);
    return principal;
  }

  /**
   * The principal of a request. `optional` (a public route): a request without a token of an
   * accepted scheme yields undefined instead of a 401, and so does an Authorization header the
   * route does not need (another scheme's, or a malformed one); a token of an accepted scheme
   * that fails verification is still refused, so a client is never served the anonymous view
   * while it believes it is signed in.
   */
  async authenticate(
    header: string | string[] | undefined,
    optional = false,
  ): Promise<HttpPrincipal | undefined> {
    const parsed = parseCredential(header, this.#schemes);
    if (parsed.kind !== 'token') {
      if (optional) return undefined;
      if (parsed.kind === 'malformed') throw malformedCredential();
      throw authRequired();
    }
    const token = parsed.token;
    const hit = this.#fresh(token);
    if (hit !== undefined) {
      // The cache saves the signature check only: a revocation made anywhere counts at once.
      if (this.#revocation !== undefined) await this.#checkRevocation(token, hit.claims);
      return hit.principal;
    }
    let verified: VerifiedToken;
    try {
      verified = await this.#tokens.verify(token);
    } catch (err) {
      // A hand-made verifier (a kid-routing wrapper around two TokenServices) may let a library's
      // own error through (jose's decodeProtectedHeader on a non-JWT): fail closed as a refused
      // token (401), never a 500 an anonymous client can trigger at will.
      if (err instanceof BulwarkError) throw err;
      throw new BulwarkTokenError(ErrorCodes.TOKEN_MALFORMED, 'The token verifier refused the token.');
    }
    const principal = this.#toPrincipal(verified.payload);
    if (!validPrincipal(principal)) {
      throw new BulwarkTokenError(ErrorCodes.TOKEN_CLAIM_INVALID, 'The token does not identify a subject.');
    }
    if (this.#revocation !== undefined) await this.#revocation.check(verified.payload);
    this.#remember(token, principal, verified.payload);
    return principal;
  }

  /** The cache entry of `token` while it is live; an expired one is dropped. */
  #fresh(token: string): CacheEntry | undefined {
    if (this.#cache.size === 0) return undefined;
    const hit = this.#cache.get(token);
    if (hit === undefined || hit.expiresAt > this.#now()) return hit;
    this.#cache.delete(token);
    return undefined;
  }

  /** Caches a verified token's principal (when the cache is on), within `cacheTtlSec` and never past `exp`. */
  #remember(token: string, principal: HttpPrincipal, claims: TokenClaims): void {
    if (this.#ttlMs === 0 || this.#maxEntries === 0) return;
    const exp = typeof claims.exp === 'number' ? claims.exp * 1000 : Infinity;
    const expiresAt = Math.min(this.#now() + this.#ttlMs, exp);
    if (this.#cache.size >= this.#maxEntries) {
      // Map iteration is insertion order: drop the oldest entry.
      this.#cache.delete(this.#cache.keys().next().value as string);
    }
    this.#cache.set(token, { principal, claims, expiresAt });
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
