import { ErrorCodes } from '../errors';
import { AEAD_ALGORITHMS, type AeadAlgorithm } from './aead';
import {
  hasMethods,
  invalid,
  isPlainObject,
  oneOf,
  optionalFunction,
  optionKeys,
  positiveInt,
  rejectUnknown,
} from '../util/options';
import { computeBlindIndex, type BlindIndexOptions } from './blind-index';
import { asCryptoError, cryptoError, type CipherEntry } from './cipher-entry';
import { checkAad, checkOptions, checkPlaintext, EnvelopeSealer, utf8 } from './envelope-sealer';
import { parseEnvelope, type EnvelopeFormat, type ParsedEnvelope } from './envelope';
import { KeyLoader, type KeyIntegrityFailure } from './key-loader';
import type { AuditEvent } from '../audit/audit-event';
import type { KeyProvider } from './key-provider';
import { KEY_STORE_METHODS, type KeyStore } from './key-store';
import { NamedKeys, unknownKey, type LoadedKey } from './named-keys';
import { rotateMasterKeys, type MasterRotationOptions, type MasterRotationReport } from './master-rotation';
import { shreddedError, SubjectKeys } from './subject-keys';
import { RotationSchedule, type RotationDue, type RotationOptions } from './rotation-policy';
import { RotationScheduler, type AutoRotateOptions } from './rotation-scheduler';

export type { AeadAlgorithm } from './aead';
export type { KeyProvider, KeyWrapContext } from './key-provider';
export type {
  KeyStore,
  StoredKey,
  StoredKeyVersion,
  StoredRingSecret,
  StoredSubjectKey,
  WrappedKeyTarget,
} from './key-store';
export type { MasterRotationOptions, MasterRotationProgress, MasterRotationReport } from './master-rotation';
export { EnvKeyProvider } from './env-key-provider';
export { FileKeyProvider, type FileKeyProviderOptions } from './file-key-provider';
export { MemoryKeyStore } from './memory-key-store';
export { FileKeyStore } from './file-key-store';
export { generateMasterKey } from './master-key';
export { normalisers, type Normaliser, type NormaliserName, type BlindIndexOptions } from './blind-index';
export {
  ROTATION_PRESETS,
  DEFAULT_ROTATE_EVERY_DAYS,
  type RotationPolicy,
  type RotationOptions,
  type RotationDue,
} from './rotation-policy';
export type { AutoRotateOptions } from './rotation-scheduler';
export type { EnvelopeFormat } from './envelope';

export interface KeyVersionInfo {
  version: number;
  algorithm: AeadAlgorithm;
  /** ISO 8601 UTC. */
  createdAt: string;
  /** When this version stops encrypting (RotationPolicy.expireAfter), if the key has an expiry. */
  expiresAt?: string;
  /** primary: encrypts and decrypts; active: decrypts only; retired: rejected. */
  state: 'primary' | 'active' | 'retired';
}

export interface KeyInfo {
  keyId: string;
  primaryVersion: number;
  minDecryptVersion: number;
  createdAt: string;
  rotatedAt: string;
  /** Rotation period in days (RotationPolicy.rotateEvery). */
  rotateEvery: number;
  /** When the primary version falls due for rotation (ISO 8601 UTC). */
  rotationDueAt: string;
  versions: KeyVersionInfo[];
}

export interface EncryptOptions {
  /**
   * Associated data: authenticated, not encrypted, not stored. Bind the value to where it lives
   * (e.g. `users.email` plus the row id when stable) so a ciphertext copied elsewhere fails to
   * decrypt. The same bytes must be given to decrypt. `''` and omitted are the same.
   */
  aad?: string | Uint8Array;
  /**
   * Opt-in deterministic encryption (synthetic IV): the IV is HMAC-SHA256 over (aad, plaintext)
   * under a key derived from the data key, so equal plaintext + aad + key version give an equal
   * envelope. Reveals equality of values; use only for columns that need equality lookups and
   * prefer a blind index where possible.
   */
  deterministic?: boolean;
}

export interface DecryptOptions {
  aad?: string | Uint8Array;
  /**
   * The data subject the value must belong to (the id given to encryptForSubject). The envelope
   * must then be a subject envelope (`bw1s` / `bw1sd`) carrying this subject's reference, else
   * ERR_CRYPTO_SUBJECT_MISMATCH, checked before any key is loaded. Give it whenever the caller
   * knows whose value it reads (e.g. the row's subject column): without it, decryption picks the
   * key named by the envelope itself, so a value moved into another subject's record (an UPDATE
   * of the subject column) would decrypt and be served as that subject's data.
   *
   * No separate associated data is needed for this: the subject reference is part of the envelope
   * header, which is authenticated, and it selects the key; so an envelope whose reference is this
   * subject's was sealed under this subject's key. Values written before this option existed are
   * checked the same way.
   */
  subject?: string;
}

