import { BulwarkConfigError, ErrorCodes, type AuthenticationFactor } from '@bulwark/core';
import { checkCookieOptions, type BruteForceLimiter } from '@bulwark/core/http';
import { SignInMapper } from '../sign-in';
import type { OneTimeStore } from '../one-time-store';

/**
 * ID-token signature algorithms Bulwark accepts: asymmetric only. `none` and the HMAC family
 * (which would make the client secret a signing key) are refused at start-up.
 */
export const OIDC_ID_TOKEN_ALGORITHMS = Object.freeze([
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
] as const);

export type OidcIdTokenAlgorithm = (typeof OIDC_ID_TOKEN_ALGORITHMS)[number];

/** What the app's back-channel logout hook is told: end every session of this user / OP session. */
export interface OidcBackchannelLogout {
  readonly provider: string;
  readonly issuer: string;
  /** The `sub` of the logout token, when it has one. */
  readonly subject?: string;
  /** The OP session id (`sid`), when it has one: end the sessions whose sign-in carried it. */
  readonly sessionId?: string;
}

export interface OidcRelyingPartyOptions {
  /** Provider name in principals, audit events and evidence. Default `oidc`. */
  provider?: string;
  /** Issuer identifier (discovery reads `<issuer>/.well-known/openid-configuration`). */
  issuer: string;
  clientId: string;
  /** Confidential client: sent with HTTP Basic (`client_secret_basic`). Without it the client is public. */
  clientSecret?: string;
  /** The callback URL registered at the provider (absolute; the callback route's public URL). */
  redirectUri: string;
  /** Where the provider sends the browser after RP-initiated logout (registered at the provider). */
  postLogoutRedirectUri?: string;
  /** Scopes requested. Default `openid email profile`; `openid` is always included. */
  scopes?: readonly string[];
  /** The one algorithm ID and logout tokens must be signed with. Default `RS256`. */
  idTokenAlgorithm?: OidcIdTokenAlgorithm;
  /** ID-token claim holding the user's groups (mapped to roles by the SignInMapper). Default `groups`. */
  groupsClaim?: string;
  /** Also fetch the userinfo endpoint at sign-in and read claims (groups, email) from it. Default false. */
  userinfo?: boolean;
  /** Maps the identity to a principal (roles, provisioning, audit). Default: a mapper with no roles. */
  signIn?: SignInMapper;
  /** RFC 8176 `amr` values to factor names (merged over AMR_FACTORS). */
  amrFactors?: Readonly<Record<string, AuthenticationFactor>>;
  /**
   * Where login transactions (state, nonce, PKCE verifier) and seen logout-token ids are kept:
   * a RedisOneTimeStore when several instances serve the callback. Default: in process memory.
   */
  store?: OneTimeStore;
  /** How long a login may take from redirect to callback, seconds. Default 600. */
  transactionTtlSec?: number;
  /**
   * The cookie binding a login transaction to the browser (HttpOnly, SameSite=Lax so the
   * provider's redirect carries it). Default name `__Host-bulwark-oidc-<provider>`, Secure.
   */
  cookie?: { name?: string; secure?: boolean };
  /** Failed callbacks are counted per client IP here (a BruteForceGuard). */
  bruteForce?: BruteForceLimiter;
  /**
   * Back-channel logout: the provider says a user's session ended; end the app's sessions of it.
   * Without it the back-channel route answers 404 (the provider must not be told it worked).
   */
  onBackchannelLogout?: (logout: OidcBackchannelLogout) => Promise<void> | void;
  /** Timeout of each request to the provider, seconds. Default 10. */
  timeoutSec?: number;
  /**
   * Allows an `http:` issuer and endpoints. Only for a provider on the same host in development and
   * tests: tokens and codes then travel in clear text.
   */
  allowInsecureHttp?: boolean;
}

/** Validated options with their defaults. */
export interface ResolvedOidcOptions {
  readonly provider: string;
  readonly issuer: URL;
  /** The issuer exactly as configured (what evidence reports). */
  readonly issuerId: string;
  readonly clientId: string;
  readonly clientSecret: string | undefined;
  readonly redirectUri: URL;
  readonly postLogoutRedirectUri: URL | undefined;
  readonly scope: string;
  readonly algorithm: OidcIdTokenAlgorithm;
  readonly groupsClaim: string;
  readonly userinfo: boolean;
  readonly mapper: SignInMapper;
  readonly amrFactors: Readonly<Record<string, AuthenticationFactor>> | undefined;
  readonly store: OneTimeStore | undefined;
  readonly transactionTtlSec: number;
  readonly cookieName: string;
  readonly cookieSecure: boolean;
  readonly bruteForce: BruteForceLimiter | undefined;
  readonly onBackchannelLogout: OidcRelyingPartyOptions['onBackchannelLogout'];
  readonly timeoutSec: number;
  readonly allowInsecureHttp: boolean;
}

