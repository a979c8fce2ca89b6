import { mkdir, open, readFile, rm, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { basename, dirname } from 'node:path';
import { writeFileAtomic } from '../util/write-file-atomic';
import { BulwarkCryptoError, ErrorCodes } from '../errors';
import { isAeadAlgorithm } from './aead';
import { isValidKeyId } from './envelope';
import type {
  KeyStore,
  StoredKey,
  StoredKeyVersion,
  StoredRingSecret,
  StoredSubjectKey,
  WrappedKeyTarget,
} from './key-store';

/** How long a writer waits for another writer's lock before failing (ERR_CRYPTO_KEY_STORE). */
const DEFAULT_LOCK_TIMEOUT_MS = 10_000;
/** A lock file with no readable pid (its writer died between create and write) is stale after this. */
const UNREADABLE_LOCK_STALE_MS = 30_000;

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
 * Key store in one JSON file (mode 0600), safe to share between processes on one host.
 *
 * Every write takes an exclusive lock file `<path>.lock` (created with O_EXCL, holding the writer's
 * pid), RE-READS the file under the lock, applies an insert-if-absent or monotonic change (see
 * KeyStore) and replaces the file atomically (temp file + fsync + rename + fsync of the
 * directory), so a crash leaves either the old or the new file and no writer ever works from a
 * stale copy. A lock whose pid is no longer running is taken over (the same approach as
 * FileAuditStore); a live one is waited for up to `lockTimeoutMs`. Readers need no lock: the
 * rename makes each version of the file appear whole. Not for network file systems, where
 * O_EXCL and pids do not work across hosts: use a database store there.
 * A corrupt or unreadable file fails with ERR_CRYPTO_KEY_STORE.
 *
 * Crypto-shredding note: a tombstone save rewrites the file without the subject's wrapped key,
 * but copies of the OLD file (backups, snapshots) still hold it. Keep key-store backups on a short
 * retention (or none) so shredding reaches them.
 */
export class FileKeyStore implements KeyStore {
  readonly name: string;
  private readonly path: string;
  private readonly lockPath: string;
  private readonly lockTimeoutMs: number;
  private cache: StoreDocument | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(options: { path: string; lockTimeoutMs?: number }) {
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
    const timeout = options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
    if (!Number.isSafeInteger(timeout) || timeout < 0) {
      throw new BulwarkCryptoError(
        ErrorCodes.CRYPTO_INVALID_ARGUMENT,
        'FileKeyStore: options.lockTimeoutMs must be a non-negative integer',
      );
    }
    this.path = options.path;
    this.lockPath = `${this.path}.lock`;
    this.lockTimeoutMs = timeout;
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

  /**
   * One read-modify-write cycle: serialised within this instance by the queue and across
   * instances and processes by the lock file; the document is re-read under the lock, so the
   * change always sees every earlier writer's result. `change` returns its result and whether the
   * document needs writing.
   */
  private mutate<T>(change: (doc: StoreDocument) => { result: T; write: boolean }): Promise<T> {
    const run = this.queue.then(async () => {
      await this.acquireLock();
      try {
        const doc = await this.read();
        const { result, write } = change(doc);
        if (write) await this.write(doc);
        return result;
      } finally {
        await rm(this.lockPath, { force: true }).catch(() => undefined);
      }
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async acquireLock(): Promise<void> {
    const deadline = Date.now() + this.lockTimeoutMs;
    let holder: number | undefined;
    try {
      await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
    } catch (err) {
      throw this.storeError(
        `cannot create the directory (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
        err,
      );
    }
    for (;;) {
      try {
        const handle = await open(this.lockPath, 'wx', 0o600);
        try {
          await handle.writeFile(String(process.pid));
        } finally {
          await handle.close();
        }
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
          throw this.storeError(
            `cannot create the lock file (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
            err,
          );
        }
      }
      const seen = await readFile(this.lockPath, 'utf8').catch(() => undefined);
      if (seen === undefined) continue; // released between our open and read: try again at once
      const pid = Number(seen.trim());
      holder = Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
      if (await this.isStale(holder)) await this.takeOver(seen);
      else if (Date.now() >= deadline) {
        throw new BulwarkCryptoError(
          ErrorCodes.CRYPTO_KEY_STORE,
          `Key store ${this.path}: still locked by another writer after ${this.lockTimeoutMs} ms (${basename(this.lockPath)}); if no process holds it, delete the lock file`,
          { path: this.path, pid: holder },
        );
      } else await sleep(5 + Math.floor(Math.random() * 20));
    }
  }

  /** A lock is stale when its pid is not running (kill 0: ESRCH), or unreadable and old. */
  private async isStale(pid: number | undefined): Promise<boolean> {
    if (pid === undefined) {
      const info = await stat(this.lockPath).catch(() => undefined);
      return info !== undefined && Date.now() - info.mtimeMs > UNREADABLE_LOCK_STALE_MS;
    }
    // Our own pid: another FileKeyStore instance of this process holds it, so it is live.
    if (pid === process.pid) return false;
    try {
      process.kill(pid, 0);
      return false;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'ESRCH';
    }
  }

  /**
   * Removes a stale lock, but only if it is still the one judged stale: several waiters may judge
   * it at once, and a late one must not remove the fresh lock an earlier one has since taken. The
   * check-and-remove runs under a second O_EXCL file so only one waiter does it at a time.
   */
  private async takeOver(staleContent: string): Promise<void> {
    const guard = `${this.lockPath}.takeover`;
    try {
      await (await open(guard, 'wx', 0o600)).close();
    } catch {
      // Another waiter is taking over (or died doing so: clear a guard older than the stale age).
      const info = await stat(guard).catch(() => undefined);
      if (info !== undefined && Date.now() - info.mtimeMs > UNREADABLE_LOCK_STALE_MS) {
        await rm(guard, { force: true }).catch(() => undefined);
      }
      await sleep(5);
      return;
    }
    try {
      const now = await readFile(this.lockPath, 'utf8').catch(() => undefined);
      if (now === staleContent) await rm(this.lockPath, { force: true });
    } finally {
      await rm(guard, { force: true }).catch(() => undefined);
    }
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

  async insertKeyVersion(keyId: string, version: StoredKeyVersion): Promise<boolean> {
    const stored = structuredClone(version);
    return this.mutate((doc) => {
      const key = own(doc.keys, keyId);
      if (key !== undefined && key.versions.some((v) => v.version === stored.version)) {
        return { result: false, write: false };
      }
      const next: StoredKey =
        key === undefined
          ? {
              keyId,
              primaryVersion: stored.version,
              minDecryptVersion: stored.version,
              createdAt: stored.createdAt,
              rotatedAt: stored.createdAt,
              versions: [stored],
            }
          : {
              ...key,
              primaryVersion: Math.max(key.primaryVersion, stored.version),
              rotatedAt: stored.version > key.primaryVersion ? stored.createdAt : key.rotatedAt,
              versions: [...key.versions, stored],
            };
      setOwn(doc.keys, keyId, next);
      return { result: true, write: true };
    });
  }

  async raiseMinDecryptVersion(keyId: string, minDecryptVersion: number): Promise<void> {
    await this.mutate((doc) => {
      const key = own(doc.keys, keyId);
      if (
        key === undefined ||
        minDecryptVersion <= key.minDecryptVersion ||
        minDecryptVersion > key.primaryVersion
      ) {
        return { result: undefined, write: false };
      }
      setOwn(doc.keys, keyId, { ...key, minDecryptVersion });
      return { result: undefined, write: true };
    });
  }

  async getRingSecret(): Promise<StoredRingSecret | undefined> {
    const doc = this.cache?.ringSecret ? this.cache : await this.read();
    return doc.ringSecret === null ? undefined : { ...doc.ringSecret };
  }

  async insertRingSecret(secret: StoredRingSecret): Promise<StoredRingSecret> {
    return this.mutate((doc) => {
      if (doc.ringSecret !== null) return { result: { ...doc.ringSecret }, write: false };
      doc.ringSecret = { ...secret };
      return { result: { ...secret }, write: true };
    });
  }

  async getSubject(subjectRef: string): Promise<StoredSubjectKey | undefined> {
    // From disk, so a shred done by another process is seen on the next cache miss.
    const doc = await this.read();
    const record = own(doc.subjects, subjectRef);
    return record === undefined ? undefined : { ...record };
  }

  async insertSubject(subject: StoredSubjectKey): Promise<StoredSubjectKey> {
    return this.mutate((doc) => {
      const existing = own(doc.subjects, subject.subjectRef);
      if (existing !== undefined) return { result: { ...existing }, write: false };
      setOwn(doc.subjects, subject.subjectRef, { ...subject });
      return { result: { ...subject }, write: true };
    });
  }

  async shredSubject(tombstone: StoredSubjectKey): Promise<void> {
    await this.mutate((doc) => {
      const existing = own(doc.subjects, tombstone.subjectRef);
      if (existing?.shreddedAt) return { result: undefined, write: false };
      setOwn(doc.subjects, tombstone.subjectRef, {
        subjectRef: tombstone.subjectRef,
        algorithm: existing?.algorithm ?? tombstone.algorithm,
        wrappedKey: null,
        createdAt: existing?.createdAt ?? tombstone.createdAt,
        shreddedAt: tombstone.shreddedAt ?? new Date().toISOString(),
      });
      return { result: undefined, write: true };
    });
  }

  async listSubjects(after: string | undefined, limit: number): Promise<StoredSubjectKey[]> {
    const doc = await this.read();
    return Object.keys(doc.subjects)
      .filter((ref) => after === undefined || ref > after)
      .sort()
      .slice(0, limit)
      .map((ref) => ({ ...own(doc.subjects, ref)! }));
  }

  /** Compare-and-swap under the lock (one atomic file replace per record). */
  async replaceWrappedKey(target: WrappedKeyTarget, expected: string, next: string): Promise<boolean> {
    return this.mutate((doc) => {
      const no = { result: false, write: false };
      if (target.kind === 'ring') {
        if (doc.ringSecret?.wrappedKey !== expected) return no;
        doc.ringSecret = { ...doc.ringSecret, wrappedKey: next };
        return { result: true, write: true };
      }
      if (target.kind === 'subject') {
        const record = own(doc.subjects, target.subjectRef);
        if (record === undefined || record.shreddedAt || record.wrappedKey !== expected) return no;
        setOwn(doc.subjects, target.subjectRef, { ...record, wrappedKey: next });
        return { result: true, write: true };
      }
      const key = own(doc.keys, target.keyId);
      const index = key?.versions.findIndex((v) => v.version === target.version) ?? -1;
      if (key === undefined || index < 0 || key.versions[index]!.wrappedKey !== expected) return no;
      const versions = [...key.versions];
      versions[index] = { ...versions[index]!, wrappedKey: next };
      setOwn(doc.keys, target.keyId, { ...key, versions });
      return { result: true, write: true };
    });
  }

  async close(): Promise<void> {
    await this.queue;
    this.cache = undefined;
  }
}

function own<T>(record: Record<string, T>, key: string): T | undefined {
  return Object.prototype.hasOwnProperty.call(record, key) ? record[key] : undefined;
}

/** defineProperty: a key id such as `__proto__` must become a plain own property. */
function setOwn<T>(record: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(record, key, { value, enumerable: true, writable: true, configurable: true });
}
