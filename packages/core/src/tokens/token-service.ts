import {
  KeyObject,
  createPublicKey,
  randomUUID,
  webcrypto,
  type JsonWebKey as NodeJsonWebKey,
} from 'node:crypto';
import { types as utilTypes } from 'node:util';
import type { JSONWebKeySet, JWK, JWTVerifyGetKey, JWTVerifyOptions } from 'jose';
import { BulwarkConfigError, BulwarkTokenError, ErrorCodes } from '../errors';
import { jose } from '../lib/jose';
import {
  algorithmsForKey,
  isHmacAlgorithm,
  isJwsAlgorithm,
  JWS_ALGORITHMS,
  LEGACY_ALGORITHMS,
  MODERN_RSA_BITS,
  rsaModulusBits,
  type JwsAlgorithm,
  type LegacyAlgorithm,
} from './jws-algorithms';
import { mapJoseError, safeHeaderValue } from './map-jose-error';
import {
  decodableSegment,
  decodePayload,
  finiteNumber,
  isPlainHeader,
  normalizeTyp,
  plainJwsFastPath,
  plainSignatureChecks,
  type PlainSignatureCheck,
} from './plain-jws';
import {
  configError,
  jwkThumbprint,
  publicJwkOf,
  toKeyObject,
  type TokenKeyInput,
  verificationKeyFor,
} from './token-key';

/** Verify with one key (public key or HMAC secret). The `kid` header is not consulted. */
export interface SingleKeyVerification {
  key: TokenKeyInput;
}

/** Verify against a JWKS held in memory; the key is picked by the token's `kid` and `alg`. */
export interface LocalJwksVerification {
  jwks: JSONWebKeySet;
}

/** Verify against a JWKS fetched (and cached) from a URL; https only unless explicitly allowed. */
export interface RemoteJwksVerification {
  jwksUrl: string | URL;
  /** Abort the fetch after this many ms. Default 5000. */
  timeoutMs?: number;
  /** Minimum ms between refetches triggered by an unknown kid. Default 30000. */
  cooldownMs?: number;
  /** Refetch the JWKS when older than this many ms. Default 600000 (10 min). */
  cacheMaxAgeMs?: number;
  /** Extra request headers (e.g. an API key for a private JWKS endpoint). */
  headers?: Record<string, string>;
  /** Accept an http:// URL. Only for local development and tests: keys over http can be swapped in transit. */
  allowInsecureJwksUrl?: boolean;
}

export type TokenVerification = SingleKeyVerification | LocalJwksVerification | RemoteJwksVerification;

export interface TokenSigningKey {
  /** Private key (asymmetric algorithms) or secret (HS*, at least as long as the hash: 32/48/64 bytes). */
  key: TokenKeyInput;
  /** Key id put in the `kid` header. Default: RFC 7638 thumbprint for asymmetric keys, none for secrets. */
  kid?: string;
  /** Signing algorithm; must be in `algorithms`. Default: the first allowed algorithm the key supports. */
  alg?: JwsAlgorithm;
}

export interface TokenServiceOptions {
  /** Explicit allow-list of JWS algorithms (required). `none` is never allowed. */
  algorithms: readonly JwsAlgorithm[];
  /**
   * Permit HS* and asymmetric algorithms in the same allow-list. Off by default: a mixed list is
   * what makes algorithm-confusion attacks possible (RFC 8725 §2.1, §3.1).
   */
  allowMixedAlgorithmFamilies?: boolean;
  /**
   * Legacy choices this service accepts, each named (ASVS 5.0 V11.6.1, V11.2.3). Default none:
   * RS256 / RS384 / RS512 (RSASSA-PKCS1-v1_5) in `algorithms` and RSA keys under 3072 bits are
   * refused at start-up. An identity provider that signs RS256 with 2048-bit keys (most do)
   * needs `legacyAlgorithms: ['RS256', 'RSA-2048']`; prefer PS256, ES256 or EdDSA where you choose.
   * `HMAC-SHORT-SECRET` lets `verification` accept an existing app's HS256 secret of 16-31 bytes
   * while it rotates; it never applies to `signingKey`.
   */
  legacyAlgorithms?: readonly LegacyAlgorithm[];
  /**
   * Receives the one start-up warning a legacy opt-in in use gives (`HMAC-SHORT-SECRET`), without
   * the secret. Default `console.warn`.
   */
  onWarning?: (message: string) => void;
  /** Key used by `sign()`. Optional for a verify-only service. */
  signingKey?: TokenSigningKey;
  /** How `verify()` finds its key. Default: the public half of `signingKey` (or the same secret). */
  verification?: TokenVerification;
  /** Expected and issued `iss`. */
  issuer?: string;
  /** Expected `aud` (any of, if a list) and the default `aud` of issued tokens. */
  audience?: string | readonly string[];
  /** Leeway for exp/nbf/iat in seconds. Default 5. */
  clockToleranceSec?: number;
  /** Refuse tokens whose `iat` is older than this, whatever their `exp` says. */
  maxTokenAgeSec?: number;
  /**
   * Claims every verified token must carry. Default ['exp', 'iat', 'sub']: tokens here identify a
   * subject and must expire. `exp` is always required even if omitted from a custom list.
   */
  requiredClaims?: readonly string[];
  /** Lifetime of issued tokens in seconds. Default 900 (15 minutes). */
  defaultTtlSec?: number;
  /**
   * Explicit `typ` header (RFC 8725 §3.11), e.g. 'at+jwt' (RFC 9068). When set, issued tokens
   * carry it and verified tokens must. Default: issue 'JWT', do not check.
   */
  typ?: string;
  /** Tokens longer than this (characters) are refused before parsing. Default 8192. */
  maxTokenLength?: number;
  /** Time source (tests, replay tools). Default `() => new Date()`. */
  clock?: () => Date;
  /** Config path used in error messages. Default 'tokens'. */
  configPath?: string;
}