export interface KeyRingOptions {
  provider: KeyProvider;
  /**
   * The master key being rotated away from, during a master-key rotation: stored keys it wraps
   * still unwrap, new keys are wrapped by `provider` only. Every process must run with the new key
   * as `provider` and this one as `previousProvider` *before* `rotateMaster()` starts (a process on
   * the old key alone would wrap new keys under it); remove it once the rotation reports `complete`.
   */
  previousProvider?: KeyProvider;
  store: KeyStore;
  /** Algorithm of new keys and subject keys (default aes-256-gcm). */
  defaultAlgorithm?: AeadAlgorithm;
  /** Time source for createdAt / rotatedAt (tests). */
  clock?: () => Date;
  /** Subject keys kept unwrapped in memory (least recently loaded evicted first; default 10 000). */
  subjectCacheSize?: number;
  /**
   * How long a cached subject key is trusted before it is checked against the store again
   * (default 60 000 ms; 0 checks on every async use; Infinity never). This bounds how long a
   * shred done by ANOTHER process (sharing the store) can go unnoticed here: after the TTL,
   * encryptForSubject / decryptAsync / loadSubject re-read the subject's record and refuse a
   * shredded subject (SUBJECT_SHREDDED); a sync decrypt() past the TTL starts the same check in
   * the background. A shred in THIS ring takes effect at once. Checking on every call would add
   * a store round trip per encryption, hence the window.
   */
  subjectCacheTtlMs?: number;
  /**
   * Re-reads named keys from the store every this many ms in the background (an unref'd timer,
   * stopped by close()), so versions rotated or keys created by another process become usable
   * by sync decrypt() without a restart. Default 60 000; 0 turns it off. Independently, a sync
   * decrypt() that meets an unknown key or version throws ERR_CRYPTO_UNKNOWN_KEY and schedules a
   * refresh (at most one a second), so a retry soon succeeds. Background failures (store down)
   * are ignored: the ring keeps the keys it has.
   */
  refreshIntervalMs?: number;
  /** Config path used in error messages. Default `keyRing` (createBulwark passes `keys`). */
  configPath?: string;
  /**
   * Rotation periods and expiry, ring-wide and per key (default: every key due 90 days after its
   * primary was created, no expiry). Read by rotationDue(), rotateDue(), autoRotate, `bulwark keys
   * check --due` and the compliance check `keys.rotation`. Give every process the same settings.
   */
  rotation?: RotationOptions;
  /**
   * In-process rotation scheduler for single-instance apps: `true` or options. Every
   * `checkEveryMs` (default hourly) the ring runs rotateDue() on an unref'd timer; close() stops
   * it. Safe if several instances run it (one new version per due key), but with many instances
   * prefer one cron job: until the others refresh, their lookups by `followKeyRotation` blind
   * index or deterministic value miss rows written under the new version (docs/key-rotation.md
   * "Blind-index key rotation"). Off by default.
   */
  autoRotate?: boolean | AutoRotateOptions;
  /**
   * Envelope format of new values: 2 (default, key-committing `bw2*`) or 1 (`bw1*`, only while
   * processes running a Bulwark release older than key commitment still read the same data;
   * weaker: see docs/key-rotation.md "Key commitment"). Format 2 is always read; format 1 while
   * `acceptFormat1` is true.
   */
  envelopeFormat?: EnvelopeFormat;
  /**
   * Whether format-1 envelopes (`bw1*`, not key-committing) are still decrypted (default true,
   * for data written before key commitment). Set false once `keys rewrap` has upgraded every
   * value: a `bw1*` envelope is then refused with ERR_CRYPTO_DECRYPTION_FAILED, so nobody can
   * downgrade a value past the key commitment. Incompatible with `envelopeFormat: 1`.
   */
  acceptFormat1?: boolean;
  /**
   * Where key lifecycle events are recorded: a `key.rotated` audit entry (key id, versions,
   * operation; never key material) for every rotate / rotateDue / rewrap / rotateMaster of this
   * ring. Usually the app's AuditLog (createBulwark attaches it; or `ring.attach(auditLog)`).
   */
  auditLog?: KeyRingAuditLog;
  /**
   * Called when a stored key fails to unwrap (wrong master key, KMS refusal or outage, tampered
   * key store) or a `bw2` envelope's key commitment does not match its key: createBulwark raises
   * a critical `integrity.key-unwrap-failed` alert from it. Key id and version only; must not throw.
   */
  onIntegrityFailure?: (failure: KeyIntegrityFailure) => void;
}

/** What the ring needs of an audit log: append (an AuditLog). */
export interface KeyRingAuditLog {
  append(event: AuditEvent): Promise<unknown>;
}

export type { KeyIntegrityFailure };

/** The audit action of every key lifecycle event the ring records. */
const KEY_ROTATED = 'key.rotated';
const KEY_ACTOR = Object.freeze({ id: 'bulwark-keys', type: 'system' as const });

const KNOWN_OPTIONS = optionKeys<KeyRingOptions>({
  provider: true,
  previousProvider: true,
  store: true,
  defaultAlgorithm: true,
  clock: true,
  subjectCacheSize: true,
  subjectCacheTtlMs: true,
  refreshIntervalMs: true,
  configPath: true,
  rotation: true,
  autoRotate: true,
  envelopeFormat: true,
  acceptFormat1: true,
  auditLog: true,
  onIntegrityFailure: true,
});

