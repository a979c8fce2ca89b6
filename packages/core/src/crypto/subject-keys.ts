import { createHmac, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import { BulwarkCryptoError, ErrorCodes } from '../errors';
import { KEY_LENGTH, type AeadAlgorithm } from './aead';
import {
  checkAlgorithm,
  cryptoError,
  derive,
  EMPTY,
  INFO_SUBJECT_REF,
  makeSubjectEntry,
  wipeEntry,
  type CipherEntry,
} from './cipher-entry';
import { SUBJECT_REF_BYTES, type ParsedEnvelope } from './envelope';
import type { KeyLoader } from './key-loader';
import type { KeyWrapContext } from './key-provider';
import type { StoredSubjectKey } from './key-store';

const RING_SECRET_CONTEXT: KeyWrapContext = Object.freeze({ keyId: '$ring', version: 1 });

/** A subject key in the ring's cache, with what it was checked against in the store and when. */
interface CachedSubject {
  readonly entry: CipherEntry;
  readonly wrappedKey: string;
  /** clock() milliseconds of the last check against the store. */
  checkedAt: number;
}

export function shreddedError(): BulwarkCryptoError {
  return cryptoError(
    ErrorCodes.CRYPTO_SUBJECT_SHREDDED,
    "The data subject's key was destroyed (crypto-shredded); this value can no longer be decrypted or written",
  );
}

function subjectContext(ref: string): KeyWrapContext {
  return { keyId: `$subject:${ref}`, version: 1 };
}

/**
 * The data subjects' own keys (crypto-shredding): subject references derived from the ring
 * secret, keys created, unwrapped and cached on use (re-checked against the store after the
 * cache TTL, so a shred by another process is noticed), and shredding itself.
 */
export class SubjectKeys {
  private readonly subjects = new Map<string, CachedSubject>();
  private readonly shredded = new Set<string>();
  private readonly loads = new Map<string, Promise<CipherEntry>>();
  private refRaw: Buffer = EMPTY;
  private refKey: KeyObject | undefined;
  /** The last subject id given to ref() and its reference (loads repeat one subject). */
  private lastSubject: { id: string; ref: string } | undefined;

  constructor(
    private readonly loader: KeyLoader,
    private readonly algorithm: AeadAlgorithm,
    private readonly cacheSize: number,
    private readonly cacheTtlMs: number,
  ) {}

  /** Loads the ring secret (created on first open) and derives the subject-reference key. */
  async loadRingSecret(): Promise<void> {
    const stored = await this.loader.storeCall(() => this.loader.store.getRingSecret());
    let raw: Buffer;
    if (stored === undefined) {
      raw = randomBytes(KEY_LENGTH);
      const mine = {
        wrappedKey: await this.loader.wrap(raw, RING_SECRET_CONTEXT),
        createdAt: this.loader.now(),
      };
      const winner = await this.loader
        .storeCall(() => this.loader.store.insertRingSecret(mine))
        .catch((error: unknown) => {
          raw.fill(0);
          throw error;
        });
      if (winner.wrappedKey !== mine.wrappedKey) {
        // Another ring opened the empty store at the same moment and stored its secret first:
        // subject references must be the same in every ring, so use the stored one.
        raw.fill(0);
        raw = await this.loader.unwrap(winner.wrappedKey, RING_SECRET_CONTEXT);
      }
    } else {
      raw = await this.loader.unwrap(stored.wrappedKey, RING_SECRET_CONTEXT);
    }
    this.refRaw = derive(raw, INFO_SUBJECT_REF);
    raw.fill(0);
    this.refKey = createSecretKey(this.refRaw);
  }

  /**
   * Reference under which a subject's key is stored and which subject envelopes carry:
   * HMAC-SHA256(HKDF(ring secret, "bulwark/v1/subject-ref"), subject id) truncated to 128 bits,
   * base64url. Stable for a ring; reveals nothing about the id without the master key.
   */
  ref(subjectId: string): string {
    if (typeof subjectId !== 'string' || subjectId === '') {
      throw cryptoError(ErrorCodes.CRYPTO_INVALID_ARGUMENT, 'subjectId must be a non-empty string');
    }
    const last = this.lastSubject;
    if (last !== undefined && last.id === subjectId) return last.ref;
    const ref = createHmac('sha256', this.refKey as KeyObject)
      .update(subjectId, 'utf8')
      .digest()
      .subarray(0, SUBJECT_REF_BYTES)
      .toString('base64url');
    this.lastSubject = { id: subjectId, ref };
    return ref;
  }

  /** True once this ring knows the subject (by reference) is shredded. */
  isKnownShredded(ref: string): boolean {
    return this.shredded.has(ref);
  }

  /** DecryptOptions.subject: the envelope must carry `subject`'s reference (see there). */
  expect(parsed: ParsedEnvelope, subject: unknown): void {
    if (subject === undefined) return;
    if (typeof subject !== 'string' || subject === '') {
      throw cryptoError(ErrorCodes.CRYPTO_INVALID_ARGUMENT, 'subject must be a non-empty string');
    }
    // References are not secret (every envelope of the subject carries its own), so a plain
    // comparison leaks nothing worth a constant-time one.
    if (parsed.kind !== 'subject' || parsed.subjectRef !== this.ref(subject)) {
      throw cryptoError(
        ErrorCodes.CRYPTO_SUBJECT_MISMATCH,
        parsed.kind === 'subject'
          ? "The value is encrypted under another data subject's key (moved from another subject's record?); it is not returned"
          : "The value is not encrypted under the data subject's key (a named-key envelope where a subject envelope belongs); it is not returned",
        { envelope: parsed.kind === 'subject' ? 'other-subject' : 'named-key' },
      );
    }
  }

  /** The cached key for sync decrypt (an expired one is re-checked in the background). */
  cached(ref: string): CipherEntry {
    if (this.shredded.has(ref)) throw shreddedError();
    const cached = this.subjects.get(ref);
    if (cached === undefined) {
      throw cryptoError(
        ErrorCodes.CRYPTO_SUBJECT_KEY_NOT_LOADED,
        "The data subject's key is not loaded; use decryptAsync() (or loadSubject) for subject envelopes",
      );
    }
    // Sync callers cannot wait for the store: serve this call, check in the background.
    if (this.subjectExpired(cached) && !this.loads.has(ref)) {
      this.entry(ref, false).catch(() => undefined);
    }
    return cached.entry;
  }

  /**
   * The subject's key: from the cache while fresh (see subjectCacheTtlMs), else checked against or
   * loaded from the store (and, with `create`, created there). One in-flight load per subject.
   */
  entry(ref: string, create: boolean): Promise<CipherEntry> {
    if (this.shredded.has(ref)) return Promise.reject(shreddedError());
    const cached = this.subjects.get(ref);
    if (cached !== undefined && !this.subjectExpired(cached)) return Promise.resolve(cached.entry);
    const pending = this.loads.get(ref);
    if (pending !== undefined && create) {
      // A decrypt-only load may fail with UNKNOWN_KEY; retry with creation after it settles.
      return pending.catch(() => this.entry(ref, true));
    }
    if (pending !== undefined) return pending;
    const load = this.loadSubjectEntry(ref, create);
    this.loads.set(ref, load);
    const cleanup = () => {
      if (this.loads.get(ref) === load) this.loads.delete(ref);
    };
    load.then(cleanup, cleanup);
    return load;
  }

  /**
   * Shreds the subject: marks it first (a concurrent load that finishes later discards the key),
   * zeroes the cached key, then stores the tombstone.
   */
  async shred(ref: string): Promise<void> {
    // Mark first: a concurrent load that finishes after this line discards the key.
    this.shredded.add(ref);
    this.evictSubject(ref);
    await this.loads.get(ref)?.catch(() => undefined);
    this.evictSubject(ref);
    const now = this.loader.now();
    const tombstone: StoredSubjectKey = {
      subjectRef: ref,
      algorithm: this.algorithm,
      wrappedKey: null,
      createdAt: now,
      shreddedAt: now,
    };
    await this.loader.storeCall(() => this.loader.store.shredSubject(tombstone));
  }

  /** True once the subject has been shredded (by this or any process sharing the store). */
  async isShredded(ref: string): Promise<boolean> {
    if (this.shredded.has(ref)) return true;
    const record = await this.loader.storeCall(() => this.loader.store.getSubject(ref));
    if (record?.shreddedAt) {
      this.shredded.add(ref);
      return true;
    }
    return false;
  }

  /** Waits for subject loads under way (close). */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.loads.values()]);
  }

  private subjectExpired(cached: CachedSubject): boolean {
    return this.cacheTtlMs !== Infinity && this.loader.millis() - cached.checkedAt >= this.cacheTtlMs;
  }

  private async loadSubjectEntry(ref: string, create: boolean): Promise<CipherEntry> {
    const record = await this.loader.storeCall(() => this.loader.store.getSubject(ref));
    const checkedAt = this.loader.millis();
    if (record?.shreddedAt) {
      this.shredded.add(ref);
      this.evictSubject(ref);
      throw shreddedError();
    }
    const cached = this.subjects.get(ref);
    if (cached !== undefined) {
      if (record?.wrappedKey === cached.wrappedKey) {
        cached.checkedAt = checkedAt;
        return cached.entry;
      }
      // The store no longer holds the key we cached: never go on encrypting under it.
      this.evictSubject(ref);
    }
    let entry: CipherEntry;
    let wrappedKey: string;
    if (record?.wrappedKey) {
      wrappedKey = record.wrappedKey;
      const raw = await this.loader.unwrap(wrappedKey, subjectContext(ref));
      entry = makeSubjectEntry(checkAlgorithm(record.algorithm), raw, ref);
    } else if (create) {
      const raw = Buffer.allocUnsafeSlow(KEY_LENGTH);
      randomBytes(KEY_LENGTH).copy(raw);
      const mine: StoredSubjectKey = {
        subjectRef: ref,
        algorithm: this.algorithm,
        wrappedKey: await this.loader.wrap(raw, subjectContext(ref)).catch((error: unknown) => {
          raw.fill(0);
          throw error;
        }),
        createdAt: this.loader.now(),
        shreddedAt: null,
      };
      if (this.shredded.has(ref)) {
        raw.fill(0);
        throw shreddedError();
      }
      const winner = await this.loader
        .storeCall(() => this.loader.store.insertSubject(mine))
        .catch((error: unknown) => {
          raw.fill(0);
          throw error;
        });
      if (winner.wrappedKey === mine.wrappedKey) {
        wrappedKey = mine.wrappedKey as string;
        entry = makeSubjectEntry(this.algorithm, raw, ref);
      } else {
        // Another ring stored a key (or a tombstone) for this subject first: adopt it, so every
        // value of the subject is under the one stored key.
        raw.fill(0);
        if (winner.shreddedAt || !winner.wrappedKey) {
          this.shredded.add(ref);
          throw shreddedError();
        }
        wrappedKey = winner.wrappedKey;
        const adopted = await this.loader.unwrap(wrappedKey, subjectContext(ref));
        entry = makeSubjectEntry(checkAlgorithm(winner.algorithm), adopted, ref);
      }
    } else {
      throw cryptoError(ErrorCodes.CRYPTO_UNKNOWN_KEY, 'No key exists for this data subject');
    }
    if (this.shredded.has(ref) || this.loader.closed) {
      wipeEntry(entry);
      throw this.loader.closed
        ? cryptoError(ErrorCodes.CRYPTO_CLOSED, 'The key ring is closed')
        : shreddedError();
    }
    this.cacheSubject(ref, { entry, wrappedKey, checkedAt });
    return entry;
  }

  private cacheSubject(ref: string, cached: CachedSubject): void {
    this.subjects.set(ref, cached);
    while (this.subjects.size > this.cacheSize) {
      const oldest = this.subjects.keys().next().value as string;
      this.evictSubject(oldest);
    }
  }

  private evictSubject(ref: string): void {
    const cached = this.subjects.get(ref);
    if (cached !== undefined) {
      this.subjects.delete(ref);
      wipeEntry(cached.entry);
    }
  }

  /** Zero-fills every cached subject key and the subject-reference key. */
  wipe(): void {
    for (const cached of this.subjects.values()) wipeEntry(cached.entry);
    this.subjects.clear();
    this.shredded.clear();
    this.refRaw.fill(0);
    this.refKey = undefined;
    this.lastSubject = undefined;
  }
}
