import { createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import { BulwarkCryptoError, ErrorCodes } from '../errors';
import { KEY_LENGTH, type AeadAlgorithm } from './aead';
import {
  checkAlgorithm,
  cryptoError,
  derive,
  INFO_BLIND_INDEX,
  makeEntry,
  wipeEntry,
  type CipherEntry,
} from './cipher-entry';
import { checkOptions } from './envelope-sealer';
import { isValidKeyId, MAX_KEY_VERSION, type KeyEnvelope } from './envelope';
import type { KeyInfo, KeyVersionInfo } from './key-ring';
import type { KeyLoader } from './key-loader';
import type { StoredKey, StoredKeyVersion } from './key-store';
import { primaryCreatedAt, type RotationDue, type RotationSchedule } from './rotation-policy';

/** Unknown envelopes (possibly attacker-made) may schedule at most one store refresh per this. */
const MIN_SCHEDULED_REFRESH_GAP_MS = 1_000;

/** A named key as loaded: its stored record, the unwrapped versions and the blind-index key. */
export interface LoadedKey {
  record: StoredKey;
  versions: Map<number, CipherEntry>;
  primary: CipherEntry;
  indexRaw: Buffer;
  indexKey: KeyObject;
  /** Blind-index keys derived from later versions (BlindIndexOptions.keyVersion), made on first use. */
  versionIndexKeys: Map<number, KeyObject>;
  /** When the primary stops encrypting (ms since the epoch), if the key has an expiry. */
  primaryExpiresAt: number | undefined;
}

function versionState(record: StoredKey, version: number): KeyVersionInfo['state'] {
  if (version === record.primaryVersion) return 'primary';
  return version < record.minDecryptVersion ? 'retired' : 'active';
}

export function toInfo(record: StoredKey, schedule: RotationSchedule): KeyInfo {
  const due = schedule.dueAt(record);
  return {
    keyId: record.keyId,
    primaryVersion: record.primaryVersion,
    minDecryptVersion: record.minDecryptVersion,
    createdAt: record.createdAt,
    rotatedAt: record.rotatedAt,
    rotateEvery: schedule.rotateEvery(record.keyId),
    rotationDueAt: Number.isFinite(due) ? new Date(due).toISOString() : primaryCreatedAt(record),
    versions: [...record.versions]
      .sort((a, b) => a.version - b.version)
      .map((v) => {
        const expires = schedule.expiresAt(record.keyId, v.createdAt);
        return {
          version: v.version,
          algorithm: v.algorithm,
          createdAt: v.createdAt,
          ...(expires !== undefined && Number.isFinite(expires)
            ? { expiresAt: new Date(expires).toISOString() }
            : {}),
          state: versionState(record, v.version),
        };
      }),
  };
}

export function checkKeyId(keyId: unknown): asserts keyId is string {
  if (!isValidKeyId(keyId)) {
    throw cryptoError(
      ErrorCodes.CRYPTO_INVALID_ARGUMENT,
      'Key ids are 1-64 characters from A-Z a-z 0-9 _ - (they appear in envelopes)',
    );
  }
}

export function unknownKey(keyId: string, version?: number, refreshScheduled = false): BulwarkCryptoError {
  const hint = refreshScheduled
    ? ' (if another process created or rotated it, a refresh from the store has been scheduled: retry shortly, or use decryptAsync() / refresh())'
    : '';
  return cryptoError(
    ErrorCodes.CRYPTO_UNKNOWN_KEY,
    version === undefined
      ? `Unknown key ${JSON.stringify(keyId)}; create it first${hint}`
      : `Key ${keyId} has no version ${version}${hint}`,
    version === undefined ? { keyId, refreshScheduled } : { keyId, version, refreshScheduled },
  );
}

/**
 * The ring's named keys with their numbered versions: loading and unwrapping them from the store,
 * administration (create, rotate, retire; serialised in the process), and refresh, which picks up
 * what other processes sharing the store changed (a background timer, and a refresh scheduled when
 * a sync decrypt meets an unknown key version). Each key's blind-index key is derived here from its
 * first version.
 */
export class NamedKeys {
  private readonly keys = new Map<string, LoadedKey>();
  private lock: Promise<unknown> = Promise.resolve();
  private refreshTimer: NodeJS.Timeout | undefined;
  private pendingRefresh: Promise<void> | undefined;
  private lastScheduledRefresh = -Infinity;

  constructor(
    private readonly loader: KeyLoader,
    private readonly defaultAlgorithm: AeadAlgorithm,
    readonly schedule: RotationSchedule,
  ) {}

  /** Loads every stored key (on open). */
  async loadAll(): Promise<void> {
    for (const record of await this.loader.storeCall(() => this.loader.store.loadKeys())) {
      this.keys.set(record.keyId, await this.loadKey(record));
    }
  }

  /** Re-reads the store every `intervalMs` (an unref'd timer, stopped by stop()). */
  startRefresh(intervalMs: number): void {
    this.refreshTimer = setInterval(() => this.backgroundRefresh(), intervalMs);
    this.refreshTimer.unref();
  }

  /** Stops the timer and waits for administration under way. */
  async stop(): Promise<void> {
    clearInterval(this.refreshTimer);
    this.refreshTimer = undefined;
    await this.lock.catch(() => undefined);
  }

  // ---------------------------------------------------------------- administration (async)

  /**
   * Creates `keyId` with version 1 as primary. Throws ERR_CRYPTO_KEY_EXISTS if it exists, in this
   * ring or in the store (e.g. another process created it first: this ring then loads that key).
   */
  createKey(keyId: string, options: { algorithm?: AeadAlgorithm } = {}): Promise<KeyInfo> {
    return this.exclusive(async () => {
      checkKeyId(keyId);
      if (this.keys.has(keyId)) {
        throw cryptoError(ErrorCodes.CRYPTO_KEY_EXISTS, `Key ${keyId} already exists`, { keyId });
      }
      const { info, created } = await this.create(keyId, options);
      if (!created) {
        throw cryptoError(ErrorCodes.CRYPTO_KEY_EXISTS, `Key ${keyId} already exists`, { keyId });
      }
      return info;
    });
  }

  /**
   * Returns the key's info, creating it first if it does not exist. Safe when several processes
   * ensure the same key at once: one creates it and the others adopt the stored key.
   */
  ensureKey(keyId: string, options: { algorithm?: AeadAlgorithm } = {}): Promise<KeyInfo> {
    return this.exclusive(async () => {
      checkKeyId(keyId);
      const existing = this.keys.get(keyId);
      return existing !== undefined
        ? toInfo(existing.record, this.schedule)
        : (await this.create(keyId, options)).info;
    });
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
  rotate(keyId: string, options: { algorithm?: AeadAlgorithm } = {}): Promise<KeyInfo> {
    return this.exclusive(async () => (await this.rotateLocked(keyId, options, () => true)).info);
  }

  /**
   * Rotates `keyId` only if, on the store's latest state, its primary is due (the scheduler's and
   * `bulwark keys rotate --due`'s rotation). Several processes doing this at once add ONE version:
   * those that read the store before any insert all pick the same next version number and the
   * store's insert-if-absent keeps the first; those that read it after see a fresh primary that is
   * no longer due.
   */
  rotateIfDue(keyId: string): Promise<{ info: KeyInfo; rotated: boolean }> {
    // A version above the primary means another process's rotation is being committed (a store
    // may read the key row and the version rows at two moments, e.g. TypeOrmKeyStore under READ
    // COMMITTED): that rotation counts, so the key is not due.
    return this.exclusive(() =>
      this.rotateLocked(
        keyId,
        {},
        (record) =>
          record.versions.every((v) => v.version <= record.primaryVersion) &&
          this.schedule.due(record, this.loader.millis()) !== undefined,
      ),
    );
  }

  private async rotateLocked(
    keyId: string,
    options: { algorithm?: AeadAlgorithm },
    condition: (record: StoredKey) => boolean,
  ): Promise<{ info: KeyInfo; rotated: boolean }> {
    this.loaded(keyId);
    await this.reloadKeys();
    const loaded = this.loaded(keyId);
    if (!condition(loaded.record)) return { info: toInfo(loaded.record, this.schedule), rotated: false };
    const algorithm = checkAlgorithm(options?.algorithm ?? loaded.primary.algorithm);
    const version = Math.max(...loaded.record.versions.map((v) => v.version)) + 1;
    if (version > MAX_KEY_VERSION) {
      throw cryptoError(ErrorCodes.CRYPTO_INVALID_ARGUMENT, `Key ${keyId} has no versions left`, { keyId });
    }
    const { stored, entry } = await this.newVersion(keyId, version, algorithm, this.loader.now());
    let inserted: boolean;
    try {
      inserted = await this.loader.storeCall(() => this.loader.store.insertKeyVersion(keyId, stored));
    } catch (error) {
      wipeEntry(entry);
      throw error;
    }
    // Inserted: offer the entry to the reload below (it reuses it instead of unwrapping again).
    // Lost the race: the stored version N is another process's key; ours is discarded.
    if (inserted) loaded.versions.set(version, entry);
    else wipeEntry(entry);
    await this.reloadKeys();
    return { info: toInfo(this.loaded(keyId).record, this.schedule), rotated: inserted };
  }

  /**
   * Sets the minimum decryption version: older versions are rejected with ERR_CRYPTO_KEY_RETIRED
   * and their unwrapped keys dropped from memory. Monotonic (cannot be lowered) and cannot retire
   * the primary. Retiring is a policy gate, not destruction: wrapped keys stay in the store
   * (the first version still derives the blind-index key). Run `rewrap` first.
   */
  retire(keyId: string, minDecryptVersion: number): Promise<KeyInfo> {
    return this.exclusive(async () => {
      this.loaded(keyId);
      await this.reloadKeys();
      const { record } = this.loaded(keyId);
      if (!Number.isSafeInteger(minDecryptVersion) || minDecryptVersion < 1) {
        throw cryptoError(ErrorCodes.CRYPTO_INVALID_ARGUMENT, 'minDecryptVersion must be a positive integer');
      }
      if (minDecryptVersion > record.primaryVersion) {
        throw cryptoError(
          ErrorCodes.CRYPTO_INVALID_ARGUMENT,
          `Cannot retire the primary version of ${keyId} (v${record.primaryVersion}); rotate first`,
          { keyId },
        );
      }
      if (minDecryptVersion < record.minDecryptVersion) {
        throw cryptoError(
          ErrorCodes.CRYPTO_INVALID_ARGUMENT,
          `Key ${keyId} already retires versions below ${record.minDecryptVersion}; retirement cannot be undone`,
          { keyId },
        );
      }
      if (minDecryptVersion === record.minDecryptVersion) return toInfo(record, this.schedule);
      // Monotonic in the store too: a concurrent retire to a higher version is never undone.
      await this.loader.storeCall(() => this.loader.store.raiseMinDecryptVersion(keyId, minDecryptVersion));
      await this.reloadKeys(); // drops (and zeroes) the versions now retired
      return toInfo(this.loaded(keyId).record, this.schedule);
    });
  }

  /**
   * Re-reads named keys from the store, e.g. after `bulwark keys rotate` ran in another process.
   * `decryptAsync` calls it once by itself when it meets an unknown key or version.
   */
  refresh(): Promise<void> {
    return this.exclusive(() => this.reloadKeys());
  }

  // ---------------------------------------------------------------- queries (sync)

  has(keyId: string): boolean {
    return this.keys.has(keyId);
  }

  info(keyId: string): KeyInfo {
    return toInfo(this.loaded(keyId).record, this.schedule);
  }

  list(): KeyInfo[] {
    return [...this.keys.values()]
      .map((k) => toInfo(k.record, this.schedule))
      .sort((a, b) => (a.keyId < b.keyId ? -1 : a.keyId > b.keyId ? 1 : 0));
  }

  /** Keys due for rotation at `now` (ms), most overdue first. */
  dueList(now: number): RotationDue[] {
    const due: RotationDue[] = [];
    for (const loaded of this.keys.values()) {
      const status = this.schedule.due(loaded.record, now);
      if (status !== undefined) due.push(status);
    }
    return due.sort((a, b) => b.overdueDays - a.overdueDays || (a.keyId < b.keyId ? -1 : 1));
  }

  /** The loaded key, or undefined. */
  find(keyId: string): LoadedKey | undefined {
    return this.keys.get(keyId);
  }

  /** The loaded key, or ERR_CRYPTO_UNKNOWN_KEY. */
  loaded(keyId: string): LoadedKey {
    const loaded = typeof keyId === 'string' ? this.keys.get(keyId) : undefined;
    if (loaded === undefined) throw unknownKey(String(keyId));
    return loaded;
  }

  /** The entry that opens a named-key envelope; an unknown key or version schedules a refresh. */
  entry(parsed: KeyEnvelope): CipherEntry {
    const loaded = this.keys.get(parsed.keyId);
    if (loaded === undefined) {
      this.scheduleRefresh();
      throw unknownKey(parsed.keyId, undefined, true);
    }
    if (parsed.version < loaded.record.minDecryptVersion) {
      throw cryptoError(
        ErrorCodes.CRYPTO_KEY_RETIRED,
        `Version ${parsed.version} of key ${parsed.keyId} is retired (minimum ${loaded.record.minDecryptVersion})`,
        { keyId: parsed.keyId, version: parsed.version },
      );
    }
    const entry = loaded.versions.get(parsed.version);
    if (entry === undefined) {
      this.scheduleRefresh();
      throw unknownKey(parsed.keyId, parsed.version, true);
    }
    return entry;
  }

  /**
   * The blind-index key of `keyId` derived from `version` (HKDF-SHA256, the same label as the
   * first version's): the first version's is always at hand; a later version's is derived on first
   * use from its data key, so that version must be live (not retired).
   */
  indexKeyFor(loaded: LoadedKey, version: number): KeyObject {
    const first = loaded.record.versions.reduce((a, b) => (b.version < a.version ? b : a));
    if (version === first.version) return loaded.indexKey;
    const cached = loaded.versionIndexKeys.get(version);
    if (cached !== undefined) return cached;
    const keyId = loaded.record.keyId;
    if (
      version < loaded.record.minDecryptVersion &&
      loaded.record.versions.some((v) => v.version === version)
    ) {
      throw cryptoError(
        ErrorCodes.CRYPTO_KEY_RETIRED,
        `Version ${version} of key ${keyId} is retired, so its blind-index key is gone; migrate the index to a live version`,
        { keyId, version },
      );
    }
    const entry = loaded.versions.get(version);
    if (entry === undefined) throw unknownKey(keyId, version);
    const raw = derive(entry.raw, INFO_BLIND_INDEX + keyId);
    const key = createSecretKey(raw);
    raw.fill(0);
    loaded.versionIndexKeys.set(version, key);
    return key;
  }

  /** True when the store's record of `keyId` (as last loaded) has `version`. */
  hasVersion(keyId: string, version: number): boolean {
    return this.keys.get(keyId)?.record.versions.some((v) => v.version === version) ?? false;
  }

  // ---------------------------------------------------------------- internals

  /** Serialises administration within the process so concurrent rotations cannot lose a version. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(() => {
      this.loader.checkOpen();
      return fn();
    });
    this.lock = run.catch(() => undefined);
    return run;
  }

  private async loadKey(
    record: StoredKey,
    reuse?: Map<number, CipherEntry>,
    current?: LoadedKey,
  ): Promise<LoadedKey> {
    const versions = new Map<number, CipherEntry>();
    const first = record.versions.reduce((a, b) => (b.version < a.version ? b : a));
    let indexRaw: Buffer | undefined;
    let indexKey: KeyObject | undefined;
    if (current !== undefined && current.record.versions.some((v) => v.version === first.version)) {
      indexRaw = current.indexRaw;
      indexKey = current.indexKey;
    }
    try {
      for (const stored of record.versions) {
        const needed = stored.version >= record.minDecryptVersion;
        if (!needed && (indexRaw !== undefined || stored.version !== first.version)) continue;
        const existing = reuse?.get(stored.version);
        if (existing !== undefined && needed) {
          versions.set(stored.version, existing);
          continue;
        }
        const raw = await this.loader.unwrap(stored.wrappedKey, {
          keyId: record.keyId,
          version: stored.version,
        });
        if (stored.version === first.version && indexRaw === undefined) {
          indexRaw = derive(raw, INFO_BLIND_INDEX + record.keyId);
          indexKey = createSecretKey(indexRaw);
        }
        if (needed)
          versions.set(stored.version, makeEntry(stored.algorithm, raw, record.keyId, stored.version));
        else raw.fill(0);
      }
    } catch (error) {
      for (const [version, entry] of versions) if (reuse?.get(version) !== entry) wipeEntry(entry);
      if (indexRaw !== current?.indexRaw) indexRaw?.fill(0);
      throw error;
    }
    const primary = versions.get(record.primaryVersion);
    if (primary === undefined || indexRaw === undefined || indexKey === undefined) {
      throw cryptoError(ErrorCodes.CRYPTO_KEY_STORE, `Key store record for ${record.keyId} is inconsistent`, {
        keyId: record.keyId,
      });
    }
    return {
      record,
      versions,
      primary,
      indexRaw,
      indexKey,
      versionIndexKeys: new Map(),
      primaryExpiresAt: this.schedule.expiresAt(record.keyId, primaryCreatedAt(record)),
    };
  }

  private async newVersion(
    keyId: string,
    version: number,
    algorithm: AeadAlgorithm,
    now: string,
  ): Promise<{ stored: StoredKeyVersion; entry: CipherEntry }> {
    const raw = Buffer.allocUnsafeSlow(KEY_LENGTH);
    randomBytes(KEY_LENGTH).copy(raw);
    let wrappedKey: string;
    try {
      wrappedKey = await this.loader.wrap(raw, { keyId, version });
    } catch (error) {
      raw.fill(0);
      throw error;
    }
    return {
      stored: { version, algorithm, wrappedKey, createdAt: now },
      entry: makeEntry(algorithm, raw, keyId, version),
    };
  }

  /**
   * Inserts version 1 of a new key. If the store already has it (another process created the key
   * since this ring loaded), nothing is written and the stored key is loaded instead.
   */
  private async create(
    keyId: string,
    options: { algorithm?: AeadAlgorithm },
  ): Promise<{ info: KeyInfo; created: boolean }> {
    checkOptions(options);
    const algorithm = checkAlgorithm(options?.algorithm ?? this.defaultAlgorithm);
    const now = this.loader.now();
    const { stored, entry } = await this.newVersion(keyId, 1, algorithm, now);
    let inserted: boolean;
    try {
      inserted = await this.loader.storeCall(() => this.loader.store.insertKeyVersion(keyId, stored));
    } catch (error) {
      wipeEntry(entry);
      throw error;
    }
    if (!inserted) {
      wipeEntry(entry);
      await this.reloadKeys();
      return { info: toInfo(this.loaded(keyId).record, this.schedule), created: false };
    }
    const record: StoredKey = {
      keyId,
      primaryVersion: 1,
      minDecryptVersion: 1,
      createdAt: now,
      rotatedAt: now,
      versions: [stored],
    };
    const indexRaw = derive(entry.raw, INFO_BLIND_INDEX + keyId);
    this.keys.set(keyId, {
      record,
      versions: new Map([[1, entry]]),
      primary: entry,
      indexRaw,
      indexKey: createSecretKey(indexRaw),
      versionIndexKeys: new Map(),
      primaryExpiresAt: this.schedule.expiresAt(keyId, now),
    });
    return { info: toInfo(record, this.schedule), created: true };
  }

  /** Re-reads every named key from the store, reusing unwrapped versions (caller holds the lock). */
  private async reloadKeys(): Promise<void> {
    const records = await this.loader.storeCall(() => this.loader.store.loadKeys());
    for (const record of records) {
      const current = this.keys.get(record.keyId);
      const reuse = current?.versions;
      const loaded = await this.loadKey(record, reuse, current);
      if (current !== undefined) {
        for (const [version, entry] of current.versions) {
          if (loaded.versions.get(version) !== entry) wipeEntry(entry);
        }
        if (loaded.indexRaw !== current.indexRaw) current.indexRaw.fill(0);
      }
      this.keys.set(record.keyId, loaded);
    }
  }

  /** refresh() in the background: one at a time, failures ignored (the ring keeps its keys). */
  private backgroundRefresh(): void {
    if (this.loader.closed || this.pendingRefresh !== undefined) return;
    const run = this.refresh()
      .catch(() => undefined)
      .finally(() => {
        if (this.pendingRefresh === run) this.pendingRefresh = undefined;
      });
    this.pendingRefresh = run;
  }

  /** Called when sync decrypt meets an unknown key or version: refresh soon, at most once a second. */
  private scheduleRefresh(): void {
    const now = Date.now();
    if (this.loader.closed || this.pendingRefresh !== undefined) return;
    if (now - this.lastScheduledRefresh < MIN_SCHEDULED_REFRESH_GAP_MS) return;
    this.lastScheduledRefresh = now;
    this.backgroundRefresh();
  }

  /** Zero-fills every unwrapped version and blind-index key (close, or a failed open). */
  wipe(): void {
    for (const loaded of this.keys.values()) {
      for (const entry of loaded.versions.values()) wipeEntry(entry);
      loaded.indexRaw.fill(0);
    }
    this.keys.clear();
  }
}