const AUTO_ROTATE_KEYS = optionKeys<AutoRotateOptions>({
  checkEveryMs: true,
  onRotated: true,
  onError: true,
});

/**
 * Checks KeyRing.open's options synchronously (open() runs it; createBulwark runs it before
 * anything is opened). A mistake is a config error (ERR_CONFIG_INVALID) naming
 * `<configPath>.<option>`; failures of the provider or store while opening stay crypto errors.
 */
export function checkKeyRingOptions(options: KeyRingOptions): void {
  const path =
    isPlainObject(options) && typeof options.configPath === 'string' ? options.configPath : 'keyRing';
  if (!isPlainObject(options)) throw invalid(path, 'an object with provider and store', options);
  rejectUnknown(options, KNOWN_OPTIONS, `${path}.`);
  if (!hasMethods(options.provider, 'wrapKey', 'unwrapKey')) {
    throw invalid(`${path}.provider`, 'a KeyProvider (wrapKey, unwrapKey)', options.provider);
  }
  if (
    options.previousProvider !== undefined &&
    !hasMethods(options.previousProvider, 'wrapKey', 'unwrapKey')
  ) {
    throw invalid(`${path}.previousProvider`, 'a KeyProvider (wrapKey, unwrapKey)', options.previousProvider);
  }
  if (!hasMethods(options.store, ...KEY_STORE_METHODS)) {
    throw invalid(`${path}.store`, `a KeyStore (${KEY_STORE_METHODS.join(', ')})`, options.store);
  }
  if (options.defaultAlgorithm !== undefined)
    oneOf(options.defaultAlgorithm, `${path}.defaultAlgorithm`, AEAD_ALGORITHMS);
  optionalFunction(options.clock, `${path}.clock`);
  optionalFunction(options.onIntegrityFailure, `${path}.onIntegrityFailure`);
  if (options.auditLog !== undefined && !hasMethods(options.auditLog, 'append')) {
    throw invalid(`${path}.auditLog`, 'an AuditLog (append)', options.auditLog);
  }
  if (options.subjectCacheSize !== undefined)
    positiveInt(options.subjectCacheSize, `${path}.subjectCacheSize`);
  const ttl = options.subjectCacheTtlMs;
  if (ttl !== undefined && (typeof ttl !== 'number' || Number.isNaN(ttl) || ttl < 0)) {
    throw invalid(`${path}.subjectCacheTtlMs`, 'a number of ms >= 0 (Infinity: never re-checked)', ttl);
  }
  const interval = options.refreshIntervalMs;
  if (
    interval !== undefined &&
    (typeof interval !== 'number' || (interval !== 0 && !(interval >= 1 && interval <= 2 ** 31 - 1)))
  ) {
    throw invalid(`${path}.refreshIntervalMs`, '0 (off) or a number of ms from 1 to 2147483647', interval);
  }
  new RotationSchedule(options.rotation, `${path}.rotation`);
  const auto = options.autoRotate;
  if (auto !== undefined && typeof auto !== 'boolean') {
    if (!isPlainObject(auto))
      throw invalid(`${path}.autoRotate`, 'a boolean or { checkEveryMs, onRotated, onError }', auto);
    rejectUnknown(auto, AUTO_ROTATE_KEYS, `${path}.autoRotate.`);
    const every = auto.checkEveryMs;
    if (every !== undefined && (typeof every !== 'number' || !(every >= 1000 && every <= 2 ** 31 - 1))) {
      throw invalid(`${path}.autoRotate.checkEveryMs`, 'a number of ms from 1000 to 2147483647', every);
    }
    optionalFunction(auto.onRotated, `${path}.autoRotate.onRotated`);
    optionalFunction(auto.onError, `${path}.autoRotate.onError`);
  }
  if (options.envelopeFormat !== undefined && options.envelopeFormat !== 1 && options.envelopeFormat !== 2) {
    throw invalid(`${path}.envelopeFormat`, '1 or 2', options.envelopeFormat);
  }
  if (options.acceptFormat1 !== undefined && typeof options.acceptFormat1 !== 'boolean') {
    throw invalid(`${path}.acceptFormat1`, 'a boolean', options.acceptFormat1);
  }
  if (options.acceptFormat1 === false && options.envelopeFormat === 1) {
    throw invalid(`${path}.acceptFormat1`, 'true while envelopeFormat is 1', options.acceptFormat1);
  }
}

const DEFAULT_SUBJECT_CACHE_TTL_MS = 60_000;
const DEFAULT_REFRESH_INTERVAL_MS = 60_000;

