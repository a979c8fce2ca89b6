import { randomBytes } from 'node:crypto';
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import { BulwarkError, BulwarkMfaError, ErrorCodes } from '../../errors';
import { configError } from '../../util/options';
import { checkUserId, guarded, storeCall, type MfaAttempt, type MfaAttemptGuard } from '../mfa-attempt-guard';
import { audited, recordMfa, type MfaAuditSink } from '../mfa-audit';
import type { StoredChallenge, StoredWebAuthnCredential, WebAuthnStore } from './webauthn-store';

export interface WebAuthnFactorOptions {
  store: WebAuthnStore;
  /** Relying party id: the site's registrable domain (`clinic.example`), no scheme or port. */
  rpId: string;
  /** Shown by the authenticator at registration. */
  rpName: string;
  /** Exact origins allowed in clientDataJSON (`https://clinic.example`); no wildcard. */
  origins: readonly string[];
  /**
   * `required` (default): the authenticator must verify the user (PIN, biometrics), so one passkey
   * is a multi-factor authenticator (NIST SP 800-63B AAL2/3). `preferred`: asked, not required.
   */
  userVerification?: 'required' | 'preferred';
  /**
   * Discoverable credentials (passkeys that sign in without a user name). Default `preferred`;
   * `required` refuses authenticators that cannot store one.
   */
  residentKey?: 'required' | 'preferred' | 'discouraged';
  /** COSE algorithms accepted for new credentials. Default EdDSA (-8), ES256 (-7), RS256 (-257). */
  algorithms?: readonly number[];
  /** Seconds a challenge stays answerable (single use). Default 300, at most 600. */
  challengeTtlSec?: number;
  /** Throttles failed assertions per user (see MfaAttemptGuard). */
  guard?: MfaAttemptGuard;
  /** Receives `auth.mfa` events (method `webauthn`) for every registration and sign-in. */
  audit?: MfaAuditSink;
  clock?: () => Date;
  /** Config path used in error messages. Default `mfa.webauthn`. */
  configPath?: string;
}

/** The user a credential is registered for. `name` is shown by the authenticator. */
export interface WebAuthnUser {
  id: string;
  name: string;
  displayName?: string;
}

/** What `verifyAuthentication` returns: who signed in, and with which credential. */
export interface WebAuthnVerification {
  readonly userId: string;
  readonly method: 'webauthn';
  /** ISO-8601 UTC time of the verification. */
  readonly at: string;
  readonly credentialId: string;
  /** The authenticator verified the user (PIN / biometrics): a multi-factor proof by itself. */
  readonly userVerified: boolean;
}

/** What `verifyRegistration` returns (no key material). */
export interface WebAuthnRegistration {
  readonly userId: string;
  readonly credentialId: string;
  readonly deviceType: 'singleDevice' | 'multiDevice';
  readonly backedUp: boolean;
  readonly userVerified: boolean;
}

/** Non-secret parameters, as compliance evidence. */
export interface WebAuthnFactorDescription {
  readonly method: 'webauthn';
  readonly standard: 'W3C WebAuthn Level 3';
  readonly rpId: string;
  readonly origins: readonly string[];
  readonly userVerification: 'required' | 'preferred';
  readonly residentKey: 'required' | 'preferred' | 'discouraged';
  readonly algorithms: readonly number[];
  readonly challengeTtlSec: number;
  readonly singleUseChallenges: true;
  readonly counterCheck: true;
  readonly throttled: boolean;
}

const DEFAULT_ALGORITHMS = [-8, -7, -257];
/** COSE algorithms @simplewebauthn/server can verify; others cannot be allowed. */
const KNOWN_ALGORITHMS: ReadonlySet<number> = new Set([
  -8, -7, -35, -36, -37, -38, -39, -257, -258, -259, -65535,
]);
const B64URL_RE = /^[A-Za-z0-9_-]{16,1366}$/;
const RP_ID_RE = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
/** clientDataJSON is small (a type, a challenge, an origin); bound what is decoded before verification. */
const CLIENT_DATA_MAX = 4096;

function invalid(message: string): BulwarkMfaError {
  return new BulwarkMfaError(ErrorCodes.MFA_WEBAUTHN_INVALID, message);
}