export interface TokenClaims {
  iss?: string;
  sub?: string;
  aud?: string | string[];
  exp?: number;
  nbf?: number;
  iat?: number;
  jti?: string;
  [claim: string]: unknown;
}

export interface TokenHeader {
  alg: string;
  kid?: string;
  typ?: string;
  [parameter: string]: unknown;
}

export interface VerifiedToken {
  payload: TokenClaims;
  protectedHeader: TokenHeader;
}

export interface SignOptions {
  /** `sub`; overrides `claims.sub`. */
  subject?: string;
  /** Lifetime in seconds; default `defaultTtlSec`. */
  ttlSec?: number;
  /** `aud`; default the service's `audience`. */
  audience?: string | readonly string[];
  /** `nbf` as seconds from now (0 = valid immediately). Default: no `nbf`. */
  notBeforeSec?: number;
  /** `jti`; default a random UUID (lets callers keep a deny-list for revocation). */
  jwtId?: string;
}

/** Registered claims the service sets itself; a caller passing them in `claims` is a bug. */
const RESERVED_CLAIMS = ['iss', 'aud', 'exp', 'nbf', 'iat', 'jti'];
/** The floor a legacy HMAC secret keeps under the `HMAC-SHORT-SECRET` opt-in (RFC 7518 §3.2 asks for 32). */
const LEGACY_HMAC_MIN_BYTES = 16;
const DEFAULT_REQUIRED_CLAIMS = ['exp', 'iat', 'sub'];
// Compact JWS: three base64url segments (RFC 7515 §7.1). Only the header is decoded before jose runs.
const B64URL = /^[A-Za-z0-9_-]+$/;
/**
 * Most plain header segments remembered (see `#plainHeaders`): an issuer sends one header segment
 * per key and algorithm, so a handful covers a deployment, including a key rotation.
 */
const PLAIN_HEADER_CACHE_SIZE = 16;

function malformed(message = 'Token is malformed.'): BulwarkTokenError {
  return new BulwarkTokenError(ErrorCodes.TOKEN_MALFORMED, message);
}

function claimError(message: string, details?: Record<string, unknown>): BulwarkTokenError {
  return new BulwarkTokenError(ErrorCodes.TOKEN_CLAIM_INVALID, message, details);
}

function isNonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0;
}

function validAudience(value: unknown): value is string | readonly string[] {
  return (
    isNonEmptyString(value) ||
    (Array.isArray(value) && value.length > 0 && value.every((v) => isNonEmptyString(v)))
  );
}

function nonNegativeInt(value: unknown, path: string, fallback: number, min = 0): number {
  const v = value ?? fallback;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) {
    throw configError(path, `must be an integer >= ${min}, got ${typeof v === 'number' ? v : typeof v}`);
  }
  return v;
}

/** What `#preflight` learnt from a token without a key. */
interface Preflighted {
  header: TokenHeader;
  /** The three base64url segments: header, payload, signature. */
  parts: string[];
  /** The header is the plain case the synchronous path may accept (only alg, typ, kid; valid UTF-8). */
  plain: boolean;
}

/** A CryptoKey being imported (`pending`) or ready (`key`, read without an await on the hot path). */
interface HmacKeySlot {
  key?: webcrypto.CryptoKey;
  pending: Promise<webcrypto.CryptoKey>;
}

/** Imports an HMAC secret once for `alg` and `usage`; a failure surfaces on the first use, not as an unhandled rejection. */
function importHmacKey(secret: KeyObject, alg: JwsAlgorithm, usage: 'sign' | 'verify'): HmacKeySlot {
  const slot: HmacKeySlot = {
    pending: webcrypto.subtle.importKey(
      'raw',
      secret.export(),
      { name: 'HMAC', hash: `SHA-${alg.slice(2)}` },
      false,
      [usage],
    ),
  };
  slot.pending.then(
    (key) => {
      slot.key = key;
    },
    () => {},
  );
  return slot;
}

/**
 * Issues and verifies JWTs (JWS compact) with jose, behind an explicit algorithm allow-list, with
 * every failure mapped to a BulwarkTokenError code. Follows RFC 8725 (JWT Best Current Practices).
 * Plain tokens under a single key are accepted by a synchronous node:crypto check in front of jose
 * (plain-jws.ts), which never rejects: jose stays the reference for everything else.
 */
export class TokenService {
  readonly #algorithms: readonly JwsAlgorithm[];
  readonly #legacy: ReadonlySet<LegacyAlgorithm>;
  /** A secret shorter than its hash was accepted (`HMAC-SHORT-SECRET`). */
  #shortSecret = false;
  readonly #verifyAlgorithms: readonly JwsAlgorithm[];
  readonly #signing?: { key: KeyObject; kid?: string; alg: JwsAlgorithm };
  readonly #verifyKey: KeyObject | JWTVerifyGetKey;
  /**
   * An HMAC secret imported into WebCrypto once per algorithm (jose re-imports a secret KeyObject
   * or Uint8Array on every call, ~8% of a verification): started at construction, non-extractable,
   * usable only to verify (or only to sign, for the signing key).
   */
  readonly #hmacVerifyKeys = new Map<string, HmacKeySlot>();
  readonly #hmacSignKey?: HmacKeySlot;
  /**
   * Synchronous node:crypto signature checks per allowed algorithm, for a single static verify key
   * (none for a JWKS): the accept-only fast path of `verify()` (plain-jws.ts).
   */
  readonly #plainChecks?: ReadonlyMap<string, PlainSignatureCheck>;
  /** Claims jose requires to be present with this configuration (its presence check, in one list). */
  readonly #plainRequired: readonly string[];
  /** The configured `typ`, normalised as jose compares it. */
  readonly #plainTyp?: string;
  /**
   * Header segments of tokens the fast path accepted, keyed by the exact segment string, with the
   * header `#preflight` parsed from it (plain, alg allowed): the same issuer sends the same segment
   * on every token, so its base64 decode, JSON.parse and checks run once. Filled only on an
   * accepted (correctly signed) token, so a client without the key cannot fill it; bounded, the
   * oldest entry evicted first. The result depends on the segment string alone, so a hit decides
   * exactly as a fresh parse would.
   */
  readonly #plainHeaders = new Map<string, Readonly<TokenHeader>>();
  /** The jwtVerify options that do not change between calls (only `currentDate` does). */
  #verifyOptions!: Omit<JWTVerifyOptions, 'currentDate'>;
  readonly #issuer?: string;
  readonly #audience?: string | readonly string[];
  readonly #clockTolerance: number;
  readonly #maxTokenAge?: number;
  readonly #requiredClaims: readonly string[];
  readonly #defaultTtl: number;
  readonly #typ?: string;
  readonly #maxTokenLength: number;
  readonly #clock: () => Date;
  readonly #path: string;