/**
 * Named encryption keys with numbered versions, wrapped by a master key from a KeyProvider and
 * persisted in a KeyStore. Encryption and decryption are synchronous and never wait for the provider
 * or the store; key administration (create, rotate, retire, subject keys) is async.
 *
 * Several processes may share one store (see KeyStore's insert-if-absent contract): racing
 * creates, rotations and first subject keys converge on the stored key, which every ring adopts.
 * Other processes' changes reach this ring by refresh(), the background `refreshIntervalMs`
 * timer, a refresh scheduled when decrypt() meets an unknown key version, and, for shredding,
 * the `subjectCacheTtlMs` re-check.
 *
 * Envelopes (see envelope.ts for the grammar):
 *   `bw1.<keyId>.<version>.<iv>.<ciphertext+tag>`   random IV
 *   `bw1d.<keyId>.<version>.<iv>.<ciphertext+tag>`  deterministic (synthetic IV)
 *   `bw1s.<subjectRef>.<iv>.<ciphertext+tag>`       data-subject key (crypto-shredding)
 *   `bw1sd.<subjectRef>.<iv>.<ciphertext+tag>`      data-subject key, deterministic
 * The header up to the IV is authenticated as associated data together with the caller's aad.
 */
export class KeyRing {
  /** Provider and store access, the clock and the open state, shared by the parts below. */
  private readonly loader: KeyLoader;
  /** Named keys: loading, administration, refresh, blind-index keys. */
  private readonly named: NamedKeys;
  /** Data-subject keys: references, cache, shredding. */
  private readonly subjects: SubjectKeys;
  private readonly sealer: EnvelopeSealer;
  private scheduler: RotationScheduler | undefined;
  private auditLog: KeyRingAuditLog | undefined;

  private constructor(options: KeyRingOptions) {
    const algorithm = options.defaultAlgorithm ?? 'aes-256-gcm';
    this.sealer = new EnvelopeSealer(options.envelopeFormat ?? 2, options.acceptFormat1 ?? true);
    this.loader = new KeyLoader(
      options.provider,
      options.store,
      options.clock ?? (() => new Date()),
      options.previousProvider,
    );
    this.auditLog = options.auditLog;
    this.loader.onIntegrityFailure = options.onIntegrityFailure;
    const loader = this.loader;
    this.sealer.onCommitmentFailure = (parsed) =>
      loader.reportFailure({
        keyId: parsed.kind === 'key' ? parsed.keyId : '$subject',
        ...(parsed.kind === 'key' ? { version: parsed.version } : {}),
        kind: 'commitment',
        code: ErrorCodes.CRYPTO_DECRYPTION_FAILED,
      });
    keyEventRecorders.set(this, (details) => this.recordKeyEvent(details));
    this.named = new NamedKeys(
      this.loader,
      algorithm,
      new RotationSchedule(options.rotation, `${options.configPath ?? 'keyRing'}.rotation`),
    );
    this.subjects = new SubjectKeys(
      this.loader,
      algorithm,
      options.subjectCacheSize ?? 10_000,
      options.subjectCacheTtlMs ?? DEFAULT_SUBJECT_CACHE_TTL_MS,
    );
  }

  /**
   * Opens a ring: loads and unwraps every non-retired key version (plus each key's first version,
   * which the blind-index key is derived from) and the ring secret (created on first open).
   * Fails with ERR_CRYPTO_KEY_UNWRAP_FAILED on a wrong master key, ERR_CRYPTO_KEY_STORE on a
   * corrupt store, ERR_CRYPTO_KEY_PROVIDER when the master key is unavailable.
   */
  static async open(options: KeyRingOptions): Promise<KeyRing> {
    checkKeyRingOptions(options);
    const interval = options.refreshIntervalMs ?? DEFAULT_REFRESH_INTERVAL_MS;
    const ring = new KeyRing(options);
    try {
      await ring.subjects.loadRingSecret();
      await ring.named.loadAll();
    } catch (error) {
      ring.wipe();
      throw error;
    }
    if (interval > 0) ring.named.startRefresh(interval);
    if (options.autoRotate !== undefined && options.autoRotate !== false) {
      const auto = options.autoRotate === true ? {} : options.autoRotate;
      ring.scheduler = new RotationScheduler(() => ring.rotateDue(), auto);
    }
    return ring;
  }

  // ---------------------------------------------------------------- administration (async)

  /**
   * Creates `keyId` with version 1 as primary. Throws ERR_CRYPTO_KEY_EXISTS if it exists, in this
   * ring or in the store (e.g. another process created it first: this ring then loads that key).
   */
  createKey(keyId: string, options: { algorithm?: AeadAlgorithm } = {}): Promise<KeyInfo> {
    return this.named.createKey(keyId, options);
  }

  /**
   * Returns the key's info, creating it first if it does not exist. Safe when several processes
   * ensure the same key at once: one creates it and the others adopt the stored key.
   */
  ensureKey(keyId: string, options: { algorithm?: AeadAlgorithm } = {}): Promise<KeyInfo> {
    return this.named.ensureKey(keyId, options);
  }

  /**
   * Adds a new version and makes it primary. Older versions keep decrypting (until retired), so
   * values are readable at every moment of a rotation; move them with `rewrap` and then `retire`.
   * `algorithm` defaults to the current primary's.
   *
   * Starts from the store's latest state. If another process creates the same version number
   * at the same moment, the store keeps the first one and this ring adopts it (its own new key
   * never encrypted anything and is dropped), so both end with the same primary.
   */
  async rotate(keyId: string, options: { algorithm?: AeadAlgorithm } = {}): Promise<KeyInfo> {
    const info = await this.named.rotate(keyId, options);
    await this.recordKeyEvent({ operation: 'rotate', keyId, version: info.primaryVersion });
    return info;
  }