function checkOrigin(origin: unknown, path: string): string {
  let url: URL;
  try {
    url = new URL(String(origin));
  } catch {
    throw configError(path, 'must be an origin such as https://clinic.example');
  }
  if (url.origin !== origin)
    throw configError(path, `must be an exact origin (scheme://host[:port]), got ${String(origin)}`);
  if (url.protocol !== 'https:' && url.hostname !== 'localhost') {
    throw configError(path, 'must be https (http only for localhost): WebAuthn needs a secure context');
  }
  return url.origin;
}

/** The challenge a response answers, read from its clientDataJSON; undefined when unreadable. */
function challengeOf(response: { response?: { clientDataJSON?: unknown } } | undefined): string | undefined {
  const encoded = response?.response?.clientDataJSON;
  if (typeof encoded !== 'string' || encoded.length > CLIENT_DATA_MAX) return undefined;
  try {
    const data = JSON.parse(Buffer.from(encoded, 'base64url').toString('utf8')) as { challenge?: unknown };
    return typeof data?.challenge === 'string' && B64URL_RE.test(data.challenge) ? data.challenge : undefined;
  } catch {
    return undefined;
  }
}

function isResponse(value: unknown): value is { id: string; response: Record<string, unknown> } {
  const v = value as { id?: unknown; response?: unknown; type?: unknown } | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.id === 'string' &&
    B64URL_RE.test(v.id) &&
    v.type === 'public-key' &&
    typeof v.response === 'object' &&
    v.response !== null
  );
}

/**
 * WebAuthn / passkeys (W3C WebAuthn Level 3) on @simplewebauthn/server: registration and
 * authentication ceremonies whose challenges are generated and kept server side, single use and
 * short-lived; an exact origin and RP id allow-list; user verification required by default;
 * discoverable credentials (username-less sign-in); and signature-counter checks that refuse a
 * counter that did not increase (§6.1.1: a sign of a cloned authenticator).
 *
 * Attestation is `none`: Bulwark trusts the key the user registers, not the make of the device
 * (an enterprise that needs attestation should verify it with a metadata service).
 */
export class WebAuthnFactor {
  readonly #store: WebAuthnStore;
  readonly #rpId: string;
  readonly #rpName: string;
  readonly #origins: readonly string[];
  readonly #uv: 'required' | 'preferred';
  readonly #residentKey: 'required' | 'preferred' | 'discouraged';
  readonly #algorithms: readonly number[];
  readonly #ttlMs: number;
  readonly #guard?: MfaAttemptGuard;
  readonly #audit?: MfaAuditSink;
  readonly #clock: () => Date;

  constructor(options: WebAuthnFactorOptions) {
    const path = options?.configPath ?? 'mfa.webauthn';
    if (options === null || typeof options !== 'object') throw configError(path, 'must be an options object');
    if (
      typeof options.store?.takeChallenge !== 'function' ||
      typeof options.store?.updateCounter !== 'function'
    ) {
      throw configError(`${path}.store`, 'must be a WebAuthnStore');
    }
    if (typeof options.rpId !== 'string' || !RP_ID_RE.test(options.rpId)) {
      throw configError(
        `${path}.rpId`,
        'must be a lower-case domain name such as clinic.example (no scheme or port)',
      );
    }
    if (typeof options.rpName !== 'string' || options.rpName.trim() === '' || options.rpName.length > 64) {
      throw configError(`${path}.rpName`, 'must be a non-empty string of at most 64 characters');
    }
    if (!Array.isArray(options.origins) || options.origins.length === 0) {
      throw configError(`${path}.origins`, 'must be a non-empty array of origins');
    }
    const origins = options.origins.map((o, i) => checkOrigin(o, `${path}.origins[${i}]`));
    for (const [i, origin] of origins.entries()) {
      const host = new URL(origin).hostname;
      // WebAuthn §7.1 step 9 / §5.1.4.1: the RP id must be the origin's host or a registrable suffix of it.
      if (host !== options.rpId && !host.endsWith(`.${options.rpId}`)) {
        throw configError(`${path}.origins[${i}]`, `is not on the RP id ${options.rpId}`);
      }
    }
    const uv = options.userVerification ?? 'required';
    if (uv !== 'required' && uv !== 'preferred') {
      throw configError(`${path}.userVerification`, "must be 'required' or 'preferred'");
    }
    const residentKey = options.residentKey ?? 'preferred';
    if (!['required', 'preferred', 'discouraged'].includes(residentKey)) {
      throw configError(`${path}.residentKey`, "must be 'required', 'preferred' or 'discouraged'");
    }
    const algorithms = options.algorithms ?? DEFAULT_ALGORITHMS;
    if (
      !Array.isArray(algorithms) ||
      algorithms.length === 0 ||
      algorithms.some((a) => !KNOWN_ALGORITHMS.has(a))
    ) {
      throw configError(
        `${path}.algorithms`,
        `must be a non-empty array of COSE algorithm ids (${[...KNOWN_ALGORITHMS].join(', ')})`,
      );
    }
    const ttl = options.challengeTtlSec ?? 300;
    if (!Number.isInteger(ttl) || ttl < 30 || ttl > 600) {
      throw configError(`${path}.challengeTtlSec`, `must be an integer from 30 to 600, got ${String(ttl)}`);
    }
    if (options.guard !== undefined && typeof options.guard?.reserve !== 'function') {
      throw configError(`${path}.guard`, 'must be a BruteForceGuard (reserve)');
    }
    if (options.audit !== undefined && typeof options.audit?.append !== 'function') {
      throw configError(`${path}.audit`, 'must be an AuditLog (append)');
    }
    this.#store = options.store;
    this.#rpId = options.rpId;
    this.#rpName = options.rpName;
    this.#origins = Object.freeze(origins);
    this.#uv = uv;
    this.#residentKey = residentKey;
    this.#algorithms = Object.freeze([...algorithms]);
    this.#ttlMs = ttl * 1000;
    this.#guard = options.guard;
    this.#audit = options.audit;
    this.#clock = options.clock ?? (() => new Date());
  }

