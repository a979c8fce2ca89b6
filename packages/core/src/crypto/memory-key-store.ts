import type {
  KeyStore,
  StoredKey,
  StoredKeyVersion,
  StoredRingSecret,
  StoredSubjectKey,
  WrappedKeyTarget,
} from './key-store';

function clone<T>(value: T): T {
  return structuredClone(value);
}

/**
 * In-process key store for tests and ephemeral setups. Everything is lost with the process, which
 * makes every ciphertext unreadable afterwards: use FileKeyStore or a database store for real data.
 * Each method checks and writes without an await in between, so rings sharing one instance get
 * the insert-if-absent contract of KeyStore exactly.
 */
export class MemoryKeyStore implements KeyStore {
  readonly name = 'memory';
  private readonly keys = new Map<string, StoredKey>();
  private readonly subjects = new Map<string, StoredSubjectKey>();
  private ringSecret: StoredRingSecret | undefined;

  async loadKeys(): Promise<StoredKey[]> {
    return [...this.keys.values()].map(clone);
  }

  async insertKeyVersion(keyId: string, version: StoredKeyVersion): Promise<boolean> {
    const key = this.keys.get(keyId);
    const stored = clone(version);
    if (key === undefined) {
      this.keys.set(keyId, {
        keyId,
        primaryVersion: stored.version,
        minDecryptVersion: stored.version,
        createdAt: stored.createdAt,
        rotatedAt: stored.createdAt,
        versions: [stored],
      });
      return true;
    }
    if (key.versions.some((v) => v.version === stored.version)) return false;
    const higher = stored.version > key.primaryVersion;
    this.keys.set(keyId, {
      ...key,
      primaryVersion: higher ? stored.version : key.primaryVersion,
      rotatedAt: higher ? stored.createdAt : key.rotatedAt,
      versions: [...key.versions, stored],
    });
    return true;
  }

  async raiseMinDecryptVersion(keyId: string, minDecryptVersion: number): Promise<void> {
    const key = this.keys.get(keyId);
    if (key === undefined || minDecryptVersion <= key.minDecryptVersion) return;
    if (minDecryptVersion > key.primaryVersion) return;
    this.keys.set(keyId, { ...key, minDecryptVersion });
  }

  async getRingSecret(): Promise<StoredRingSecret | undefined> {
    return this.ringSecret === undefined ? undefined : clone(this.ringSecret);
  }

  async insertRingSecret(secret: StoredRingSecret): Promise<StoredRingSecret> {
    this.ringSecret ??= clone(secret);
    return clone(this.ringSecret);
  }

  async getSubject(subjectRef: string): Promise<StoredSubjectKey | undefined> {
    const record = this.subjects.get(subjectRef);
    return record === undefined ? undefined : clone(record);
  }

  async insertSubject(subject: StoredSubjectKey): Promise<StoredSubjectKey> {
    const existing = this.subjects.get(subject.subjectRef);
    if (existing !== undefined) return clone(existing);
    this.subjects.set(subject.subjectRef, clone(subject));
    return clone(subject);
  }

  async shredSubject(tombstone: StoredSubjectKey): Promise<void> {
    const existing = this.subjects.get(tombstone.subjectRef);
    if (existing?.shreddedAt) return;
    this.subjects.set(tombstone.subjectRef, {
      subjectRef: tombstone.subjectRef,
      algorithm: existing?.algorithm ?? tombstone.algorithm,
      wrappedKey: null,
      createdAt: existing?.createdAt ?? tombstone.createdAt,
      shreddedAt: tombstone.shreddedAt ?? new Date().toISOString(),
    });
  }

  async listSubjects(after: string | undefined, limit: number): Promise<StoredSubjectKey[]> {
    return [...this.subjects.keys()]
      .filter((ref) => after === undefined || ref > after)
      .sort()
      .slice(0, limit)
      .map((ref) => clone(this.subjects.get(ref)!));
  }

  async replaceWrappedKey(target: WrappedKeyTarget, expected: string, next: string): Promise<boolean> {
    if (target.kind === 'ring') {
      if (this.ringSecret?.wrappedKey !== expected) return false;
      this.ringSecret = { ...this.ringSecret, wrappedKey: next };
      return true;
    }
    if (target.kind === 'subject') {
      const record = this.subjects.get(target.subjectRef);
      if (record === undefined || record.shreddedAt || record.wrappedKey !== expected) return false;
      this.subjects.set(target.subjectRef, { ...record, wrappedKey: next });
      return true;
    }
    const key = this.keys.get(target.keyId);
    const index = key?.versions.findIndex((v) => v.version === target.version) ?? -1;
    if (key === undefined || index < 0 || key.versions[index]!.wrappedKey !== expected) return false;
    const versions = [...key.versions];
    versions[index] = { ...versions[index]!, wrappedKey: next };
    this.keys.set(target.keyId, { ...key, versions });
    return true;
  }
}