  /**
   * Sets the audit log key lifecycle events are recorded in (`key.rotated`), when the ring was
   * opened before the log (createBulwark does this).
   */
  attach(auditLog: KeyRingAuditLog): this {
    if (typeof auditLog?.append !== 'function')
      throw invalid('keyRing.auditLog', 'an AuditLog (append)', auditLog);
    this.auditLog = auditLog;
    return this;
  }

  /**
   * Appends one `key.rotated` entry: ids, versions and counts only, never key material. A failing
   * audit log does not undo or fail the key operation (it is done in the store); the log raises
   * its own write-failure alarm.
   */
  private async recordKeyEvent(details: KeyEventDetails): Promise<void> {
    if (this.auditLog === undefined) return;
    try {
      await this.auditLog.append({
        actor: KEY_ACTOR,
        action: KEY_ROTATED,
        outcome: 'success',
        category: 'security',
        resource: { type: 'key', id: details.keyId },
        details: { ...details },
      });
    } catch (error) {
      // An AuditLog also raises its own write-failure alarm; say which record was lost (no key material).
      process.emitWarning(
        `key ring: the key.rotated record of ${details.operation} ${details.keyId} was not written (${(error as { code?: string })?.code ?? (error as Error)?.name ?? 'error'})`,
        'BulwarkKeyAuditWarning',
      );
    }
  }

  /**
   * Sets the minimum decryption version: older versions are rejected with ERR_CRYPTO_KEY_RETIRED
   * and their unwrapped keys dropped from memory. Monotonic (cannot be lowered) and cannot retire
   * the primary. Retiring is a policy gate, not destruction: wrapped keys stay in the store
   * (the first version still derives the blind-index key). Run `rewrap` first.
   */
  retire(keyId: string, minDecryptVersion: number): Promise<KeyInfo> {
    return this.named.retire(keyId, minDecryptVersion);
  }

  /**
   * The keys whose primary version is due for rotation now (RotationOptions; default 90 days after
   * the primary was created), most overdue first, with how overdue and whether the primary has
   * expired. Reads this ring's view of the store: refresh() first for the latest.
   */
  rotationDue(): RotationDue[] {
    this.loader.checkOpen();
    return this.named.dueList(this.loader.millis());
  }

  /**
   * Rotates every key that is due, each re-checked on the store's latest state first, and returns
   * the ones THIS call rotated. Safe to run from many processes at once (a cron job on every host,
   * or autoRotate in every instance): a due key gets exactly one new version.
   */
  async rotateDue(): Promise<RotationDue[]> {
    this.loader.checkOpen();
    await this.refresh();
    const rotated: RotationDue[] = [];
    for (const due of this.rotationDue()) {
      const { rotated: done, info } = await this.named.rotateIfDue(due.keyId);
      if (done) {
        rotated.push(due);
        await this.recordKeyEvent({
          operation: 'rotate-due',
          keyId: due.keyId,
          version: info.primaryVersion,
        });
      }
    }
    return rotated;
  }

  /**
   * Re-reads named keys from the store, e.g. after `bulwark keys rotate` ran in another process.
   * `decryptAsync` calls it once by itself when it meets an unknown key or version.
   */
  refresh(): Promise<void> {
    return this.named.refresh();
  }

  /**
   * Master-key rotation: re-wraps every stored wrapped key (ring secret, every version of every
   * named key, every live subject key) under this ring's `provider`. Open the ring with the new
   * master key as `provider` and the old one as `previousProvider`; when the report says
   * `complete`, drop `previousProvider` everywhere and retire the old master key.
   *
   * Crash-safe and resumable: each wrapped key records the id of the master key that wraps it
   * (KeyProvider.masterKeyId) and is replaced on its own by a compare-and-swap after the new
   * wrapping was checked to unwrap to the same data key. A run that stops midway leaves a mix both
   * master keys read (through this ring); running it again finishes. Data keys do not change, so
   * no stored value is re-encrypted. Refused (ERR_CRYPTO_INVALID_ARGUMENT) when the new master key
   * is the previous one, the provider does not name its key, or the store cannot list subjects.
   */
  async rotateMaster(options?: MasterRotationOptions): Promise<MasterRotationReport> {
    this.loader.checkOpen();
    const report = await rotateMasterKeys(this.loader, options);
    await this.recordKeyEvent({
      operation: 'rotate-master',
      keyId: '$master',
      masterKeyId: report.masterKeyId,
      rewrapped: report.rewrapped,
      alreadyCurrent: report.alreadyCurrent,
      ...(report.previousMasterKeyId !== undefined
        ? { previousMasterKeyId: report.previousMasterKeyId }
        : {}),
      failed: report.failed.length,
      complete: report.complete,
    });
    return report;
  }