  /**
   * Options for `navigator.credentials.create()` (send them as JSON; `@simplewebauthn/browser`'s
   * `startRegistration` takes them as they are). Call only for a user who is signed in (and, to
   * add a credential to an account that has one, recently re-authenticated).
   */
  async registrationOptions(user: WebAuthnUser): Promise<PublicKeyCredentialCreationOptionsJSON> {
    checkUserId(user?.id);
    if (typeof user.name !== 'string' || user.name.trim() === '' || user.name.length > 64) {
      throw new BulwarkMfaError(
        ErrorCodes.MFA_INVALID_ARGUMENT,
        'user.name must be a non-empty string of at most 64 characters',
      );
    }
    const existing = await storeCall(() => this.#store.listCredentials(user.id));
    // One handle per user, so an authenticator replaces the user's passkey instead of adding a second.
    const userHandle = existing[0]?.userHandle ?? randomBytes(32).toString('base64url');
    const options = await generateRegistrationOptions({
      rpName: this.#rpName,
      rpID: this.#rpId,
      userName: user.name,
      userID: new Uint8Array(Buffer.from(userHandle, 'base64url')),
      userDisplayName: user.displayName ?? user.name,
      timeout: this.#ttlMs,
      attestationType: 'none',
      excludeCredentials: existing.map((c) => ({
        id: c.id,
        ...(c.transports ? { transports: c.transports } : {}),
      })),
      authenticatorSelection: { residentKey: this.#residentKey, userVerification: this.#uv },
      supportedAlgorithmIDs: [...this.#algorithms],
    });
    await this.#putChallenge(options.challenge, { purpose: 'registration', userId: user.id, userHandle });
    return options;
  }

  /** Verifies the `navigator.credentials.create()` response of `userId` and stores the credential. */
  async verifyRegistration(
    userId: string,
    response: RegistrationResponseJSON,
    attempt?: MfaAttempt,
    options: { name?: string } = {},
  ): Promise<WebAuthnRegistration> {
    checkUserId(userId);
    return audited(
      this.#audit,
      { userId, factor: 'webauthn', step: 'register', ...(attempt ? { attempt } : {}) },
      async () => {
        if (!isResponse(response)) throw invalid('the registration response is malformed');
        const pending = await this.#takeChallenge(response, 'registration');
        if (pending.userId !== userId || pending.userHandle === undefined) {
          throw invalid('the challenge was issued for another user');
        }
        let result: Awaited<ReturnType<typeof verifyRegistrationResponse>>;
        try {
          result = await verifyRegistrationResponse({
            response,
            expectedChallenge: challengeOf(response)!,
            expectedOrigin: [...this.#origins],
            expectedRPID: this.#rpId,
            requireUserVerification: this.#uv === 'required',
            supportedAlgorithmIDs: [...this.#algorithms],
          });
        } catch (cause) {
          throw new BulwarkMfaError(
            ErrorCodes.MFA_WEBAUTHN_INVALID,
            'the registration response does not verify',
            undefined,
            { cause },
          );
        }
        if (!result.verified) throw invalid('the registration response does not verify');
        const info = result.registrationInfo;
        const now = this.#clock().toISOString();
        const name = options.name;
        const record: StoredWebAuthnCredential = {
          id: info.credential.id,
          userId,
          userHandle: pending.userHandle,
          publicKey: Buffer.from(info.credential.publicKey).toString('base64url'),
          counter: info.credential.counter,
          ...(info.credential.transports ? { transports: [...info.credential.transports] } : {}),
          deviceType: info.credentialDeviceType,
          backedUp: info.credentialBackedUp,
          ...(typeof response.clientExtensionResults?.credProps?.rk === 'boolean'
            ? { discoverable: response.clientExtensionResults.credProps.rk }
            : {}),
          ...(typeof name === 'string' && name.length > 0 && name.length <= 64 ? { name } : {}),
          createdAt: now,
        };
        if (!(await storeCall(() => this.#store.addCredential(record)))) {
          throw new BulwarkMfaError(ErrorCodes.MFA_ALREADY_ENROLLED, 'this credential is already registered');
        }
        return Object.freeze({
          userId,
          credentialId: record.id,
          deviceType: record.deviceType,
          backedUp: record.backedUp,
          userVerified: info.userVerified,
        });
      },
      (r) => ({ details: { credentialId: r.credentialId } }),
    );
  }

  /**
   * Options for `navigator.credentials.get()`. With `userId`, the user's credentials are listed
   * (second factor after a password); without, the browser offers any discoverable passkey of
   * this site (username-less sign-in) and the response says whose it is.
   */
  async authenticationOptions(
    options: { userId?: string } = {},
  ): Promise<PublicKeyCredentialRequestOptionsJSON> {
    const userId = options.userId;
    if (userId !== undefined) checkUserId(userId);
    const credentials =
      userId === undefined ? [] : await storeCall(() => this.#store.listCredentials(userId));
    const result = await generateAuthenticationOptions({
      rpID: this.#rpId,
      timeout: this.#ttlMs,
      userVerification: this.#uv,
      allowCredentials: credentials.map((c) => ({
        id: c.id,
        ...(c.transports ? { transports: c.transports } : {}),
      })),
    });
    await this.#putChallenge(result.challenge, {
      purpose: 'authentication',
      ...(userId !== undefined ? { userId } : {}),
    });
    return result;
  }

  /**
   * Verifies a `navigator.credentials.get()` response: the challenge is taken from the store
   * (unknown, used or expired: refused), then origin, RP id, signature, user presence and (when
   * required) user verification are checked, and the signature counter must have increased
   * (unless the authenticator keeps none). Throws ERR_MFA_WEBAUTHN_INVALID (ERR_MFA_WEBAUTHN_COUNTER
   * for a counter that went back) and never says which check failed in the message.
   */
  async verifyAuthentication(
    response: AuthenticationResponseJSON,
    attempt?: MfaAttempt,
  ): Promise<WebAuthnVerification> {
    let userId: string | undefined;
    const base = { factor: 'webauthn', step: 'verify', ...(attempt ? { attempt } : {}) } as const;
    let verification: WebAuthnVerification;
    try {
      if (!isResponse(response)) throw invalid('the authentication response is malformed');
      const pending = await this.#takeChallenge(response, 'authentication');
      const credential = await storeCall(() => this.#store.getCredential(response.id));
      if (credential === undefined) throw invalid('the credential is not registered');
      if (pending.userId !== undefined && pending.userId !== credential.userId) {
        throw invalid('the credential belongs to another user than the one signing in');
      }
      userId = credential.userId;
      const handle = response.response.userHandle;
      if (handle !== undefined && handle !== credential.userHandle) {
        throw invalid('the user handle does not match the credential');
      }
      verification = await guarded(this.#guard, credential.userId, attempt, () =>
        this.#assert(response, credential),
      );
    } catch (error) {
      await recordMfa(this.#audit, {
        ...base,
        userId,
        outcome: 'failure',
        reason: error instanceof BulwarkError ? error.code : 'error',
      });
      throw error;
    }
    await recordMfa(this.#audit, {
      ...base,
      userId: verification.userId,
      outcome: 'success',
      details: { credentialId: verification.credentialId, userVerified: verification.userVerified },
    });
    return verification;
  }

  /** The user's registered credentials (no public keys), e.g. for an account page. */
  async listCredentials(
    userId: string,
  ): Promise<Array<Omit<StoredWebAuthnCredential, 'publicKey' | 'userHandle'>>> {
    checkUserId(userId);
    const list = await storeCall(() => this.#store.listCredentials(userId));
    return list.map(({ publicKey: _p, userHandle: _h, ...rest }) => rest);
  }

  /** Removes one of the user's credentials; false when the user has no such credential. */
  async removeCredential(userId: string, credentialId: string): Promise<boolean> {
    checkUserId(userId);
    if (typeof credentialId !== 'string' || !B64URL_RE.test(credentialId)) return false;
    return storeCall(() => this.#store.deleteCredential(userId, credentialId));
  }

  /** True when the user has at least one credential. */
  async isEnrolled(userId: string): Promise<boolean> {
    checkUserId(userId);
    return (await storeCall(() => this.#store.listCredentials(userId))).length > 0;
  }

  describe(): WebAuthnFactorDescription {
    return Object.freeze({
      method: 'webauthn',
      standard: 'W3C WebAuthn Level 3',
      rpId: this.#rpId,
      origins: this.#origins,
      userVerification: this.#uv,
      residentKey: this.#residentKey,
      algorithms: this.#algorithms,
      challengeTtlSec: this.#ttlMs / 1000,
      singleUseChallenges: true,
      counterCheck: true,
      throttled: this.#guard !== undefined,
    });
  }

  async #assert(
    response: AuthenticationResponseJSON,
    credential: StoredWebAuthnCredential,
  ): Promise<WebAuthnVerification> {
    let result: Awaited<ReturnType<typeof verifyAuthenticationResponse>>;
    try {
      result = await verifyAuthenticationResponse({
        response,
        expectedChallenge: challengeOf(response)!,
        expectedOrigin: [...this.#origins],
        expectedRPID: this.#rpId,
        // Counter 0 turns the library's own counter check off: it is done below, atomically.
        credential: {
          id: credential.id,
          publicKey: new Uint8Array(Buffer.from(credential.publicKey, 'base64url')),
          counter: 0,
        },
        requireUserVerification: this.#uv === 'required',
      });
    } catch (cause) {
      throw new BulwarkMfaError(
        ErrorCodes.MFA_WEBAUTHN_INVALID,
        'the authentication response does not verify',
        undefined,
        { cause },
      );
    }
    if (!result.verified) throw invalid('the authentication response does not verify');
    const next = result.authenticationInfo.newCounter;
    // §6.1.1: a counter that does not increase means two copies of the private key exist.
    // Authenticators without a counter always send 0 (both 0: nothing to compare).
    if ((next > 0 || credential.counter > 0) && next <= credential.counter) {
      throw new BulwarkMfaError(
        ErrorCodes.MFA_WEBAUTHN_COUNTER,
        'the signature counter did not increase: the authenticator may have been cloned',
      );
    }
    const now = this.#clock().toISOString();
    if (!(await storeCall(() => this.#store.updateCounter(credential.id, credential.counter, next, now)))) {
      throw new BulwarkMfaError(ErrorCodes.MFA_WEBAUTHN_COUNTER, 'the credential was used concurrently');
    }
    return Object.freeze({
      userId: credential.userId,
      method: 'webauthn' as const,
      at: now,
      credentialId: credential.id,
      userVerified: result.authenticationInfo.userVerified,
    });
  }

  async #putChallenge(challenge: string, record: Omit<StoredChallenge, 'expiresAt'>): Promise<void> {
    const expiresAt = this.#clock().getTime() + this.#ttlMs;
    await storeCall(() => this.#store.putChallenge(challenge, { ...record, expiresAt }));
  }

  /** Takes (consumes) the challenge the response answers; refuses unknown, expired and misused ones. */
  async #takeChallenge(
    response: { response?: { clientDataJSON?: unknown } },
    purpose: StoredChallenge['purpose'],
  ): Promise<StoredChallenge> {
    const challenge = challengeOf(response);
    if (challenge === undefined) throw invalid('the response carries no readable challenge');
    const pending = await storeCall(() => this.#store.takeChallenge(challenge));
    if (pending === undefined) throw invalid('the challenge is unknown or was already used');
    if (pending.purpose !== purpose) throw invalid('the challenge was issued for another ceremony');
    if (pending.expiresAt <= this.#clock().getTime()) throw invalid('the challenge has expired');
    return pending;
  }
}
