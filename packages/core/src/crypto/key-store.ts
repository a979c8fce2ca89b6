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

/**
 * Persistence for wrapped keys. Stores only hold wrapped (encrypted) key material, so a copy of
 * the store alone reveals nothing; the master key lives elsewhere (KeyProvider).
 *
 * Named keys are few and loaded once at open; subject keys may number millions, so they are read
 * one at a time. A database-backed store (e.g. @bulwark/typeorm) maps this to three tables.
 * Implementations must make each save durable before resolving, must overwrite (not keep history
 * of) a subject's wrapped key on a tombstone save, and should throw BulwarkCryptoError
 * ERR_CRYPTO_KEY_STORE when the backing data is unreadable or corrupt.
 */
export interface KeyStore {
  /** Short, non-secret description (e.g. `file:/var/lib/app/keys.json`). */
  readonly name: string;
  loadKeys(): Promise<StoredKey[]>;
  /** Insert or replace the record for `key.keyId`. */
  saveKey(key: StoredKey): Promise<void>;
  getRingSecret(): Promise<StoredRingSecret | undefined>;
  saveRingSecret(secret: StoredRingSecret): Promise<void>;
  getSubject(subjectRef: string): Promise<StoredSubjectKey | undefined>;
  /** Insert or replace the record for `subject.subjectRef` (including tombstones). */
  saveSubject(subject: StoredSubjectKey): Promise<void>;
  close?(): Promise<void>;
}