  // ---------------------------------------------------------------- queries

  has(keyId: string): boolean {
    this.loader.checkOpen();
    return this.named.has(keyId);
  }

  info(keyId: string): KeyInfo {
    this.loader.checkOpen();
    return this.named.info(keyId);
  }

  list(): KeyInfo[] {
    this.loader.checkOpen();
    return this.named.list();
  }

  // ---------------------------------------------------------------- encryption (sync)

  /**
   * Encrypts with the key's primary version. ERR_CRYPTO_KEY_EXPIRED when the primary is past its
   * expiry (RotationPolicy.expireAfter): rotate the key.
   */
  encrypt(keyId: string, plaintext: string | Uint8Array, options?: EncryptOptions): string {
    this.loader.checkOpen();
    const loaded = this.named.find(keyId);
    if (loaded === undefined) throw unknownKey(keyId);
    return this.sealer.seal(this.encryptingPrimary(loaded), plaintext, options);
  }

  /**
   * The primary version's cipher entry, for encrypting; ERR_CRYPTO_KEY_EXPIRED when it is past its
   * expiry (RotationPolicy.expireAfter). Every path that writes under the primary goes through here.
   */
  private encryptingPrimary(loaded: LoadedKey): CipherEntry {
    if (loaded.primaryExpiresAt !== undefined && !(this.loader.millis() < loaded.primaryExpiresAt)) {
      throw cryptoError(
        ErrorCodes.CRYPTO_KEY_EXPIRED,
        `Version ${loaded.record.primaryVersion} of key ${loaded.record.keyId} has expired and no longer encrypts; rotate the key (bulwark keys rotate ${loaded.record.keyId})`,
        { keyId: loaded.record.keyId, version: loaded.record.primaryVersion },
      );
    }
    return loaded.primary;
  }

  /**
   * Every envelope a DETERMINISTIC encryption of `plaintext` (with this aad) may be stored as while
   * a rotation is under way: one per live version of the key (primary first, down to the minimum
   * decryption version), in the current format and in format 1 (values written before key
   * commitment). An equality lookup on a deterministic column matches `IN (...these)`, so rows not
   * yet rewrapped are found too; once rewrap has finished and old versions are retired, the list
   * shrinks to the primary's.
   */
  lookupEnvelopes(
    keyId: string,
    plaintext: string | Uint8Array,
    options?: Pick<EncryptOptions, 'aad'>,
  ): string[] {
    this.loader.checkOpen();
    checkOptions(options);
    const loaded = this.named.find(keyId);
    if (loaded === undefined) throw unknownKey(keyId);
    const sealOptions = { aad: options?.aad, deterministic: true };
    const out: string[] = [];
    const versions = [...loaded.versions.keys()].sort((a, b) => b - a);
    const formats = this.sealer.format === 1 ? [1] : this.sealer.acceptFormat1 ? [2, 1] : [2];
    for (const format of formats as EnvelopeFormat[]) {
      for (const version of versions) {
        out.push(this.sealer.seal(loaded.versions.get(version)!, plaintext, sealOptions, format));
      }
    }
    return out;
  }

  /**
   * Verifies and decrypts any Bulwark envelope. Subject envelopes decrypt here when the subject's
   * key is in memory (after encryptForSubject / decryptAsync / loadSubject); otherwise this throws
   * ERR_CRYPTO_SUBJECT_KEY_NOT_LOADED and `decryptAsync` is the call to use.
   * Every failure is a BulwarkCryptoError: ERR_CRYPTO_MALFORMED, ERR_CRYPTO_UNSUPPORTED_VERSION,
   * ERR_CRYPTO_UNKNOWN_KEY, ERR_CRYPTO_KEY_RETIRED, ERR_CRYPTO_DECRYPTION_FAILED, SUBJECT_SHREDDED,
   * ERR_CRYPTO_SUBJECT_MISMATCH (with `subject`: the value is not that subject's).
   */
  decrypt(envelope: string, options?: DecryptOptions): Buffer {
    this.loader.checkOpen();
    try {
      checkOptions(options);
      const parsed = parseEnvelope(envelope);
      this.subjects.expect(parsed, options?.subject);
      const entry =
        parsed.kind === 'key' ? this.named.entry(parsed) : this.subjects.cached(parsed.subjectRef);
      return this.sealer.open(entry, parsed, checkAad(options?.aad));
    } catch (error) {
      throw asCryptoError(error, ErrorCodes.CRYPTO_MALFORMED, 'Not a valid Bulwark envelope');
    }
  }

  /** decrypt() for text; ERR_CRYPTO_MALFORMED if the plaintext is not UTF-8. */
  decryptString(envelope: string, options?: DecryptOptions): string {
    return utf8(this.decrypt(envelope, options));
  }