function fail(path: string, message: string): never {
  throw new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, `oidc.${path} ${message}`, {
    path: `oidc.${path}`,
  });
}

function url(value: unknown, path: string, insecure: boolean): URL {
  let parsed: URL;
  try {
    parsed = new URL(String(value));
  } catch {
    return fail(path, 'must be an absolute URL');
  }
  if (typeof value !== 'string') fail(path, 'must be an absolute URL');
  if (parsed.protocol !== 'https:' && !(insecure && parsed.protocol === 'http:')) {
    fail(path, 'must be an https: URL (allowInsecureHttp permits http: in development)');
  }
  if (parsed.hash !== '') fail(path, 'must not have a fragment');
  return parsed;
}

function positiveInt(value: unknown, path: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!(Number.isSafeInteger(value) && (value as number) > 0)) fail(path, 'must be a positive integer');
  return value as number;
}

/** Checks every option once, at construction (a bad option throws at start-up, naming its path). */
export function resolveOidcOptions(options: OidcRelyingPartyOptions): ResolvedOidcOptions {
  if (typeof options !== 'object' || options === null) fail('', 'must be an options object');
  const provider = options.provider ?? 'oidc';
  if (typeof provider !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(provider)) {
    fail('provider', 'must be 1-64 letters, digits, dot, dash or underscore');
  }
  const insecure = options.allowInsecureHttp === true;
  const issuer = url(options.issuer, 'issuer', insecure);
  if (typeof options.clientId !== 'string' || options.clientId.length === 0)
    fail('clientId', 'must be a string');
  if (
    options.clientSecret !== undefined &&
    (typeof options.clientSecret !== 'string' || options.clientSecret === '')
  ) {
    fail('clientSecret', 'must be a non-empty string');
  }
  const redirectUri = url(options.redirectUri, 'redirectUri', insecure);
  if (redirectUri.search !== '') fail('redirectUri', 'must not have a query');
  const postLogout =
    options.postLogoutRedirectUri === undefined
      ? undefined
      : url(options.postLogoutRedirectUri, 'postLogoutRedirectUri', insecure);
  const scopes = options.scopes ?? ['email', 'profile'];
  if (
    !Array.isArray(scopes) ||
    !scopes.every((s) => typeof s === 'string' && /^[\x21\x23-\x5b\x5d-\x7e]+$/.test(s))
  ) {
    fail('scopes', 'must be an array of scope tokens');
  }
  const algorithm = options.idTokenAlgorithm ?? 'RS256';
  if (!(OIDC_ID_TOKEN_ALGORITHMS as readonly string[]).includes(algorithm)) {
    fail('idTokenAlgorithm', `must be one of ${OIDC_ID_TOKEN_ALGORITHMS.join(', ')}`);
  }
  const groupsClaim = options.groupsClaim ?? 'groups';
  if (typeof groupsClaim !== 'string' || groupsClaim === '') fail('groupsClaim', 'must be a claim name');
  if (options.signIn !== undefined && !(options.signIn instanceof SignInMapper)) {
    fail('signIn', 'must be a SignInMapper');
  }
  const store = options.store;
  if (store !== undefined && (typeof store.put !== 'function' || typeof store.take !== 'function')) {
    fail('store', 'must be a OneTimeStore (put, take)');
  }
  const cookieName = options.cookie?.name ?? `__Host-bulwark-oidc-${provider}`;
  const cookieSecure = options.cookie?.secure ?? true;
  checkCookieOptions(cookieName, { secure: cookieSecure, sameSite: 'Lax', path: '/' }, 'oidc.cookie');
  if (options.bruteForce !== undefined && typeof options.bruteForce.reserve !== 'function') {
    fail('bruteForce', 'must be a BruteForceGuard');
  }
  if (options.onBackchannelLogout !== undefined && typeof options.onBackchannelLogout !== 'function') {
    fail('onBackchannelLogout', 'must be a function');
  }
  return Object.freeze({
    provider,
    issuer,
    issuerId: options.issuer,
    clientId: options.clientId,
    clientSecret: options.clientSecret,
    redirectUri,
    postLogoutRedirectUri: postLogout,
    scope: [...new Set(['openid', ...scopes])].join(' '),
    algorithm,
    groupsClaim,
    userinfo: options.userinfo === true,
    mapper: options.signIn ?? new SignInMapper(),
    amrFactors: options.amrFactors,
    store,
    transactionTtlSec: positiveInt(options.transactionTtlSec, 'transactionTtlSec', 600),
    cookieName,
    cookieSecure,
    bruteForce: options.bruteForce,
    onBackchannelLogout: options.onBackchannelLogout,
    timeoutSec: positiveInt(options.timeoutSec, 'timeoutSec', 10),
    allowInsecureHttp: insecure,
  });
}