  constructor(options: TokenServiceOptions) {
    if (options === null || typeof options !== 'object') {
      throw new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, 'tokens must be an options object', {
        path: 'tokens',
      });
    }
    const path = options.configPath ?? 'tokens';
    this.#legacy = TokenService.#validateLegacy(options.legacyAlgorithms, `${path}.legacyAlgorithms`);
    this.#algorithms = TokenService.#validateAlgorithms(options, path, this.#legacy);

    if (options.issuer !== undefined && !isNonEmptyString(options.issuer)) {
      throw configError(`${path}.issuer`, 'must be a non-empty string');
    }
    this.#issuer = options.issuer;
    if (options.audience !== undefined && !validAudience(options.audience)) {
      throw configError(`${path}.audience`, 'must be a non-empty string or a non-empty array of them');
    }
    this.#audience = Array.isArray(options.audience) ? [...options.audience] : options.audience;
    this.#clockTolerance = nonNegativeInt(options.clockToleranceSec, `${path}.clockToleranceSec`, 5);
    if (this.#clockTolerance > 300) {
      throw configError(`${path}.clockToleranceSec`, `must be <= 300, got ${this.#clockTolerance}`);
    }
    if (options.maxTokenAgeSec !== undefined) {
      this.#maxTokenAge = nonNegativeInt(options.maxTokenAgeSec, `${path}.maxTokenAgeSec`, 0, 1);
    }
    this.#defaultTtl = nonNegativeInt(options.defaultTtlSec, `${path}.defaultTtlSec`, 900, 1);
    this.#maxTokenLength = nonNegativeInt(options.maxTokenLength, `${path}.maxTokenLength`, 8192, 64);
    if (options.typ !== undefined && !isNonEmptyString(options.typ)) {
      throw configError(`${path}.typ`, 'must be a non-empty string');
    }
    this.#typ = options.typ;
    if (options.clock !== undefined && typeof options.clock !== 'function') {
      throw configError(`${path}.clock`, 'must be a function returning a Date');
    }
    this.#clock = options.clock ?? (() => new Date());
    this.#path = path;

    const required = options.requiredClaims ?? DEFAULT_REQUIRED_CLAIMS;
    if (!Array.isArray(required) || !required.every((c) => isNonEmptyString(c))) {
      throw configError(`${path}.requiredClaims`, 'must be an array of claim names');
    }
    this.#requiredClaims = [...new Set(['exp', ...required])];

    if (options.signingKey !== undefined)
      this.#signing = this.#setUpSigning(options.signingKey, `${path}.signingKey`);