  /** decrypt() that can load subject keys from the store and pick up keys rotated elsewhere. */
  async decryptAsync(envelope: string, options?: DecryptOptions): Promise<Buffer> {
    this.loader.checkOpen();
    let parsed: ParsedEnvelope;
    try {
      checkOptions(options);
      parsed = parseEnvelope(envelope);
      this.subjects.expect(parsed, options?.subject);
    } catch (error) {
      throw asCryptoError(error, ErrorCodes.CRYPTO_MALFORMED, 'Not a valid Bulwark envelope');
    }
    if (parsed.kind === 'subject') {
      const entry = await this.subjects.entry(parsed.subjectRef, false);
      try {
        return this.sealer.open(entry, parsed, checkAad(options?.aad));
      } catch (error) {
        throw asCryptoError(error, ErrorCodes.CRYPTO_MALFORMED, 'Not a valid Bulwark envelope');
      }
    }
    if (!this.named.hasVersion(parsed.keyId, parsed.version)) {
      // Possibly rotated or created by another process (e.g. the CLI): re-read once, then decide.
      await this.refresh();
    }
    return this.decrypt(envelope, options);
  }

  async decryptStringAsync(envelope: string, options?: DecryptOptions): Promise<string> {
    return utf8(await this.decryptAsync(envelope, options));
  }

  /**
   * True if the envelope is under a non-primary version of its key, or in an older envelope format
   * than the ring writes (format 1, not key-committing): rewrap would move it.
   * Subject envelopes never need rewrapping (their key is the subject's, destroyed by shred).
   * Throws on malformed envelopes and unknown keys; does not decrypt.
   */
  needsRewrap(envelope: string): boolean {
    this.loader.checkOpen();
    try {
      const parsed = parseEnvelope(envelope);
      if (parsed.kind === 'subject') return false;
      const loaded = this.named.find(parsed.keyId);
      if (loaded === undefined) throw unknownKey(parsed.keyId);
      if (!loaded.record.versions.some((v) => v.version === parsed.version)) {
        throw unknownKey(parsed.keyId, parsed.version);
      }
      return parsed.version !== loaded.record.primaryVersion || parsed.format < this.sealer.format;
    } catch (error) {
      throw asCryptoError(error, ErrorCodes.CRYPTO_MALFORMED, 'Not a valid Bulwark envelope');
    }
  }

  /**
   * Decrypts and re-encrypts under the key's primary version (and the ring's envelope format) with
   * the same aad, keeping deterministic envelopes deterministic. Envelopes already current (and
   * subject envelopes) are verified and returned unchanged. ERR_CRYPTO_KEY_EXPIRED, as encrypt(),
   * when the primary has expired.
   */
  reencrypt(envelope: string, options?: DecryptOptions): string {
    const plaintext = this.decrypt(envelope, options);
    try {
      const parsed = parseEnvelope(envelope);
      if (parsed.kind === 'subject') return envelope;
      const loaded = this.named.loaded(parsed.keyId);
      if (parsed.version === loaded.record.primaryVersion && parsed.format >= this.sealer.format) {
        return envelope;
      }
      return this.sealer.seal(this.encryptingPrimary(loaded), plaintext, {
        aad: options?.aad,
        deterministic: parsed.deterministic,
      });
    } finally {
      plaintext.fill(0);
    }
  }

  /**
   * Blind index of `value` for equality lookups (WHERE email_idx = ?). The index key is derived
   * (HKDF-SHA256, info `bulwark/v1/blind-index/<keyId>`) from the key's FIRST version, so indexes
   * stay valid across rotations and never need recomputing; retiring old versions keeps that
   * wrapped key in the store for this reason. `keyVersion` derives it from another (live) version
   * instead: how a blind-index key is rotated (docs/key-rotation.md). Truncated to `bits` (default 32): expect false
   * positives and confirm matches by decrypting.
   */
  blindIndex(keyId: string, value: string, options?: BlindIndexOptions): string {
    this.loader.checkOpen();
    const loaded = this.named.find(keyId);
    if (loaded === undefined) throw unknownKey(keyId);
    checkOptions(options);
    let version = options?.keyVersion;
    if (version === 'primary') version = loaded.record.primaryVersion;
    else if (version !== undefined && (!Number.isSafeInteger(version) || version < 1)) {
      throw cryptoError(
        ErrorCodes.CRYPTO_INVALID_ARGUMENT,
        "blindIndex keyVersion must be a positive integer or 'primary'",
      );
    }
    const indexKey = version === undefined ? loaded.indexKey : this.named.indexKeyFor(loaded, version);
    return computeBlindIndex(indexKey, value, options);
  }

  /**
   * The blind index of `value` under EVERY live version of the key (primary first): what an index
   * written with `keyVersion: 'primary'` may hold while a rotation is under way. Query with
   * `IN (...these)` so rows not yet migrated to the new index key are found; once the migration
   * has finished and old versions are retired, only the primary's is left.
   */
  blindIndexes(keyId: string, value: string, options?: Omit<BlindIndexOptions, 'keyVersion'>): string[] {
    this.loader.checkOpen();
    const loaded = this.named.find(keyId);
    if (loaded === undefined) throw unknownKey(keyId);
    checkOptions(options);
    const versions = [...loaded.versions.keys()].sort((a, b) => b - a);
    const out: string[] = [];
    for (const version of versions) {
      const index = computeBlindIndex(this.named.indexKeyFor(loaded, version), value, options);
      if (!out.includes(index)) out.push(index);
    }
    return out;
  }

