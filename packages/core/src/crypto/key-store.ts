import type { AeadAlgorithm } from './aead';

/** One version of a named key, as persisted. `wrappedKey` is the provider's opaque blob. */
export interface StoredKeyVersion {
  readonly version: number;
  readonly algorithm: AeadAlgorithm;
  readonly wrappedKey: string;
  /** ISO 8601 UTC. */
  readonly createdAt: string;
}

/** A named key with all its versions. Retired versions are kept (see KeyRing.retire). */
export interface StoredKey {
  readonly keyId: string;
  readonly primaryVersion: number;
  readonly minDecryptVersion: number;
  readonly createdAt: string;
  readonly rotatedAt: string;
  readonly versions: readonly StoredKeyVersion[];
}

/**
 * A data subject's key, addressed only by its subject reference (a keyed hash of the subject id;
 * the id itself is never stored). After shredding, `wrappedKey` is null and `shreddedAt` set: the
 * record stays as a tombstone so "shredded" can be told apart from "never seen".
 */
export interface StoredSubjectKey {
  readonly subjectRef: string;
  readonly algorithm: AeadAlgorithm;
  readonly wrappedKey: string | null;
  readonly createdAt: string;
  readonly shreddedAt: string | null;
}

/** The ring's internal secret (wrapped by the provider); subject references are derived from it. */
export interface StoredRingSecret {
  readonly wrappedKey: string;
  readonly createdAt: string;
}

/** Which stored wrapped key KeyStore.replaceWrappedKey addresses. */
export type WrappedKeyTarget =
  | { readonly kind: 'version'; readonly keyId: string; readonly version: number }
  | { readonly kind: 'ring' }
  | { readonly kind: 'subject'; readonly subjectRef: string };

/**
 * Persistence for wrapped keys. Stores only hold wrapped (encrypted) key material, so a copy of
 * the store alone reveals nothing; the master key lives elsewhere (KeyProvider).
 *
 * Named keys are few and loaded once at open; subject keys may number millions, so they are read
 * one at a time. A database-backed store (e.g. @bulwark/typeorm) maps this to three tables.
 *
 * Contract: several processes may share one store, so every write is INSERT-IF-ABSENT or
 * MONOTONIC, never last-writer-wins. A data key that has encrypted anything must never be
 * replaced, or everything sealed under it becomes unreadable; so:
 * - a key version (keyId, version) is written once and never overwritten;
 * - `primaryVersion` only moves forward and `minDecryptVersion` only up (never above primary);
 * - the ring secret and a subject key are written once; the loser of a race ADOPTS the stored one;
 * - a subject tombstone is never replaced by a key; shredding overwrites only to a tombstone;
 * - the one exception: master-key rotation swaps a wrapping for a re-wrapping of the same data
 *   key (replaceWrappedKey, compare-and-swap).
 * Each write must be atomic and durable before it resolves. Failures of the backing storage (and
 * unreadable or corrupt data) should throw BulwarkCryptoError ERR_CRYPTO_KEY_STORE.
 */
export interface KeyStore {
  /** Short, non-secret description (e.g. `file:/var/lib/app/keys.json`). */
  readonly name: string;
  /** Every named key with all its versions, fresh from the backing storage (not a cache). */
  loadKeys(): Promise<StoredKey[]>;
  /**
   * Inserts version `version.version` of `keyId` only if that (keyId, version) is absent, creating
   * the key's record (primary = minDecrypt = this version) if the key is new. When inserted, the
   * key's `primaryVersion` becomes `version.version` if that is higher (never lower) and
   * `rotatedAt` becomes `version.createdAt`. Atomic: the primary never names a missing version.
   * @returns true if inserted; false if that version already existed (nothing was written).
   */
  insertKeyVersion(keyId: string, version: StoredKeyVersion): Promise<boolean>;
  /**
   * Raises `keyId`'s minDecryptVersion to `minDecryptVersion` if that is higher than the stored one
   * and not above the stored primary; otherwise writes nothing. Resolves either way (the caller
   * re-reads the key to see the outcome).
   */
  raiseMinDecryptVersion(keyId: string, minDecryptVersion: number): Promise<void>;
  getRingSecret(): Promise<StoredRingSecret | undefined>;
  /**
   * Stores `secret` only if the store has no ring secret yet.
   * @returns the ring secret now stored: `secret` itself if inserted, else the existing one.
   */
  insertRingSecret(secret: StoredRingSecret): Promise<StoredRingSecret>;
  /** The record for `subjectRef` (key or tombstone), fresh from the backing storage. */
  getSubject(subjectRef: string): Promise<StoredSubjectKey | undefined>;
  /**
   * Stores `subject` (a live key, `wrappedKey` set) only if no record exists for its subjectRef.
   * @returns the record now stored: `subject` if inserted, else the existing key or tombstone.
   */
  insertSubject(subject: StoredSubjectKey): Promise<StoredSubjectKey>;
  /**
   * Makes the record for `tombstone.subjectRef` a tombstone: inserts `tombstone` if absent, or
   * overwrites an existing key in place (no copy of the wrapped key kept; the existing createdAt
   * and algorithm may stay). An existing tombstone is left as it is (idempotent).
   */
  shredSubject(tombstone: StoredSubjectKey): Promise<void>;
  /**
   * Subject records (keys and tombstones) with a subjectRef greater than `after` (all when
   * undefined), in ascending subjectRef order, at most `limit`. Needed by master-key rotation only.
   */
  listSubjects?(after: string | undefined, limit: number): Promise<StoredSubjectKey[]>;
  /**
   * Compare-and-swap of one wrapped key, for master-key rotation: replaces the stored wrapping of
   * `target` by `next` only if it is still exactly `expected` (for a subject: only while it is a
   * live key, never a tombstone). `next` wraps the SAME data key under another master key (the
   * ring checks this before calling), so this is the one in-place overwrite the contract allows.
   * @returns true if replaced; false if the record was missing or had changed (nothing written).
   */
  replaceWrappedKey?(target: WrappedKeyTarget, expected: string, next: string): Promise<boolean>;
  close?(): Promise<void>;
}

/** Method names a KeyStore must have (checked when a ring opens). */
export const KEY_STORE_METHODS = [
  'loadKeys',
  'insertKeyVersion',
  'raiseMinDecryptVersion',
  'getRingSecret',
  'insertRingSecret',
  'getSubject',
  'insertSubject',
  'shredSubject',
] as const;
