import { createHash, timingSafeEqual } from 'node:crypto';
import {
  AMR_FACTORS,
  BulwarkError,
  amrAuthentication,
  type HttpPrincipal,
  type SignInIdentity,
} from '@bulwark/core';
import { lockedOut, readCookie, serializeCookie } from '@bulwark/core/http';
import { MemoryOneTimeStore, type OneTimeStore } from '../one-time-store';
import type { SignInRequestContext } from '../sign-in';
import {
  openidClient,
  type Configuration,
  type TokenEndpointResponse,
  type TokenEndpointResponseHelpers,
} from './openid-client';
import { oidcFailure, oidcFailureReason } from './oidc-failure';
import { jose, verifyLogoutToken } from './logout-token';
import { resolveOidcOptions, type OidcRelyingPartyOptions, type ResolvedOidcOptions } from './oidc-options';
import { OidcTransactions } from './oidc-transactions';

/** The browser request facts a route hands over (never the whole request). */
export interface OidcRequest extends SignInRequestContext {
  /** The raw `Cookie` header. */
  readonly cookie?: string;
}

/** Where to send the browser to start a sign-in, and the cookie that binds it to that browser. */
export interface OidcLoginRedirect {
  readonly location: string;
  /** A `Set-Cookie` value. */
  readonly setCookie: string;
}

/** Tokens of a sign-in or refresh: keep them server side (in the session), never in the page. */
export interface OidcTokens {
  readonly idToken?: string;
  readonly accessToken: string;
  readonly refreshToken?: string;
  /** Epoch ms when the access token expires, when the provider said. */
  readonly expiresAt?: number;
  readonly scope?: string;
}

/** A completed sign-in. */
export interface OidcSignIn {
  readonly principal: HttpPrincipal;
  readonly tokens: OidcTokens;
  /** The provider's subject and session id (`sid`): keep `sessionId` to honour back-channel logout. */
  readonly subject: string;
  readonly sessionId?: string;
  /** Local path the login asked to return to (`/` by default). */
  readonly returnTo: string;
  /** A `Set-Cookie` value deleting the transaction cookie. */
  readonly clearCookie: string;
}

/**
 * The OIDC configuration, as compliance evidence (no secret). A type alias, not an interface, so it
 * fits core's `SignInMethodEvidence` (an index-signature type) for `kit.registerSignIn(rp)`.
 */
export type OidcRelyingPartyDescription = {
  readonly method: 'oidc';
  readonly provider: string;
  /** One line for the compliance report. */
  readonly summary: string;
  readonly issuer: string;
  readonly clientId: string;
  readonly responseType: 'code';
  readonly pkce: 'S256';
  readonly idTokenAlgorithms: readonly string[];
  readonly clientAuthentication: 'client_secret_basic' | 'none';
  readonly scopes: readonly string[];
  readonly transactionStore: 'memory' | 'shared';
  readonly bruteForce: boolean;
  readonly backchannelLogout: boolean;
  readonly insecureHttp: boolean;
};