  // ---------------------------------------------------------------- crypto-shredding

  /**
   * Reference under which a subject's key is stored and which subject envelopes carry:
   * HMAC-SHA256(HKDF(ring secret, "bulwark/v1/subject-ref"), subject id) truncated to 128 bits,
   * base64url. Stable for a ring; reveals nothing about the id without the master key.
   */
  subjectRef(subjectId: string): string {
    this.loader.checkOpen();
    return this.subjects.ref(subjectId);
  }

  /**
   * Encrypts under the data subject's own key (created, wrapped and stored on first use), giving a
   * `bw1s.` envelope. After `shred(subjectId)` this throws SUBJECT_SHREDDED.
   */
  async encryptForSubject(
    subjectId: string,
    plaintext: string | Uint8Array,
    options?: EncryptOptions,
  ): Promise<string> {
    this.loader.checkOpen();
    checkPlaintext(plaintext);
    checkOptions(options);
    const ref = this.subjectRef(subjectId);
    const entry = await this.subjects.entry(ref, true);
    if (this.subjects.isKnownShredded(ref)) throw shreddedError();
    return this.sealer.seal(entry, plaintext, options);
  }

  /**
   * Decrypts a value that must belong to `subjectId`: the counterpart of encryptForSubject.
   * Refuses, with ERR_CRYPTO_SUBJECT_MISMATCH and before loading any key, an envelope that is not
   * under this subject's key (another subject's value, or a named-key envelope); see
   * DecryptOptions.subject. Loads the subject's key from the store when needed.
   */
  decryptForSubject(
    subjectId: string,
    envelope: string,
    options?: Omit<DecryptOptions, 'subject'>,
  ): Promise<Buffer> {
    checkOptions(options);
    return this.decryptAsync(envelope, { ...options, subject: subjectId });
  }

  /** decryptForSubject() for text; ERR_CRYPTO_MALFORMED if the plaintext is not UTF-8. */
  async decryptStringForSubject(
    subjectId: string,
    envelope: string,
    options?: Omit<DecryptOptions, 'subject'>,
  ): Promise<string> {
    return utf8(await this.decryptForSubject(subjectId, envelope, options));
  }

  /** Loads (unwraps) the subject's key so sync decrypt() can read its envelopes. */
  async loadSubject(subjectId: string): Promise<void> {
    this.loader.checkOpen();
    await this.subjects.entry(this.subjectRef(subjectId), false);
  }

  /**
   * Crypto-shreds a data subject: the wrapped key is replaced by a tombstone in the store and the
   * in-memory copy zeroed, so every `bw1s.` envelope of that subject (backups included) becomes
   * permanently unreadable (SUBJECT_SHREDDED), and encryptForSubject refuses the subject from now
   * on. Idempotent; shredding a subject never seen still records the tombstone.
   * Other rings sharing the store notice within their `subjectCacheTtlMs` (default 60 s): until
   * then one that has the subject's key cached may still use it.
   */
  async shred(subjectId: string): Promise<void> {
    this.loader.checkOpen();
    await this.subjects.shred(this.subjectRef(subjectId));
  }

  /** True once the subject has been shredded (by this or any process sharing the store). */
  async isShredded(subjectId: string): Promise<boolean> {
    this.loader.checkOpen();
    return this.subjects.isShredded(this.subjectRef(subjectId));
  }

  /**
   * Zero-fills every cached key (data keys, derived keys, subject keys), closes the provider and
   * the store, and makes further calls throw ERR_CRYPTO_CLOSED. KeyObject copies inside OpenSSL
   * are released to the garbage collector (Node offers no way to wipe them).
   */
  async close(): Promise<void> {
    if (this.loader.closed) return;
    await this.scheduler?.stop();
    this.scheduler = undefined;
    this.loader.closed = true;
    await this.named.stop();
    await this.subjects.settle();
    this.wipe();
    await Promise.allSettled([
      this.loader.provider.close?.(),
      this.loader.previous?.close?.(),
      this.loader.store.close?.(),
    ]);
  }

  private wipe(): void {
    this.named.wipe();
    this.subjects.wipe();
    this.sealer.wipe();
  }
}

/** The details of a `key.rotated` audit entry. */
interface KeyEventDetails {
  operation: 'rotate' | 'rotate-due' | 'rotate-master' | 'rewrap';
  /** The named key, or `$master` for a master-key rotation, `*` for a rewrap run over many keys. */
  keyId: string;
  /** The primary version after the operation. */
  version?: number;
  [more: string]: string | number | boolean | undefined | Record<string, number>;
}

const keyEventRecorders = new WeakMap<KeyRing, (details: KeyEventDetails) => Promise<void>>();

/** Records a `key.rotated` entry through `ring`'s audit log (rewrap's end-of-run record). @internal */
export function recordKeyEvent(ring: KeyRing, details: KeyEventDetails): Promise<void> {
  return keyEventRecorders.get(ring)?.(details) ?? Promise.resolve();
}
