import type { KeyStore, StoredKey, StoredRingSecret, StoredSubjectKey } from './key-store';

function clone<T>(value: T): T {
  return structuredClone(value);
}

/**
 * In-process key store for tests and ephemeral setups. Everything is lost with the process, which
 * makes every ciphertext unreadable afterwards: use FileKeyStore or a database store for real data.
 */
export class MemoryKeyStore implements KeyStore {
  readonly name = 'memory';
  private readonly keys = new Map<string, StoredKey>();
  private readonly subjects = new Map<string, StoredSubjectKey>();
  private ringSecret: StoredRingSecret | undefined;

  async loadKeys(): Promise<StoredKey[]> {
    return [...this.keys.values()].map(clone);
  }

  async saveKey(key: StoredKey): Promise<void> {
    this.keys.set(key.keyId, clone(key));
  }

  async getRingSecret(): Promise<StoredRingSecret | undefined> {
    return this.ringSecret === undefined ? undefined : clone(this.ringSecret);
  }

  async saveRingSecret(secret: StoredRingSecret): Promise<void> {
    this.ringSecret = clone(secret);
  }

  async getSubject(subjectRef: string): Promise<StoredSubjectKey | undefined> {
    const record = this.subjects.get(subjectRef);
    return record === undefined ? undefined : clone(record);
  }

  async saveSubject(subject: StoredSubjectKey): Promise<void> {
    this.subjects.set(subject.subjectRef, clone(subject));
  }
}
