import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../util/write-file-atomic';
import { BulwarkCryptoError, ErrorCodes } from '../errors';
import { isAeadAlgorithm } from './aead';
import { isValidKeyId } from './envelope';
import type { KeyStore, StoredKey, StoredKeyVersion, StoredRingSecret, StoredSubjectKey } from './key-store';

const FORMAT = 'bulwark-keystore';
const FORMAT_VERSION = 1;

interface StoreDocument {
  format: typeof FORMAT;
  version: typeof FORMAT_VERSION;
  ringSecret: StoredRingSecret | null;
  keys: Record<string, StoredKey>;
  subjects: Record<string, StoredSubjectKey>;
}

function emptyDocument(): StoreDocument {
  return { format: FORMAT, version: FORMAT_VERSION, ringSecret: null, keys: {}, subjects: {} };
}

class CorruptStore extends Error {}

function check(condition: boolean, what: string): asserts condition {
  if (!condition) throw new CorruptStore(what);
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const isString = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= 16384;
const isVersion = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 1;
const isDate = (v: unknown): v is string => isString(v) && !Number.isNaN(Date.parse(v));

/** Strict schema check: a store that does not match exactly is treated as corrupt (fail closed). */
function validateDocument(raw: unknown): StoreDocument {
  check(isObject(raw), 'not an object');
  check(raw.format === FORMAT && raw.version === FORMAT_VERSION, 'unknown format');
  check(raw.ringSecret === null || isObject(raw.ringSecret), 'ringSecret');
  if (raw.ringSecret !== null) {
    const s = raw.ringSecret as Record<string, unknown>;
    check(isString(s.wrappedKey) && isDate(s.createdAt), 'ringSecret');
  }
  check(isObject(raw.keys) && isObject(raw.subjects), 'sections');
  for (const [id, value] of Object.entries(raw.keys as Record<string, unknown>)) {
    check(isObject(value) && value.keyId === id && isValidKeyId(id), `key ${id}`);
    const k = value;
    check(isVersion(k.primaryVersion) && isVersion(k.minDecryptVersion), `key ${id} versions`);
    check((k.minDecryptVersion as number) <= (k.primaryVersion as number), `key ${id} minDecryptVersion`);
    check(isDate(k.createdAt) && isDate(k.rotatedAt), `key ${id} dates`);
    check(Array.isArray(k.versions) && k.versions.length > 0, `key ${id} versions`);
    const seen = new Set<number>();
    for (const v of k.versions as unknown[]) {
      check(isObject(v), `key ${id} version`);
      check(isVersion(v.version) && !seen.has(v.version as number), `key ${id} version number`);
      seen.add(v.version as number);
      check(
        isAeadAlgorithm(v.algorithm) && isString(v.wrappedKey) && isDate(v.createdAt),
        `key ${id} version`,
      );
    }
    check(seen.has(k.primaryVersion as number), `key ${id} primary`);
  }
  for (const [ref, value] of Object.entries(raw.subjects as Record<string, unknown>)) {
    check(isObject(value) && value.subjectRef === ref && /^[A-Za-z0-9_-]{22}$/.test(ref), 'subject');
    check(isAeadAlgorithm(value.algorithm) && isDate(value.createdAt), 'subject');
    const shredded = value.shreddedAt !== null;
    check(
      shredded ? isDate(value.shreddedAt) && value.wrappedKey === null : isString(value.wrappedKey),
      'subject',
    );
  }
  return raw as unknown as StoreDocument;
}

/**
 * Key store in one JSON file (mode 0600). Every save re-reads the file, applies the change and
 * replaces the file atomically (temp file + fsync + rename + fsync of the directory), so a crash
 * leaves either the old or the new file, never a torn one. Saves within a process are serialised;
 * across processes the last writer wins on the same record, so run key administration (rotate,
 * retire) from one place at a time. A corrupt or unreadable file fails with ERR_CRYPTO_KEY_STORE.
 *
 * Crypto-shredding note: a tombstone save rewrites the file without the subject's wrapped key,
 * but copies of the OLD file (backups, snapshots) still hold it. Keep key-store backups on a short
 * retention (or none) so shredding reaches them.
 */
export class FileKeyStore implements KeyStore {
  readonly name: string;
  private readonly path: string;
  private cache: StoreDocument | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(options: { path: string }) {
    if (
      options === null ||
      typeof options !== 'object' ||
      typeof options.path !== 'string' ||
      options.path === ''
    ) {
      throw new BulwarkCryptoError(
        ErrorCodes.CRYPTO_INVALID_ARGUMENT,
        'FileKeyStore: options.path is required',
      );
    }
    this.path = options.path;
    this.name = `file:${this.path}`;
  }

  private storeError(message: string, cause?: unknown): BulwarkCryptoError {
    return new BulwarkCryptoError(
      ErrorCodes.CRYPTO_KEY_STORE,
      `Key store ${this.path}: ${message}`,
      { path: this.path },
      cause === undefined ? undefined : { cause },
    );
  }

  private async read(): Promise<StoreDocument> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code === 'ENOENT') {
        this.cache = emptyDocument();
        return this.cache;
      }
      throw this.storeError(`cannot read (${(cause as NodeJS.ErrnoException).code ?? 'error'})`, cause);
    }
    try {
      this.cache = validateDocument(JSON.parse(text));
      return this.cache;
    } catch (cause) {
      throw this.storeError(
        `corrupt file (${cause instanceof CorruptStore ? cause.message : 'invalid JSON'}); restore it from a backup`,
        cause,
      );
    }
  }

  private async document(): Promise<StoreDocument> {
    return this.cache ?? this.read();
  }

  /** Serialises read-modify-write cycles within this process. */
  private mutate(change: (doc: StoreDocument) => void): Promise<void> {
    const run = this.queue.then(async () => {
      const doc = await this.read();
      change(doc);
      await this.write(doc);
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async write(doc: StoreDocument): Promise<void> {
    try {
      await writeFileAtomic(this.path, `${JSON.stringify(doc, null, 2)}\n`, 0o600);
    } catch (cause) {
      throw this.storeError(`cannot write (${(cause as NodeJS.ErrnoException).code ?? 'error'})`, cause);
    }
    this.cache = doc;
  }

  async loadKeys(): Promise<StoredKey[]> {
    // Always from disk: KeyRing.refresh() relies on this to see rotations made by another process.
    const doc = await this.read();
    return Object.values(doc.keys).map((k) => structuredClone(k));
  }

  async saveKey(key: StoredKey): Promise<void> {
    const copy = structuredClone(key) as StoredKey & { versions: StoredKeyVersion[] };
    await this.mutate((doc) => {
      // defineProperty: a key id such as `__proto__` must become a plain own property.
      Object.defineProperty(doc.keys, copy.keyId, {
        value: copy,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    });
  }

  async getRingSecret(): Promise<StoredRingSecret | undefined> {
    const doc = await this.document();
    return doc.ringSecret === null ? undefined : { ...doc.ringSecret };
  }

  async saveRingSecret(secret: StoredRingSecret): Promise<void> {
    await this.mutate((doc) => {
      doc.ringSecret = { ...secret };
    });
  }

  async getSubject(subjectRef: string): Promise<StoredSubjectKey | undefined> {
    // From disk, so a shred done by another process is seen on the next cache miss.
    const doc = await this.read();
    const record = Object.prototype.hasOwnProperty.call(doc.subjects, subjectRef)
      ? doc.subjects[subjectRef]
      : undefined;
    return record === undefined ? undefined : { ...record };
  }

  async saveSubject(subject: StoredSubjectKey): Promise<void> {
    await this.mutate((doc) => {
      doc.subjects[subject.subjectRef] = { ...subject };
    });
  }

  async close(): Promise<void> {
    await this.queue;
    this.cache = undefined;
  }
}
