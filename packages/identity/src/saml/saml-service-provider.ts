import {
  BulwarkConfigError,
  BulwarkIdentityError,
  ErrorCodes,
  FEDERATED_MFA_FACTOR,
  type AuthenticationFactor,
  type BruteForceGuard,
  type HttpPrincipal,
  type SignInIdentity,
} from '@bulwark/core';
import {
  SAML,
  ValidateInResponseTo,
  type CacheProvider,
  type Profile,
  type SamlConfig,
} from '@node-saml/node-saml';
import { lockedOut } from '@bulwark/core/http';
import type { SignInMapper, SignInRequestContext } from '../sign-in';
import { assertionFacts, rawResponseFacts } from './response-checks';
import { MemorySamlReplayStore, type SamlReplayStore } from './saml-replay-store';

/** The identity provider, as its metadata describes it. */
export interface SamlIdentityProvider {
  /** Its entityID: the only Issuer accepted. */
  readonly entityId: string;
  /** Single sign-on URL (HTTP-Redirect binding). */
  readonly ssoUrl: string;
  /** Single logout URL (HTTP-Redirect binding), for SP-initiated logout. */
  readonly sloUrl?: string;
  /** Its signing certificate(s), PEM or base64 DER; several during a key rollover. */
  readonly certificates: readonly string[];
}

export interface SamlServiceProviderOptions {
  /** Provider name used in principals and audit events. Default `saml`. */
  readonly provider?: string;
  /** This service provider's entityID (also the Audience every assertion must name). */
  readonly entityId: string;
  /** Absolute URL of the assertion consumer service (the Destination and Recipient required). */
  readonly acsUrl: string;
  /** Absolute URL receiving LogoutResponses (and IdP LogoutRequests). */
  readonly logoutUrl?: string;
  readonly idp: SamlIdentityProvider;
  /** Signs AuthnRequests and LogoutRequests; its certificate goes in the metadata. Recommended. */
  readonly signing?: { readonly privateKey: string; readonly certificate: string };
  /** Shared by all instances (InResponseTo and replay tracking). Default: memory (one instance). */
  readonly store?: SamlReplayStore;
  /** Accept unsolicited (IdP-initiated) responses. Default false: they are a login-CSRF vector. */
  readonly allowIdpInitiated?: boolean;
  /**
   * Require the Response element to be signed as well as the assertion. Default true; set false
   * only for IdPs that sign assertions alone (the assertion signature is always required).
   */
  readonly requireSignedResponse?: boolean;
  /** Attribute holding the user's groups. Default `groups`. */
  readonly groupsAttribute?: string;
  /** Attribute holding the e-mail. Default `email` (or `mail` / the eduPerson OID). */
  readonly emailAttribute?: string;
  /** Attribute holding the display name. Default `displayName`. */
  readonly nameAttribute?: string;
  /** AuthnContextClassRef values meaning a second factor was used (mapped to the `mfa` factor). */
  readonly mfaContexts?: readonly string[];
  /** Clock skew tolerated on NotBefore / NotOnOrAfter. Default 30 s. */
  readonly clockSkewMs?: number;
  /** How long a sent AuthnRequest may be answered. Default 10 min. */
  readonly requestTtlMs?: number;
  /** Maps the identity to a principal, provisions, audits. */
  readonly mapper: SignInMapper;
  /**
   * Counts refused responses per client IP (each costs a signature check) and answers 429 while
   * the IP is locked out. Recommended on a public ACS.
   */
  readonly bruteForce?: BruteForceGuard;
}

/** The service provider's configuration as compliance evidence (no keys). */
export interface SamlServiceProviderDescription {
  readonly method: 'saml';
  readonly provider: string;
  readonly entityId: string;
  readonly idpEntityId: string;
  readonly signedAssertionsRequired: true;
  readonly signedResponseRequired: boolean;
  readonly idpInitiatedAllowed: boolean;
  readonly signsRequests: boolean;
  readonly bruteForceGuarded: boolean;
  /** The replay store's class name (`MemorySamlReplayStore` holds for one instance only). */
  readonly replayStore: string;
}