    const { key, algorithms } = this.#setUpVerification(options, path);
    this.#verifyKey = key;
    this.#verifyAlgorithms = algorithms;
    if (this.#signing !== undefined && this.#signing.key.type === 'secret') {
      this.#hmacSignKey = importHmacKey(this.#signing.key, this.#signing.alg, 'sign');
    }
    if (key instanceof KeyObject && key.type === 'secret') {
      for (const alg of algorithms) this.#hmacVerifyKeys.set(alg, importHmacKey(key, alg, 'verify'));
    }
    if (key instanceof KeyObject) this.#plainChecks = plainSignatureChecks(key, algorithms);
    this.#plainRequired = [
      ...new Set([
        ...this.#requiredClaims,
        ...(this.#maxTokenAge !== undefined ? ['iat'] : []),
        ...(this.#audience !== undefined ? ['aud'] : []),
        ...(this.#issuer !== undefined ? ['iss'] : []),
      ]),
    ];
    this.#plainTyp = this.#typ === undefined ? undefined : normalizeTyp(this.#typ);
    this.#verifyOptions = Object.freeze({
      algorithms: [...algorithms],
      ...(this.#issuer !== undefined ? { issuer: this.#issuer } : {}),
      ...(this.#audience !== undefined
        ? { audience: typeof this.#audience === 'string' ? this.#audience : [...this.#audience] }
        : {}),
      clockTolerance: this.#clockTolerance,
      ...(this.#maxTokenAge !== undefined ? { maxTokenAge: this.#maxTokenAge } : {}),
      requiredClaims: [...this.#requiredClaims],
      ...(this.#typ !== undefined ? { typ: this.#typ } : {}),
    });
    if (options.onWarning !== undefined && typeof options.onWarning !== 'function') {
      throw configError(`${path}.onWarning`, 'must be a function');
    }
    if (this.#shortSecret) {
      // Once, at start-up, and never the secret itself.
      (options.onWarning ?? ((m: string) => console.warn(m)))(
        `${path}: an HMAC secret shorter than 32 bytes is in use (legacyAlgorithms: ['HMAC-SHORT-SECRET']). ` +
          'Tokens signed with it can be forged by guessing the secret offline. Rotate: sign new tokens ' +
          'under a 32-byte random secret with a new kid, accept both for one token lifetime, then drop ' +
          'the old one (docs/adopting.md, "Legacy HMAC secrets").',
      );
    }
  }

  /**
   * Legacy opt-ins this service actually uses, for compliance evidence: `HMAC-SHORT-SECRET` when a
   * short secret was accepted, `RSA-2048` / `RS*` when named in `legacyAlgorithms`.
   */
  get legacyInUse(): readonly LegacyAlgorithm[] {
    return [...this.#legacy].filter((l) => l !== 'HMAC-SHORT-SECRET' || this.#shortSecret);
  }

  /**
   * The JWS algorithms a key can be used with here. A short HMAC secret (16-31 bytes) gets HS256 once
   * opted in, and only to verify the app's existing tokens: new tokens are never signed with it.
   */
  #algorithmsForKey(key: KeyObject, use: 'sign' | 'verify' = 'verify'): JwsAlgorithm[] {
    const algorithms = algorithmsForKey(key);
    if (
      use === 'verify' &&
      algorithms.length === 0 &&
      key.type === 'secret' &&
      (key.symmetricKeySize ?? 0) >= LEGACY_HMAC_MIN_BYTES &&
      this.#legacy.has('HMAC-SHORT-SECRET')
    ) {
      this.#shortSecret = true;
      return ['HS256'];
    }
    return algorithms;
  }

  /** The algorithm allow-list (compliance evidence). */
  get algorithms(): readonly JwsAlgorithm[] {
    return this.#algorithms;
  }

  /** The signing algorithm and kid, if this service signs. */
  get signingAlgorithm(): { alg: JwsAlgorithm; kid?: string } | undefined {
    return this.#signing === undefined ? undefined : { alg: this.#signing.alg, kid: this.#signing.kid };
  }

  static #validateLegacy(value: unknown, path: string): ReadonlySet<LegacyAlgorithm> {
    if (value === undefined) return new Set();
    if (!Array.isArray(value) || !value.every((v) => (LEGACY_ALGORITHMS as readonly unknown[]).includes(v))) {
      throw configError(path, `must be an array of ${LEGACY_ALGORITHMS.join(', ')}`);
    }
    return new Set(value as LegacyAlgorithm[]);
  }

  /** Refuses an RSA key under 3072 bits unless `RSA-2048` is opted into (smaller than 2048 never passes algorithmsForKey). */
  #checkKeyStrength(key: KeyObject, path: string): void {
    const bits = rsaModulusBits(key);
    if (bits !== undefined && bits < MODERN_RSA_BITS && !this.#legacy.has('RSA-2048')) {
      throw configError(
        path,
        `is a ${bits}-bit RSA key; keys under ${MODERN_RSA_BITS} bits are legacy (ASVS V11.2.3): ` +
          "use a 3072-bit RSA, P-256 or Ed25519 key, or opt in with legacyAlgorithms: ['RSA-2048']",
      );
    }
  }

  static #validateAlgorithms(
    options: TokenServiceOptions,
    path: string,
    legacy: ReadonlySet<LegacyAlgorithm>,
  ): readonly JwsAlgorithm[] {
    const list: unknown = options.algorithms;
    if (!Array.isArray(list) || list.length === 0) {
      throw configError(
        `${path}.algorithms`,
        `must be a non-empty array of JWS algorithms (${JWS_ALGORITHMS.join(', ')})`,
      );
    }
    list.forEach((alg: unknown, i) => {
      if (typeof alg === 'string' && alg.toLowerCase() === 'none') {
        throw configError(`${path}.algorithms[${i}]`, 'is "none": unsigned tokens are never accepted');
      }
      if (!isJwsAlgorithm(alg)) {
        throw configError(
          `${path}.algorithms[${i}]`,
          `must be one of ${JWS_ALGORITHMS.join(', ')}, got ${safeHeaderValue(alg) ?? typeof alg}`,
        );
      }
      if ((LEGACY_ALGORITHMS as readonly string[]).includes(alg) && !legacy.has(alg as LegacyAlgorithm)) {
        throw configError(
          `${path}.algorithms[${i}]`,
          `is ${alg}, an RSA PKCS#1 v1.5 signature (legacy, ASVS V11.6.1): use PS256, ES256 or EdDSA, ` +
            `or opt in with legacyAlgorithms: ['${alg}']`,
        );
      }
    });
    const algorithms = [...new Set(list as JwsAlgorithm[])];
    if (
      options.allowMixedAlgorithmFamilies !== undefined &&
      typeof options.allowMixedAlgorithmFamilies !== 'boolean'
    ) {
      throw configError(`${path}.allowMixedAlgorithmFamilies`, 'must be a boolean');
    }
    const hmac = algorithms.some(isHmacAlgorithm);
    const asymmetric = algorithms.some((a) => !isHmacAlgorithm(a));
    if (hmac && asymmetric && options.allowMixedAlgorithmFamilies !== true) {
      throw configError(
        `${path}.algorithms`,
        'mixes HMAC (HS*) and asymmetric algorithms, which enables algorithm-confusion attacks; ' +
          'use one family or set allowMixedAlgorithmFamilies: true',
      );
    }
    return Object.freeze(algorithms);
  }

  #setUpSigning(signing: TokenSigningKey, path: string): { key: KeyObject; kid?: string; alg: JwsAlgorithm } {
    if (signing === null || typeof signing !== 'object')
      throw configError(path, 'must be { key, kid?, alg? }');
    const key = toKeyObject(signing.key, `${path}.key`);
    if (key.type === 'public') {
      throw configError(`${path}.key`, 'is a public key; signing needs the private key or an HMAC secret');
    }
    this.#checkKeyStrength(key, `${path}.key`);
    const supported = this.#algorithmsForKey(key, 'sign');
    if (supported.length === 0) {
      throw configError(
        `${path}.key`,
        key.type === 'secret'
          ? "is an HMAC secret shorter than 32 bytes (RFC 7518 §3.2); new tokens are never signed with one (legacyAlgorithms: ['HMAC-SHORT-SECRET'] only lets verification accept the app's existing tokens while it rotates)"
          : 'is not a supported signing key (Ed25519, P-256/384/521, RSA >= 2048 bits)',
      );
    }
    let alg: JwsAlgorithm | undefined;
    if (signing.alg !== undefined) {
      if (!this.#algorithms.includes(signing.alg)) {
        throw configError(
          `${path}.alg`,
          `must be in algorithms, got ${safeHeaderValue(signing.alg) ?? 'invalid'}`,
        );
      }
      if (!supported.includes(signing.alg)) {
        throw configError(
          `${path}.alg`,
          `${signing.alg} does not fit the key (supports ${supported.join(', ')})`,
        );
      }
      alg = signing.alg;
    } else {
      alg = this.#algorithms.find((a) => supported.includes(a));
      if (alg === undefined) {
        throw configError(`${path}.key`, `supports ${supported.join(', ')}, none of which is in algorithms`);
      }
    }
    if (signing.kid !== undefined && !(isNonEmptyString(signing.kid) && signing.kid.length <= 256)) {
      throw configError(`${path}.kid`, 'must be a non-empty string of at most 256 characters');
    }
    const kid = signing.kid ?? (key.type === 'private' ? jwkThumbprint(key) : undefined);
    return { key, kid, alg };
  }