const LOCAL_PATH = /^\/(?![/\\])[\x21-\x7e]*$/;
const MAX_RETURN_TO = 2048;

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function stringList(value: unknown): readonly string[] {
  if (typeof value === 'string') return [value];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

/**
 * An OpenID Connect relying party (authorization code flow, PKCE S256, state and nonce) on
 * openid-client: discovery, login redirect, callback, userinfo, refresh, RP-initiated and
 * back-channel logout. Framework free: the Express, Koa and NestJS routers are glue over it.
 *
 * Each callback is checked for a single-use transaction bound to the browser (cookie), its state,
 * the issuer (RFC 9207 `iss` when the provider sends it), the PKCE verifier, and an ID token whose
 * signature (one allowed algorithm, the provider's keys), issuer, audience, expiry and nonce hold.
 */
export class OidcRelyingParty {
  readonly #o: ResolvedOidcOptions;
  readonly #store: OneTimeStore;
  readonly #transactions: OidcTransactions;
  readonly #amr: Readonly<Record<string, string>>;
  #config: Promise<Configuration> | undefined;
  #jwks: ReturnType<ReturnType<typeof jose>['createRemoteJWKSet']> | undefined;

  constructor(options: OidcRelyingPartyOptions) {
    this.#o = resolveOidcOptions(options);
    this.#store = this.#o.store ?? new MemoryOneTimeStore();
    this.#transactions = new OidcTransactions(this.#store, this.#o.transactionTtlSec);
    this.#amr = { ...AMR_FACTORS, ...this.#o.amrFactors };
  }

  /** The configured provider name. */
  get provider(): string {
    return this.#o.provider;
  }

  /**
   * Discovers the provider (once; a failed discovery is retried on the next call). Call it at
   * start-up to fail early; every other method calls it.
   */
  async discover(): Promise<Configuration> {
    this.#config ??= this.#discover().catch((error: unknown) => {
      this.#config = undefined;
      throw error;
    });
    return this.#config;
  }

  /**
   * Starts a sign-in: stores a new transaction (state, nonce, PKCE verifier) and returns the
   * provider URL to redirect to with the cookie binding it to this browser. `returnTo` must be a
   * local path (anything else becomes `/`, so the login cannot be turned into an open redirect).
   */
  async login(options: { returnTo?: string; loginHint?: string } = {}): Promise<OidcLoginRedirect> {
    const config = await this.discover();
    const oc = openidClient();
    const codeVerifier = oc.randomPKCECodeVerifier();
    const state = oc.randomState();
    const nonce = oc.randomNonce();
    const returnTo =
      typeof options.returnTo === 'string' &&
      options.returnTo.length <= MAX_RETURN_TO &&
      LOCAL_PATH.test(options.returnTo)
        ? options.returnTo
        : '/';
    const handle = await this.#transactions.begin(
      {
        issuer: this.#o.issuer.href,
        state,
        nonce,
        codeVerifier,
        returnTo,
      },
      this.#o.provider,
    );
    const params: Record<string, string> = {
      redirect_uri: this.#o.redirectUri.href,
      response_type: 'code',
      scope: this.#o.scope,
      state,
      nonce,
      code_challenge: await oc.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
    };
    if (typeof options.loginHint === 'string' && /^[\x20-\x7e]{1,256}$/.test(options.loginHint)) {
      params.login_hint = options.loginHint;
    }
    return {
      location: oc.buildAuthorizationUrl(config, params).href,
      setCookie: serializeCookie(this.#o.cookieName, handle, {
        secure: this.#o.cookieSecure,
        sameSite: 'Lax',
        maxAgeSec: this.#o.transactionTtlSec,
      }),
    };
  }

  /** A `Set-Cookie` value deleting the transaction cookie. */
  clearCookie(): string {
    return `${serializeCookie(this.#o.cookieName, '', { secure: this.#o.cookieSecure, sameSite: 'Lax' })}; Max-Age=0`;
  }

  /**
   * Completes a sign-in from the callback's query string: checks everything listed on the class,
   * maps the identity through the SignInMapper (roles, provisioning, `auth.login` event) and
   * returns the principal with the tokens. Failures throw ERR_SIGNIN_FAILED (`details.reason`),
   * are audited and, with `bruteForce`, count against the client IP (a lockout throws 429).
   */
  async callback(query: string | URLSearchParams, request: OidcRequest = {}): Promise<OidcSignIn> {
    const guard = this.#o.bruteForce;
    let reservation;
    if (guard !== undefined && request.ip !== undefined) {
      const decision = await guard.reserve({ ip: request.ip });
      if (!decision.allowed) throw lockedOut(decision);
      reservation = decision.reservation;
    }
    try {
      const signIn = await this.#complete(new URLSearchParams(query), request);
      await reservation?.succeed();
      return signIn;
    } catch (error) {
      const reason = error instanceof BulwarkError ? error.details?.reason : undefined;
      if (reason === 'provider_unavailable') await reservation?.release();
      else await reservation?.fail();
      if (typeof reason === 'string') {
        await this.#o.mapper.fail(this.#o.provider, 'oidc', reason, request);
      }
      throw error;
    }
  }

  /** Userinfo of an access token, checked to be about `subject`. */
  async userinfo(accessToken: string, subject: string): Promise<Readonly<Record<string, unknown>>> {
    const config = await this.discover();
    try {
      return await openidClient().fetchUserInfo(config, accessToken, subject);
    } catch (error) {
      const reason = oidcFailureReason(error);
      throw oidcFailure(
        reason === 'provider_unavailable' ? reason : 'userinfo_mismatch',
        this.#o.provider,
        error,
      );
    }
  }

  /**
   * New tokens from a refresh token. A new ID token, when one comes, is fully validated and must
   * be about `subject` (the user of the session being refreshed).
   */
  async refresh(refreshToken: string, subject: string): Promise<OidcTokens> {
    const config = await this.discover();
    let response;
    try {
      response = await openidClient().refreshTokenGrant(config, refreshToken);
    } catch (error) {
      const reason = oidcFailureReason(error);
      throw oidcFailure(reason === 'code_rejected' ? 'refresh_rejected' : reason, this.#o.provider, error);
    }
    const claims = response.claims();
    if (claims !== undefined && !sameSecret(claims.sub, subject)) {
      throw oidcFailure('invalid_id_token', this.#o.provider);
    }
    return this.#tokens(response, refreshToken);
  }

  /**
   * The provider's end-session URL (RP-initiated logout) with `id_token_hint` and the configured
   * `post_logout_redirect_uri`, or the post-logout URI itself when the provider has no end-session
   * endpoint. Record the logout (`auth.logout`) with `recordLogout`.
   */
  async logoutUrl(idToken?: string): Promise<string> {
    const config = await this.discover();
    const post = this.#o.postLogoutRedirectUri?.href;
    if (config.serverMetadata().end_session_endpoint === undefined) return post ?? '/';
    const params: Record<string, string> = { client_id: this.#o.clientId };
    if (idToken !== undefined) params.id_token_hint = idToken;
    if (post !== undefined) params.post_logout_redirect_uri = post;
    return openidClient().buildEndSessionUrl(config, params).href;
  }

  /** Appends `auth.logout` for a principal that signed out here. */
  async recordLogout(principal: HttpPrincipal, request: SignInRequestContext = {}): Promise<void> {
    await this.#o.mapper.logout(principal, request, 'rp_initiated');
  }

  /** Whether back-channel logout is configured (`onBackchannelLogout`). */
  get backchannelLogoutEnabled(): boolean {
    return this.#o.onBackchannelLogout !== undefined;
  }

  /**
   * Back-channel logout (OpenID Connect Back-Channel Logout 1.0): validates the logout token
   * (signature with the one allowed algorithm, issuer, audience, age, the logout event, `sub` or
   * `sid`, no `nonce`, a `jti` never seen before) and calls `onBackchannelLogout`. Throws
   * ERR_SIGNIN_FAILED (`invalid_logout_token`, `replayed_logout_token`) otherwise.
   */
  async backchannelLogout(logoutToken: unknown): Promise<void> {
    const hook = this.#o.onBackchannelLogout;
    if (hook === undefined) throw oidcFailure('invalid_logout_token', this.#o.provider);
    const config = await this.discover();
    const jwksUri = config.serverMetadata().jwks_uri;
    if (typeof logoutToken !== 'string' || jwksUri === undefined) {
      throw oidcFailure('invalid_logout_token', this.#o.provider);
    }
    this.#jwks ??= jose().createRemoteJWKSet(new URL(jwksUri), {
      timeoutDuration: this.#o.timeoutSec * 1000,
    });
    const claims = await verifyLogoutToken(logoutToken, {
      issuer: config.serverMetadata().issuer,
      audience: this.#o.clientId,
      algorithm: this.#o.algorithm,
      keys: this.#jwks,
      provider: this.#o.provider,
    });
    const jti = createHash('sha256').update(claims.jti).digest('base64url');
    const first = await this.#store.put(`oidc:bcl:${jti}`, '1', 3600).catch(() => {
      throw oidcFailure('provider_unavailable', this.#o.provider);
    });
    if (!first) {
      throw oidcFailure('replayed_logout_token', this.#o.provider);
    }
    await hook({
      provider: this.#o.provider,
      issuer: config.serverMetadata().issuer,
      ...(claims.sub !== undefined ? { subject: claims.sub } : {}),
      ...(claims.sid !== undefined ? { sessionId: claims.sid } : {}),
    });
  }

  /** The configuration as compliance evidence ("OIDC sign-in configured, issuer X, PKCE S256"). */
  describe(): OidcRelyingPartyDescription {
    return Object.freeze({
      method: 'oidc',
      provider: this.#o.provider,
      summary: `OIDC sign-in configured (${this.#o.provider}), issuer ${this.#o.issuerId}, authorization code with PKCE S256, ID tokens ${this.#o.algorithm}`,
      issuer: this.#o.issuerId,
      clientId: this.#o.clientId,
      responseType: 'code',
      pkce: 'S256',
      idTokenAlgorithms: Object.freeze([this.#o.algorithm]),
      clientAuthentication: this.#o.clientSecret !== undefined ? 'client_secret_basic' : 'none',
      scopes: Object.freeze(this.#o.scope.split(' ')),
      transactionStore:
        this.#o.store === undefined || this.#o.store instanceof MemoryOneTimeStore ? 'memory' : 'shared',
      bruteForce: this.#o.bruteForce !== undefined,
      backchannelLogout: this.#o.onBackchannelLogout !== undefined,
      insecureHttp: this.#o.allowInsecureHttp,
    } as const);
  }

  async #discover(): Promise<Configuration> {
    const oc = openidClient();
    const o = this.#o;
    let config: Configuration;
    try {
      config = await oc.discovery(
        o.issuer,
        o.clientId,
        { id_token_signed_response_alg: o.algorithm },
        o.clientSecret !== undefined ? oc.ClientSecretBasic(o.clientSecret) : oc.None(),
        { timeout: o.timeoutSec, ...(o.allowInsecureHttp ? { execute: [oc.allowInsecureRequests] } : {}) },
      );
    } catch (error) {
      throw oidcFailure('provider_unavailable', o.provider, error);
    }
    config.timeout = o.timeoutSec;
    // openid-client trusts the TLS channel for ID tokens from the token endpoint (OIDC Core
    // §3.1.3.7 allows it) and skips their signature; Bulwark verifies it against the provider's
    // keys with the one allowed algorithm, so a token endpoint response altered anywhere (a
    // proxy, a TLS-terminating middlebox, a compromised path) cannot sign anyone in.
    oc.enableNonRepudiationChecks(config);
    const meta = config.serverMetadata();
    // Fail closed at start-up when the provider cannot do what every login relies on.
    const pkce = meta.code_challenge_methods_supported;
    if (Array.isArray(pkce) && !pkce.includes('S256')) throw oidcFailure('invalid_response', o.provider);
    const algs = meta.id_token_signing_alg_values_supported;
    if (Array.isArray(algs) && !algs.includes(o.algorithm))
      throw oidcFailure('algorithm_not_allowed', o.provider);
    return config;
  }

  async #complete(params: URLSearchParams, request: OidcRequest): Promise<OidcSignIn> {
    const o = this.#o;
    const config = await this.discover();
    const handle = readCookie(request.cookie, o.cookieName);
    if (handle === undefined || handle === '') throw oidcFailure('missing_transaction', o.provider);
    const tx = await this.#transactions.take(handle, o.provider);
    if (tx === undefined) throw oidcFailure('unknown_transaction', o.provider);
    if (tx.issuer !== o.issuer.href) throw oidcFailure('issuer_mismatch', o.provider);
    const state = params.get('state');
    if (state === null || !sameSecret(state, tx.state)) throw oidcFailure('state_mismatch', o.provider);
    // The callback URL is the configured one (never built from Host headers) plus the query.
    const current = new URL(o.redirectUri.href);
    current.search = params.toString();
    let response;
    try {
      response = await openidClient().authorizationCodeGrant(config, current, {
        pkceCodeVerifier: tx.codeVerifier,
        expectedState: tx.state,
        expectedNonce: tx.nonce,
        idTokenExpected: true,
      });
    } catch (error) {
      throw this.#failure(error);
    }
    const claims = response.claims();
    if (claims === undefined) throw oidcFailure('invalid_id_token', o.provider);
    let source: Record<string, unknown> = { ...claims };
    if (o.userinfo) {
      source = { ...(await this.userinfo(response.access_token, claims.sub)), ...claims };
    }
    const identity: SignInIdentity = {
      method: 'oidc',
      provider: o.provider,
      subject: claims.sub,
      ...(typeof source.email === 'string' ? { email: source.email } : {}),
      ...(typeof source.name === 'string' ? { name: source.name } : {}),
      groups: stringList(source[o.groupsClaim]),
      attributes: Object.freeze(source),
      // The provider's multi-factor sign-in counts from when it happened: auth_time only (iat is
      // when this token was issued, which an SSO session renews without asking for factors again).
      ...amrAuthentication(claims.amr, claims.auth_time, this.#amr),
    };
    const principal = await o.mapper.complete(identity, request);
    return {
      principal,
      tokens: this.#tokens(response),
      subject: claims.sub,
      ...(typeof claims.sid === 'string' ? { sessionId: claims.sid } : {}),
      returnTo: tx.returnTo,
      clearCookie: this.clearCookie(),
    };
  }

  #tokens(
    response: TokenEndpointResponse & TokenEndpointResponseHelpers,
    previousRefreshToken?: string,
  ): OidcTokens {
    const expiresIn = response.expiresIn();
    const refreshToken = response.refresh_token ?? previousRefreshToken;
    return Object.freeze({
      accessToken: response.access_token,
      ...(response.id_token !== undefined ? { idToken: response.id_token } : {}),
      ...(refreshToken !== undefined ? { refreshToken } : {}),
      ...(expiresIn !== undefined ? { expiresAt: Date.now() + expiresIn * 1000 } : {}),
      ...(response.scope !== undefined ? { scope: response.scope } : {}),
    });
  }

  #failure(error: unknown): BulwarkError {
    return error instanceof BulwarkError
      ? error
      : oidcFailure(oidcFailureReason(error), this.#o.provider, error);
  }
}