/** A completed SAML sign-in. */
export interface SamlSignIn {
  readonly principal: HttpPrincipal;
  /** RelayState the IdP echoed (only ever use it as a same-site path). */
  readonly relayState?: string;
  /** What SP-initiated logout needs: keep it in the session. */
  readonly session: SamlSessionRef;
}

/** The NameID and session of a SAML sign-in, for single logout. */
export interface SamlSessionRef {
  readonly nameId: string;
  readonly nameIdFormat: string;
  readonly sessionIndex?: string;
}

const ASSERTION_TTL_MIN_MS = 5 * 60_000;
/** Longest assertion validity (NotOnOrAfter from now) accepted: its id is kept that long. */
const MAX_ASSERTION_VALIDITY_MS = 24 * 60 * 60_000;
/** Base64 of a 256 KiB response: real ones are a few KiB (a large attribute set stays far below). */
const MAX_RESPONSE_CHARS = 350_000;

function url(value: unknown, path: string): string {
  if (typeof value !== 'string' || !/^https?:\/\/[^\s]+$/i.test(value)) {
    throw new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, `${path} must be an absolute http(s) URL`, {
      path,
    });
  }
  return value;
}

function refused(provider: string, reason: string): BulwarkIdentityError {
  return new BulwarkIdentityError(ErrorCodes.SIGNIN_FAILED, 'The SAML response was refused.', {
    provider,
    reason,
  });
}

/** A replay store failure: a 503 that names no server, never counted as a refused response. */
function storeUnavailable(provider: string): BulwarkIdentityError {
  return new BulwarkIdentityError(
    ErrorCodes.SIGNIN_UNAVAILABLE,
    'The SAML request and replay store is not reachable.',
    { provider },
  );
}

/**
 * node-saml's cache interface over a Bulwark replay store (request ids under `req:`). A store
 * failure inside node-saml's InResponseTo check surfaces as `ERR_SIGNIN_UNAVAILABLE`, not as a
 * refused response.
 */
function cacheOver(store: SamlReplayStore, ttlMs: number, provider: string): CacheProvider {
  const guarded = async <T>(work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } catch {
      throw storeUnavailable(provider);
    }
  };
  return {
    async saveAsync(key, value) {
      await guarded(() => store.put(`req:${key}`, value, ttlMs));
      return { value, createdAt: Date.now() };
    },
    getAsync: (key) => guarded(() => store.get(`req:${key}`)),
    removeAsync: (key) => (key === null ? Promise.resolve(null) : guarded(() => store.take(`req:${key}`))),
  };
}

/** node-saml's messages mapped to a short machine reason (for the audit event, never the client). */
function reasonOf(error: unknown): string {
  const message = error instanceof Error ? error.message : '';
  if (/InResponseTo is missing/i.test(message)) return 'unsolicited';
  if (/InResponseTo/i.test(message)) return 'unknown_request';
  // node-saml's subject confirmation check is its NotOnOrAfter / NotBefore window.
  if (/subject confirmation/i.test(message)) return 'expired';
  if (/signature/i.test(message)) return 'bad_signature';
  if (/audience/i.test(message)) return 'wrong_audience';
  if (/expired|NotOnOrAfter|NotBefore|too old/i.test(message)) return 'expired';
  if (/issuer/i.test(message)) return 'wrong_issuer';
  if (/SAML provider returned/i.test(message)) return 'idp_error';
  return 'invalid_response';
}

function text(value: unknown): string | undefined {
  if (typeof value === 'string' && value.length > 0) return value;
  if (Array.isArray(value) && typeof value[0] === 'string') return value[0];
  return undefined;
}

/**
 * A SAML 2.0 service provider on @node-saml/node-saml: SP metadata, SP-initiated login
 * (HTTP-Redirect AuthnRequest, HTTP-POST response), IdP-initiated login only when enabled, and
 * single logout. A response is accepted only when node-saml verified the signatures (the
 * assertion's always, the response's by default) with the IdP's certificate and checked
 * audience, time window and InResponseTo, and Bulwark also checked the Destination, the
 * Recipient, the Issuer, the signature algorithms (no SHA-1), and that the assertion was never
 * accepted before by any instance sharing the store.
 */