  #setUpVerification(
    options: TokenServiceOptions,
    path: string,
  ): { key: KeyObject | JWTVerifyGetKey; algorithms: readonly JwsAlgorithm[] } {
    const verification = options.verification;
    const vpath = `${path}.verification`;
    if (verification === undefined) {
      if (this.#signing === undefined) {
        throw configError(
          vpath,
          'is required when there is no signingKey (where would verification keys come from?)',
        );
      }
      const key = verificationKeyFor(this.#signing.key);
      return { key, algorithms: this.#algorithms.filter((a) => this.#algorithmsForKey(key).includes(a)) };
    }
    if (verification === null || typeof verification !== 'object') {
      throw configError(vpath, 'must be { key } | { jwks } | { jwksUrl, ... }');
    }
    const kinds = ['key', 'jwks', 'jwksUrl'].filter((k) => k in verification);
    if (kinds.length !== 1) throw configError(vpath, 'must have exactly one of key, jwks, jwksUrl');

    if ('key' in verification) {
      const key = toKeyObject(verification.key, `${vpath}.key`);
      if (key.type === 'private') {
        throw configError(`${vpath}.key`, 'is a private key; give verifiers only the public key');
      }
      this.#checkKeyStrength(key, `${vpath}.key`);
      // The algorithms jose may use with this key: the allow-list narrowed to the key's family.
      const algorithms = this.#algorithms.filter((a) => this.#algorithmsForKey(key).includes(a));
      if (algorithms.length === 0) {
        throw configError(
          `${vpath}.key`,
          key.type === 'secret' &&
            algorithmsForKey(key).length === 0 &&
            this.#algorithmsForKey(key).length === 0
            ? this.#legacy.has('HMAC-SHORT-SECRET')
              ? `is an HMAC secret shorter than ${LEGACY_HMAC_MIN_BYTES} bytes, the floor even legacyAlgorithms: ['HMAC-SHORT-SECRET'] keeps (it can be guessed offline); rotate to a 32-byte random secret`
              : "is an HMAC secret shorter than 32 bytes (RFC 7518 §3.2); an existing app's secret is accepted only with legacyAlgorithms: ['HMAC-SHORT-SECRET'] while it rotates"
            : `supports ${this.#algorithmsForKey(key).join(', ') || 'no JWS algorithm'}, none of which is in algorithms`,
        );
      }
      return { key, algorithms };
    }
    if ('jwks' in verification) {
      const jwks = verification.jwks;
      if (jwks === null || typeof jwks !== 'object' || !Array.isArray(jwks.keys)) {
        throw configError(`${vpath}.jwks`, 'must be a JWK Set ({ keys: [...] })');
      }
      jwks.keys.forEach((jwk: JWK, i: number) => {
        if (jwk === null || typeof jwk !== 'object' || typeof jwk.kty !== 'string') {
          throw configError(`${vpath}.jwks.keys[${i}]`, 'must be a JWK');
        }
        if (jwk.d !== undefined) {
          throw configError(
            `${vpath}.jwks.keys[${i}]`,
            'contains private key material ("d"); publish public keys only',
          );
        }
        if (jwk.kty === 'RSA') {
          let key: KeyObject;
          try {
            key = createPublicKey({ key: jwk as unknown as NodeJsonWebKey, format: 'jwk' });
          } catch {
            throw configError(`${vpath}.jwks.keys[${i}]`, 'is not a valid RSA JWK');
          }
          this.#checkKeyStrength(key, `${vpath}.jwks.keys[${i}]`);
        }
      });
      // A JWKS (this one or a remote one) loads jose at construction, so that a set jose refuses is
      // a config error at start-up rather than a failure of the first request. A single key needs
      // no jose until the first sign or verify.
      let local: JWTVerifyGetKey;
      try {
        local = jose().createLocalJWKSet(structuredClone(jwks));
      } catch {
        throw configError(`${vpath}.jwks`, 'is not a valid JWK Set');
      }
      return { key: local, algorithms: this.#jwksAlgorithms(vpath) };
    }
    return { key: this.#remoteJwks(verification, vpath), algorithms: this.#jwksAlgorithms(vpath) };
  }

  /** A JWKS publishes public keys; jose never selects an HMAC ("oct") key from one, so HS* is dropped. */
  #jwksAlgorithms(vpath: string): readonly JwsAlgorithm[] {
    const algorithms = this.#algorithms.filter((a) => !isHmacAlgorithm(a));
    if (algorithms.length === 0) {
      throw configError(
        vpath,
        'is a JWKS, which only serves asymmetric algorithms; algorithms lists only HS*',
      );
    }
    return algorithms;
  }

  #remoteJwks(verification: RemoteJwksVerification, vpath: string): JWTVerifyGetKey {
    let url: URL;
    try {
      url = new URL(String(verification.jwksUrl));
    } catch {
      throw configError(`${vpath}.jwksUrl`, 'must be an absolute URL');
    }
    if (url.username !== '' || url.password !== '') {
      throw configError(`${vpath}.jwksUrl`, 'must not embed credentials; use headers');
    }
    const insecureOk = verification.allowInsecureJwksUrl === true;
    if (!(url.protocol === 'https:' || (url.protocol === 'http:' && insecureOk))) {
      throw configError(
        `${vpath}.jwksUrl`,
        url.protocol === 'http:'
          ? 'must use https (keys fetched over http can be replaced in transit); ' +
              'set allowInsecureJwksUrl: true only for local development'
          : `must use https, got ${url.protocol}`,
      );
    }
    const remote = jose().createRemoteJWKSet(url, {
      timeoutDuration: nonNegativeInt(verification.timeoutMs, `${vpath}.timeoutMs`, 5000, 1),
      cooldownDuration: nonNegativeInt(verification.cooldownMs, `${vpath}.cooldownMs`, 30_000),
      cacheMaxAge: nonNegativeInt(verification.cacheMaxAgeMs, `${vpath}.cacheMaxAgeMs`, 600_000),
      ...(verification.headers !== undefined ? { headers: { ...verification.headers } } : {}),
    });
    const where = `${url.origin}${url.pathname}`;
    return async (header, token) => {
      let key: Awaited<ReturnType<typeof remote>>;
      try {
        key = await remote(header, token);
      } catch (error) {
        const code = (error as { code?: unknown } | null)?.code;
        if (code === 'ERR_JWKS_NO_MATCHING_KEY' || code === 'ERR_JWKS_MULTIPLE_MATCHING_KEYS') throw error;
        // Network failure, timeout, non-200, bad JSON or bad JWKS: the issuer's keys are unreachable.
        throw new BulwarkTokenError(
          ErrorCodes.TOKEN_JWKS_UNAVAILABLE,
          `The JWKS at ${where} could not be fetched or read; try again later.`,
          { jwksUrl: where },
          { cause: error },
        );
      }
      // Keys arrive at run time here: an RSA key under 3072 bits without the opt-in verifies nothing.
      const bits = rsaModulusBits(
        utilTypes.isKeyObject(key) ? (key as KeyObject) : KeyObject.from(key as webcrypto.CryptoKey),
      );
      if (bits !== undefined && bits < MODERN_RSA_BITS && !this.#legacy.has('RSA-2048')) {
        throw new BulwarkTokenError(
          ErrorCodes.TOKEN_KEY_NOT_FOUND,
          `The issuer's key is a ${bits}-bit RSA key, under the ${MODERN_RSA_BITS} bits this service accepts ` +
            "(legacyAlgorithms: ['RSA-2048'] opts in).",
        );
      }
      return key;
    };
  }

  /**
   * Issues a signed JWT: `iat` now, `exp` after `ttlSec`, `iss`/`aud` from the config, a random
   * `jti`. Refuses to issue a token that this service's own `verify()` would reject for a missing
   * required claim.
   */
  async sign(claims: Record<string, unknown> = {}, options: SignOptions = {}): Promise<string> {
    const signing = this.#signing;
    if (signing === undefined) {
      throw new BulwarkConfigError(
        ErrorCodes.CONFIG_INVALID,
        `${this.#path}.signingKey is required to sign tokens`,
        {
          path: `${this.#path}.signingKey`,
        },
      );
    }
    if (claims === null || typeof claims !== 'object' || Array.isArray(claims)) {
      throw claimError('sign(): claims must be a plain object.');
    }
    for (const name of RESERVED_CLAIMS) {
      if (name in claims) {
        throw claimError(`sign(): "${name}" is set by the token service; use the sign options instead.`, {
          claim: name,
        });
      }
    }
    const ttl = options.ttlSec ?? this.#defaultTtl;
    if (!Number.isSafeInteger(ttl) || ttl < 1) throw claimError('sign(): ttlSec must be a positive integer.');
    const subject = options.subject ?? claims.sub;
    if (subject !== undefined && !isNonEmptyString(subject))
      throw claimError('sign(): subject must be a string.');
    const audience = options.audience ?? this.#audience;
    if (audience !== undefined && !validAudience(audience)) throw claimError('sign(): audience is invalid.');
    if (
      options.notBeforeSec !== undefined &&
      (!Number.isSafeInteger(options.notBeforeSec) || options.notBeforeSec < 0)
    ) {
      throw claimError('sign(): notBeforeSec must be a non-negative integer.');
    }
    if (options.jwtId !== undefined && !isNonEmptyString(options.jwtId)) {
      throw claimError('sign(): jwtId must be a non-empty string.');
    }

    const now = Math.floor(this.#clock().getTime() / 1000);
    const payload: TokenClaims = {
      ...claims,
      ...(this.#issuer !== undefined ? { iss: this.#issuer } : {}),
      ...(subject !== undefined ? { sub: subject } : {}),
      ...(audience !== undefined ? { aud: typeof audience === 'string' ? audience : [...audience] } : {}),
      iat: now,
      exp: now + ttl,
      ...(options.notBeforeSec !== undefined ? { nbf: now + options.notBeforeSec } : {}),
      jti: options.jwtId ?? randomUUID(),
    };
    for (const name of this.#requiredClaims) {
      if (payload[name] === undefined) {
        throw claimError(`sign(): required claim "${name}" is missing.`, { claim: name, reason: 'missing' });
      }
    }
    try {
      const hmac = this.#hmacSignKey;
      return await new (jose().SignJWT)(payload)
        .setProtectedHeader({
          alg: signing.alg,
          typ: this.#typ ?? 'JWT',
          ...(signing.kid !== undefined ? { kid: signing.kid } : {}),
        })
        .sign(hmac === undefined ? signing.key : (hmac.key ?? (await hmac.pending)));
    } catch (error) {
      // e.g. claims that are not JSON-serialisable
      throw new BulwarkTokenError(
        ErrorCodes.TOKEN_CLAIM_INVALID,
        'sign(): the token could not be signed.',
        undefined,
        {
          cause: error instanceof Error ? new Error(error.message) : undefined,
        },
      );
    }
  }

  /**
   * Verifies a compact JWS JWT: shape and algorithm are checked before jose runs, then signature,
   * `exp`/`nbf`/`iat` (with `clockToleranceSec`), `iss`, `aud`, `typ` and required claims. Every
   * failure is a BulwarkTokenError; the token never appears in a message.
   *
   * A plain token (header of only `alg`/`typ`/`kid`) under a single static key is first checked
   * synchronously on node:crypto (`#verifyPlain`); that path can only accept, with the result jose
   * would return. Every token it does not plainly accept, valid or not, is verified by jose.
   */
  async verify(token: string): Promise<VerifiedToken> {
    const { header, parts, plain } = this.#preflight(token);
    if (plain && plainJwsFastPath.enabled) {
      const verified = this.#verifyPlain(token, header, parts);
      if (verified !== undefined) return verified;
    }
    try {
      const { jwtVerify } = jose();
      // An HMAC secret: the CryptoKey imported once for the token's (allow-listed) alg.
      const hmac = this.#hmacVerifyKeys.get(header.alg);
      const key = hmac === undefined ? this.#verifyKey : (hmac.key ?? (await hmac.pending));
      const result = await jwtVerify(token, key as Parameters<typeof jwtVerify>[1], {
        ...this.#verifyOptions,
        currentDate: this.#clock(),
      });
      this.#checkClaimTypes(result.payload as TokenClaims);
      return {
        payload: result.payload as TokenClaims,
        protectedHeader: result.protectedHeader as TokenHeader,
      };
    } catch (error) {
      const mapped = mapJoseError(error);
      if (mapped.code === ErrorCodes.TOKEN_KEY_NOT_FOUND) {
        const kid = safeHeaderValue(header.kid);
        throw new BulwarkTokenError(mapped.code, mapped.message, {
          ...(kid !== undefined ? { kid } : {}),
          alg: header.alg,
        });
      }
      throw mapped;
    }
  }

  /**
   * The verified token, synchronously, when it is plainly valid: a single static key, a header of
   * only `alg`/`typ`/`kid`, and claims that plainly pass every check (the fast path of `verify()`,
   * which returns the same result for it). Undefined means "not sure", never "invalid": the token
   * may still be valid (a JWKS, an unusual header or claim) or be refused with an error, and the
   * caller then awaits `verify()`, which decides. Never throws. Lets a request handler answer the
   * common case without a promise.
   */
  tryVerifySync(token: string): VerifiedToken | undefined {
    if (this.#plainChecks === undefined || this.#plainChecks.size === 0 || !plainJwsFastPath.enabled) {
      return undefined;
    }
    let preflighted: Preflighted;
    try {
      preflighted = this.#preflight(token);
    } catch {
      return undefined;
    }
    const { header, parts, plain } = preflighted;
    return plain ? this.#verifyPlain(token, header, parts) : undefined;
  }

  /**
   * The synchronous, accept-only path for the plain case: a single static key, a header of only
   * `alg`/`typ`/`kid`, and claims that plainly pass every check jose and `#checkClaimTypes` make
   * with this configuration. Returns undefined ("not sure") for anything else, including every
   * invalid token: jose then verifies it again and gives the verdict and the error. Each condition
   * is the same as jose's or narrower (finite NumericDates, string `typ`/`kid`), never wider.
   */
  #verifyPlain(token: string, header: TokenHeader, parts: string[]): VerifiedToken | undefined {
    const check = this.#plainChecks?.get(header.alg);
    const [h, p, s] = parts;
    if (check === undefined || !decodableSegment(h) || !decodableSegment(p) || !decodableSegment(s)) {
      return undefined;
    }
    // The payload is only read once the signature over it holds.
    if (!check(token.slice(0, h.length + 1 + p.length), Buffer.from(s, 'base64url'))) return undefined;
    if (
      this.#plainTyp !== undefined &&
      (typeof header.typ !== 'string' || normalizeTyp(header.typ) !== this.#plainTyp)
    ) {
      return undefined;
    }
    const payload = decodePayload(p) as TokenClaims | undefined;
    if (payload === undefined) return undefined;
    for (const claim of this.#plainRequired) if (!Object.hasOwn(payload, claim)) return undefined;
    for (const name of ['iss', 'sub', 'jti'] as const) {
      if (payload[name] !== undefined && !isNonEmptyString(payload[name])) return undefined;
    }
    if (this.#issuer !== undefined && payload.iss !== this.#issuer) return undefined;
    const audience = this.#audience;
    if (audience !== undefined) {
      const aud: unknown = payload.aud;
      const expected = typeof audience === 'string' ? [audience] : audience;
      const matched =
        typeof aud === 'string'
          ? expected.includes(aud)
          : Array.isArray(aud) && expected.some((a) => aud.includes(a));
      if (!matched) return undefined;
    }
    const now = Math.floor(this.#clock().getTime() / 1000);
    if (!Number.isFinite(now)) return undefined;
    const tolerance = this.#clockTolerance;
    const { exp, nbf, iat } = payload;
    // `exp` is always required (#requiredClaims); must not have passed (jose: exp <= now - tolerance fails).
    if (!finiteNumber(exp) || exp <= now - tolerance) return undefined;
    if (nbf !== undefined && (!finiteNumber(nbf) || nbf > now + tolerance)) return undefined;
    if (iat !== undefined && (!finiteNumber(iat) || iat > now + tolerance)) return undefined;
    if (this.#maxTokenAge !== undefined) {
      // iat is present here (#plainRequired) and finite (above).
      const age = now - (iat as number);
      if (age - tolerance > this.#maxTokenAge || age < -tolerance) return undefined;
    }
    if (!this.#plainHeaders.has(h)) {
      if (this.#plainHeaders.size >= PLAIN_HEADER_CACHE_SIZE) {
        // Map iteration is insertion order: drop the oldest entry.
        this.#plainHeaders.delete(this.#plainHeaders.keys().next().value as string);
      }
      this.#plainHeaders.set(h, Object.freeze({ ...header }));
    }
    plainJwsFastPath.accepted++;
    // A copy per token, as jose returns: a caller changing its header changes no other token's.
    return { payload, protectedHeader: { ...header } };
  }

  /**
   * Checks jose leaves to the caller: jose only tests presence of required claims (so `"sub": null`
   * would pass) and only checks `iat` against the clock when maxTokenAge is set.
   */
  #checkClaimTypes(payload: TokenClaims): void {
    for (const name of ['iss', 'sub', 'jti'] as const) {
      if (payload[name] !== undefined && !isNonEmptyString(payload[name])) {
        throw claimError(`Token claim "${name}" is invalid.`, { claim: name, reason: 'invalid' });
      }
    }
    const now = Math.floor(this.#clock().getTime() / 1000);
    if (typeof payload.iat === 'number' && payload.iat > now + this.#clockTolerance) {
      throw new BulwarkTokenError(
        ErrorCodes.TOKEN_NOT_YET_VALID,
        'Token is not valid yet ("iat" is in the future).',
        {
          claim: 'iat',
          reason: 'check_failed',
        },
      );
    }
  }

  /**
   * Cheap structural checks that need no key: refuse non-strings, oversized input, anything but
   * three base64url segments, a header that is not a JSON object, and any `alg` outside the
   * allow-list (including `none`) before jose or any key lookup runs.
   */
  #preflight(token: unknown): Preflighted {
    if (typeof token !== 'string') throw malformed('Token must be a string.');
    if (token.length === 0) throw malformed('Token is empty.');
    if (token.length > this.#maxTokenLength) {
      throw malformed(`Token is longer than ${this.#maxTokenLength} characters.`);
    }
    const parts = token.split('.');
    if (parts.length !== 3) {
      throw malformed(
        parts.length === 5
          ? 'Token is a JWE; only signed tokens (JWS) are accepted.'
          : 'Token is not a compact JWS.',
      );
    }
    const [h, p, s] = parts;
    const known = this.#plainHeaders.get(h);
    if (known !== undefined) {
      // The same segment as an accepted token's: every header check below passed for it already.
      if (!B64URL.test(p) || !B64URL.test(s)) throw malformed();
      return { header: known as TokenHeader, parts, plain: true };
    }
    if (!B64URL.test(h)) throw malformed();
    let header: unknown;
    let headerText: string;
    try {
      headerText = Buffer.from(h, 'base64url').toString('utf8');
      header = JSON.parse(headerText);
    } catch {
      throw malformed('Token header is not valid JSON.');
    }
    if (header === null || typeof header !== 'object' || Array.isArray(header)) {
      throw malformed('Token header is not a JSON object.');
    }
    const alg = (header as { alg?: unknown }).alg;
    if (typeof alg !== 'string') throw malformed('Token header has no "alg".');
    if (!(this.#verifyAlgorithms as readonly string[]).includes(alg)) {
      // RFC 8725 §3.1: only the configured algorithms; `none` and cross-family algorithms end here.
      throw new BulwarkTokenError(
        ErrorCodes.TOKEN_ALGORITHM_NOT_ALLOWED,
        'Token algorithm is not in the allow-list.',
        { alg: isJwsAlgorithm(alg) || alg.toLowerCase() === 'none' ? alg : 'unrecognised' },
      );
    }
    if (!B64URL.test(p) || !B64URL.test(s)) throw malformed();
    return {
      header: header as TokenHeader,
      parts,
      // Invalid UTF-8 decodes to U+FFFD here but is an error for jose (strict decoder): not plain.
      plain: !headerText.includes('\uFFFD') && isPlainHeader(header as Record<string, unknown>),
    };
  }

  /**
   * The public JWK Set of the signing key, for `/.well-known/jwks.json`. Only for asymmetric
   * signing keys: an HMAC secret must never be published.
   */
  jwks(): { keys: JWK[] } {
    const signing = this.#signing;
    if (signing === undefined || signing.key.type !== 'private') {
      throw new BulwarkConfigError(
        ErrorCodes.CONFIG_INVALID,
        `${this.#path}.signingKey must be an asymmetric private key to publish a JWKS (an HMAC secret is never published)`,
        { path: `${this.#path}.signingKey` },
      );
    }
    return {
      keys: [
        {
          ...publicJwkOf(signing.key),
          ...(signing.kid !== undefined ? { kid: signing.kid } : {}),
          alg: signing.alg,
          use: 'sig',
        },
      ],
    };
  }
}