export class SamlServiceProvider {
  readonly #options: SamlServiceProviderOptions;
  readonly #provider: string;
  readonly #store: SamlReplayStore;
  readonly #saml: SAML;
  /** The same, for LogoutResponses: node-saml reads InResponseTo of `Response` elements only. */
  readonly #logoutSaml: SAML;

  constructor(options: SamlServiceProviderOptions) {
    url(options?.acsUrl, 'saml.acsUrl');
    if (options.logoutUrl !== undefined) url(options.logoutUrl, 'saml.logoutUrl');
    if (typeof options.entityId !== 'string' || options.entityId.length === 0) {
      throw new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, 'saml.entityId must be a non-empty string', {
        path: 'saml.entityId',
      });
    }
    const idp = options.idp;
    url(idp?.ssoUrl, 'saml.idp.ssoUrl');
    if (idp.sloUrl !== undefined) url(idp.sloUrl, 'saml.idp.sloUrl');
    if (typeof idp.entityId !== 'string' || idp.entityId.length === 0) {
      throw new BulwarkConfigError(
        ErrorCodes.CONFIG_INVALID,
        'saml.idp.entityId must be a non-empty string',
        {
          path: 'saml.idp.entityId',
        },
      );
    }
    if (!Array.isArray(idp.certificates) || idp.certificates.length === 0) {
      throw new BulwarkConfigError(
        ErrorCodes.CONFIG_INVALID,
        'saml.idp.certificates must list at least one certificate',
        {
          path: 'saml.idp.certificates',
        },
      );
    }
    if (options.mapper === undefined) {
      throw new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, 'saml.mapper must be a SignInMapper', {
        path: 'saml.mapper',
      });
    }
    this.#options = options;
    this.#provider = options.provider ?? 'saml';
    this.#store = options.store ?? new MemorySamlReplayStore();
    const requestTtlMs = options.requestTtlMs ?? 10 * 60_000;
    const config: SamlConfig = {
      issuer: options.entityId,
      audience: options.entityId,
      callbackUrl: options.acsUrl,
      ...(options.logoutUrl !== undefined ? { logoutCallbackUrl: options.logoutUrl } : {}),
      entryPoint: idp.ssoUrl,
      ...(idp.sloUrl !== undefined ? { logoutUrl: idp.sloUrl } : {}),
      idpCert: [...idp.certificates],
      idpIssuer: idp.entityId,
      wantAssertionsSigned: true,
      wantAuthnResponseSigned: options.requireSignedResponse ?? true,
      validateInResponseTo:
        options.allowIdpInitiated === true ? ValidateInResponseTo.ifPresent : ValidateInResponseTo.always,
      requestIdExpirationPeriodMs: requestTtlMs,
      cacheProvider: cacheOver(this.#store, requestTtlMs, this.#provider),
      acceptedClockSkewMs: options.clockSkewMs ?? 30_000,
      identifierFormat: null,
      disableRequestedAuthnContext: true,
      signatureAlgorithm: 'sha256',
      digestAlgorithm: 'sha256',
      ...(options.signing !== undefined
        ? { privateKey: options.signing.privateKey, publicCert: options.signing.certificate }
        : {}),
    };
    this.#saml = new SAML(config);
    this.#logoutSaml = new SAML({ ...config, validateInResponseTo: ValidateInResponseTo.never });
  }

  /** What is configured, for compliance evidence and start-up logs. */
  describe(): SamlServiceProviderDescription {
    const o = this.#options;
    return {
      method: 'saml',
      provider: this.#provider,
      entityId: o.entityId,
      idpEntityId: o.idp.entityId,
      signedAssertionsRequired: true,
      signedResponseRequired: o.requireSignedResponse ?? true,
      idpInitiatedAllowed: o.allowIdpInitiated === true,
      signsRequests: o.signing !== undefined,
      bruteForceGuarded: o.bruteForce !== undefined,
      replayStore: this.#store.constructor.name,
    };
  }

  /** This SP's metadata XML (entityID, ACS, SLO, signing certificate), for the IdP's administrator. */
  metadata(): string {
    return this.#saml.generateServiceProviderMetadata(null, this.#options.signing?.certificate ?? null);
  }

  /** The IdP URL to redirect the browser to (an AuthnRequest whose id is remembered in the store). */
  loginUrl(relayState = ''): Promise<string> {
    return this.#withStore(() => this.#saml.getAuthorizeUrlAsync(relayState, undefined, {}));
  }

  /**
   * Consumes an HTTP-POST response (`SAMLResponse`, `RelayState` form fields) at the ACS and
   * returns the principal. Any refusal throws `ERR_SIGNIN_FAILED` with `details.reason`
   * (`bad_signature`, `unknown_request`, `unsolicited`, `replayed`, `wrong_destination`,
   * `wrong_recipient`, `wrong_audience`, `expired`, `wrong_issuer`, `weak_algorithm`,
   * `idp_error`, `invalid_response`); an IP locked out by `bruteForce` the 429
   * `ERR_HTTP_TOO_MANY_REQUESTS`.
   */
  async acs(body: unknown, request: SignInRequestContext = {}): Promise<SamlSignIn> {
    const guard = this.#options.bruteForce;
    const reserved =
      guard === undefined || request.ip === undefined ? undefined : await guard.reserve({ ip: request.ip });
    if (reserved !== undefined && !reserved.allowed) {
      await this.#options.mapper.fail(this.#provider, 'saml', 'locked_out', request);
      throw lockedOut(reserved);
    }
    const reservation = reserved?.reservation;
    let result: SamlSignIn;
    try {
      result = await this.#consume(body, request);
    } catch (error) {
      if (error instanceof BulwarkIdentityError && error.code === ErrorCodes.SIGNIN_FAILED) {
        await reservation?.fail();
        await this.#options.mapper.fail(this.#provider, 'saml', String(error.details?.reason), request);
      } else await reservation?.release();
      throw error;
    }
    await reservation?.succeed();
    return result;
  }

  async #consume(body: unknown, request: SignInRequestContext): Promise<SamlSignIn> {
    const form = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
    const encoded = form.SAMLResponse;
    const relayState = typeof form.RelayState === 'string' ? form.RelayState : undefined;
    if (typeof encoded !== 'string' || encoded.length === 0 || encoded.length > MAX_RESPONSE_CHARS) {
      throw refused(this.#provider, 'invalid_response');
    }
    // The cheap checks first: signature verification costs tens of milliseconds of CPU.
    const xml = Buffer.from(encoded, 'base64').toString('utf8');
    const raw = rawResponseFacts(xml);
    if (raw.hasDoctype) throw refused(this.#provider, 'invalid_response');
    if (!raw.algorithmsAllowed) throw refused(this.#provider, 'weak_algorithm');
    // SAML core §3.2.2: a Destination must match where the response arrived; Bulwark also
    // requires one (SAML2int), so a response for another endpoint cannot be replayed here.
    if (raw.destination !== this.#options.acsUrl) throw refused(this.#provider, 'wrong_destination');
    let profile: Profile | null;
    try {
      ({ profile } = await this.#saml.validatePostResponseAsync({ SAMLResponse: encoded }));
    } catch (error) {
      if (error instanceof BulwarkIdentityError) throw error; // the replay store is down
      throw refused(this.#provider, reasonOf(error));
    }
    if (profile === null) throw refused(this.#provider, 'invalid_response');
    const identity = await this.#identityOf(profile);
    const principal = await this.#options.mapper.complete(identity, request);
    return {
      principal,
      ...(relayState !== undefined ? { relayState } : {}),
      session: {
        nameId: profile.nameID,
        nameIdFormat: profile.nameIDFormat,
        ...(profile.sessionIndex !== undefined ? { sessionIndex: profile.sessionIndex } : {}),
      },
    };
  }

  /** The IdP URL that ends the user's IdP session (SP-initiated single logout, HTTP-Redirect). */
  logoutUrl(session: SamlSessionRef, relayState = ''): Promise<string> {
    if (this.#options.idp.sloUrl === undefined) {
      throw new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, 'saml.idp.sloUrl is needed for single logout', {
        path: 'saml.idp.sloUrl',
      });
    }
    const profile: Profile = {
      issuer: this.#options.idp.entityId,
      nameID: session.nameId,
      nameIDFormat: session.nameIdFormat,
      ...(session.sessionIndex !== undefined ? { sessionIndex: session.sessionIndex } : {}),
    };
    return this.#saml.getLogoutUrlAsync(profile, relayState, {});
  }

  /**
   * Checks the IdP's signed HTTP-POST LogoutResponse to one of our LogoutRequests (InResponseTo
   * tracked like logins). Resolves when the IdP confirmed the logout; throws `ERR_SIGNIN_FAILED`
   * otherwise.
   */
  async logoutResponse(body: unknown): Promise<void> {
    const form = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
    if (typeof form.SAMLResponse !== 'string' || form.SAMLResponse.length > 1_000_000) {
      throw refused(this.#provider, 'invalid_response');
    }
    const raw = rawResponseFacts(Buffer.from(form.SAMLResponse, 'base64').toString('utf8'));
    if (raw.hasDoctype) throw refused(this.#provider, 'invalid_response');
    if (!raw.algorithmsAllowed) throw refused(this.#provider, 'weak_algorithm');
    // Both undefined (no logoutUrl configured, no Destination sent) is no match.
    if (raw.destination === undefined || raw.destination !== this.#options.logoutUrl) {
      throw refused(this.#provider, 'wrong_destination');
    }
    let loggedOut: boolean;
    try {
      // node-saml requires the LogoutResponse itself to be signed on this path.
      ({ loggedOut } = await this.#logoutSaml.validatePostResponseAsync({ SAMLResponse: form.SAMLResponse }));
    } catch (error) {
      throw refused(this.#provider, reasonOf(error));
    }
    if (!loggedOut) throw refused(this.#provider, 'invalid_response');
    // The signed root answers one of our LogoutRequests, once.
    const inResponseTo = raw.inResponseTo;
    if (
      inResponseTo === undefined ||
      (await this.#withStore(() => this.#store.take(`req:${inResponseTo}`))) === null
    ) {
      throw refused(this.#provider, 'unknown_request');
    }
  }

  /**
   * IdP-initiated single logout: checks the IdP's signed HTTP-POST LogoutRequest (signature,
   * Issuer, Destination = `logoutUrl`, time window, each request once) and returns the session to
   * end (by NameID and SessionIndex: the browser's cookies may not come with a cross-site POST) and
   * the IdP URL carrying our LogoutResponse. Refusals throw `ERR_SIGNIN_FAILED`.
   */
  async logoutRequest(body: unknown): Promise<{ session: SamlSessionRef; responseUrl: string }> {
    const o = this.#options;
    if (o.idp.sloUrl === undefined) {
      throw new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, 'saml.idp.sloUrl is needed for single logout', {
        path: 'saml.idp.sloUrl',
      });
    }
    const form = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
    const encoded = form.SAMLRequest;
    if (typeof encoded !== 'string' || encoded.length === 0 || encoded.length > MAX_RESPONSE_CHARS) {
      throw refused(this.#provider, 'invalid_request');
    }
    const raw = rawResponseFacts(Buffer.from(encoded, 'base64').toString('utf8'));
    if (raw.hasDoctype) throw refused(this.#provider, 'invalid_request');
    if (!raw.algorithmsAllowed) throw refused(this.#provider, 'weak_algorithm');
    if (raw.destination === undefined || raw.destination !== o.logoutUrl) {
      throw refused(this.#provider, 'wrong_destination');
    }
    let profile: Profile | null;
    try {
      ({ profile } = await this.#saml.validatePostRequestAsync({ SAMLRequest: encoded }));
    } catch (error) {
      throw refused(this.#provider, reasonOf(error));
    }
    if (profile === null || typeof profile.ID !== 'string' || profile.issuer !== o.idp.entityId) {
      throw refused(this.#provider, 'invalid_request');
    }
    const requestId = profile.ID;
    const first = await this.#withStore(() =>
      this.#store.claim(`logout:${o.idp.entityId}:${requestId}`, o.requestTtlMs ?? 10 * 60_000),
    );
    if (!first) throw refused(this.#provider, 'replayed');
    const relayState = typeof form.RelayState === 'string' ? form.RelayState : '';
    return {
      session: {
        nameId: profile.nameID,
        nameIdFormat: profile.nameIDFormat,
        ...(profile.sessionIndex !== undefined ? { sessionIndex: profile.sessionIndex } : {}),
      },
      responseUrl: await this.#saml.getLogoutResponseUrlAsync(profile, relayState, {}, true),
    };
  }

  async #identityOf(profile: Profile): Promise<SignInIdentity> {
    const o = this.#options;
    const facts = assertionFacts(profile.getAssertion?.());
    if (facts.id === undefined) throw refused(this.#provider, 'invalid_response');
    if (profile.issuer !== o.idp.entityId) throw refused(this.#provider, 'wrong_issuer');
    if (!facts.recipients.includes(o.acsUrl)) throw refused(this.#provider, 'wrong_recipient');
    if (o.allowIdpInitiated !== true && profile.inResponseTo === undefined && !this.#solicited(profile)) {
      throw refused(this.#provider, 'unsolicited');
    }
    // One acceptance per assertion across every instance, kept until node-saml would refuse it
    // anyway (NotOnOrAfter + clock skew). An assertion valid for longer than a day is refused: its
    // id would have to be kept as long.
    if (facts.notOnOrAfter === undefined) throw refused(this.#provider, 'invalid_response');
    const validForMs = facts.notOnOrAfter + (o.clockSkewMs ?? 30_000) - Date.now();
    if (validForMs > MAX_ASSERTION_VALIDITY_MS) throw refused(this.#provider, 'invalid_response');
    const assertionTtl = Math.max(
      ASSERTION_TTL_MIN_MS,
      (o.requestTtlMs ?? 10 * 60_000) + (o.clockSkewMs ?? 30_000),
      validForMs + 1000,
    );
    const first = await this.#withStore(() =>
      this.#store.claim(`assertion:${o.idp.entityId}:${facts.id}`, assertionTtl),
    );
    if (!first) {
      throw refused(this.#provider, 'replayed');
    }
    const attributes = (profile.attributes ?? {}) as Record<string, unknown>;
    const groupsValue = attributes[o.groupsAttribute ?? 'groups'];
    const groups = (
      Array.isArray(groupsValue) ? groupsValue : groupsValue === undefined ? [] : [groupsValue]
    ).filter((g): g is string => typeof g === 'string');
    const email =
      text(attributes[o.emailAttribute ?? 'email']) ??
      (typeof profile.email === 'string' ? profile.email : undefined);
    const name = text(attributes[o.nameAttribute ?? 'displayName']);
    // A listed AuthnContextClassRef is the IdP asserting MFA, counted from its AuthnInstant (no
    // instant, no MFA: nobody knows when the factors were proved).
    const mfa =
      facts.authnInstant !== undefined &&
      facts.authnContextClassRefs.some((ref) => o.mfaContexts?.includes(ref));
    const factors: AuthenticationFactor[] = mfa ? [FEDERATED_MFA_FACTOR] : [];
    return {
      method: 'saml',
      provider: this.#provider,
      subject: profile.nameID,
      ...(email !== undefined ? { email } : {}),
      ...(name !== undefined ? { name } : {}),
      groups,
      attributes,
      factors,
      ...(mfa ? { mfaAt: facts.authnInstant } : {}),
    };
  }

  /** A replay store failure refuses the sign-in (fail closed) as a 503 that names no server. */
  async #withStore<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (error instanceof BulwarkIdentityError) throw error;
      throw storeUnavailable(this.#provider);
    }
  }

  /** node-saml checked InResponseTo against the store when the response carried one. */
  #solicited(profile: Profile): boolean {
    const xml = profile.getSamlResponseXml?.() ?? '';
    return /<(?:\w+:)?Response\b[^>]*\sInResponseTo="[^"]+"/.test(xml);
  }
}
