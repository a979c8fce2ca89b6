import { randomBytes, timingSafeEqual } from 'node:crypto';
import { BulwarkError, ErrorCodes } from '../errors';
import { KEY_LENGTH } from './aead';
import { cryptoError } from './cipher-entry';
import { parseWrapping, type KeyLoader } from './key-loader';
import type { KeyWrapContext } from './key-provider';
import type { WrappedKeyTarget } from './key-store';

export interface MasterRotationOptions {
  /** Subject records read per page (default 500). */
  pageSize?: number;
  /** Called after each page of subjects and after the named keys. */
  onProgress?: (progress: MasterRotationProgress) => void;
  /** Stops between records; the run can be resumed by calling rotateMaster again. */
  signal?: AbortSignal;
}

export interface MasterRotationProgress {
  rewrapped: number;
  alreadyCurrent: number;
  failed: number;
}

export interface MasterRotationReport {
  /** Id of the master key everything is now wrapped by (the ring's provider). */
  masterKeyId: string;
  /** Id of the previous provider's master key, if the ring has one that names its key. */
  previousMasterKeyId: string | undefined;
  /** Wrapped keys re-wrapped by this run (ring secret, named key versions, subject keys). */
  rewrapped: number;
  /** Wrapped keys already under the new master key (a resumed run checks that they unwrap, then skips them). */
  alreadyCurrent: number;
  /** Shredded subjects: nothing to re-wrap. */
  tombstones: number;
  /** Records changed by another process between read and write; a re-run handles them. */
  conflicts: number;
  /** Records that could not be re-wrapped (e.g. wrapped by an unknown master key); left as they were. */
  failed: Array<{ record: string; code: string }>;
  /** True when every wrapped key is under the new master key: the previous one can be retired. */
  complete: boolean;
  /** False when the signal stopped the run early. */
  finished: boolean;
}

/**
 * Re-wraps every stored wrapped key (the ring secret, every version of every named key, retired
 * ones included, and every live subject key) under the loader's current provider.
 *
 * Crash-safe and resumable: each record is replaced on its own by a compare-and-swap
 * (KeyStore.replaceWrappedKey) with a wrapping that records the new master key's id and that was
 * unwrapped again and compared with the data key before the write. At every moment each record
 * is wrapped by the old or the new master key and says which, so a ring opened with both
 * (`previousProvider`) reads all of them, and a re-run skips the records already done. Data keys
 * never change, so no stored value needs re-encrypting.
 *
 * A store failure stops the run (the error is thrown; re-run to finish). A record that cannot be
 * unwrapped is reported in `failed` and left as it is.
 * @internal (KeyRing.rotateMaster is the public entry)
 */
export async function rotateMasterKeys(
  loader: KeyLoader,
  options: MasterRotationOptions = {},
): Promise<MasterRotationReport> {
  const store = loader.store;
  if (typeof store.listSubjects !== 'function' || typeof store.replaceWrappedKey !== 'function') {
    throw cryptoError(
      ErrorCodes.CRYPTO_INVALID_ARGUMENT,
      `Key store ${store.name} cannot rotate the master key (it needs listSubjects and replaceWrappedKey)`,
    );
  }
  const pageSize = options.pageSize ?? 500;
  if (!Number.isSafeInteger(pageSize) || pageSize < 1) {
    throw cryptoError(
      ErrorCodes.CRYPTO_INVALID_ARGUMENT,
      'rotateMaster: pageSize must be a positive integer',
    );
  }
  const { current, previous } = await loader.masterKeyIds();
  if (current === undefined) {
    throw cryptoError(
      ErrorCodes.CRYPTO_INVALID_ARGUMENT,
      `Key provider ${loader.provider.name} does not name its master key (masterKeyId), so a rotation could not tell re-wrapped keys from the others`,
    );
  }
  await selfTest(loader);

  const report: MasterRotationReport = {
    masterKeyId: current,
    previousMasterKeyId: previous,
    rewrapped: 0,
    alreadyCurrent: 0,
    tombstones: 0,
    conflicts: 0,
    failed: [],
    complete: false,
    finished: false,
  };
  const progress = () =>
    options.onProgress?.({
      rewrapped: report.rewrapped,
      alreadyCurrent: report.alreadyCurrent,
      failed: report.failed.length,
    });

  const one = async (
    record: string,
    target: WrappedKeyTarget,
    wrapped: string,
    context: KeyWrapContext,
  ): Promise<void> => {
    if (parseWrapping(wrapped).masterKeyId === current) {
      // Labelled as done: checked, not trusted (the label is not authenticated), so `complete`
      // means every key unwraps with the new master key alone.
      try {
        (await loader.unwrapCurrent(wrapped, context)).fill(0);
        report.alreadyCurrent++;
      } catch (error) {
        report.failed.push({
          record,
          code: error instanceof BulwarkError ? error.code : ErrorCodes.CRYPTO_KEY_PROVIDER,
        });
      }
      return;
    }
    let next: string;
    try {
      next = await rewrapOne(loader, wrapped, context);
    } catch (error) {
      report.failed.push({
        record,
        code: error instanceof BulwarkError ? error.code : ErrorCodes.CRYPTO_KEY_PROVIDER,
      });
      return;
    }
    const replaced = await loader.storeCall(() => store.replaceWrappedKey!(target, wrapped, next));
    if (replaced) report.rewrapped++;
    else report.conflicts++;
  };

  const secret = await loader.storeCall(() => store.getRingSecret());
  if (secret !== undefined) {
    await one('ring', { kind: 'ring' }, secret.wrappedKey, { keyId: '$ring', version: 1 });
  }
  for (const key of await loader.storeCall(() => store.loadKeys())) {
    for (const v of key.versions) {
      if (options.signal?.aborted) return report;
      await one(
        `key:${key.keyId}/${v.version}`,
        { kind: 'version', keyId: key.keyId, version: v.version },
        v.wrappedKey,
        { keyId: key.keyId, version: v.version },
      );
    }
  }
  progress();
  let after: string | undefined;
  for (;;) {
    const page = await loader.storeCall(() => store.listSubjects!(after, pageSize));
    for (const subject of page) {
      if (options.signal?.aborted) return report;
      if (subject.wrappedKey === null || subject.shreddedAt) {
        report.tombstones++;
        continue;
      }
      await one(
        `subject:${subject.subjectRef}`,
        { kind: 'subject', subjectRef: subject.subjectRef },
        subject.wrappedKey,
        { keyId: `$subject:${subject.subjectRef}`, version: 1 },
      );
    }
    progress();
    if (page.length < pageSize) break;
    after = page[page.length - 1]!.subjectRef;
  }
  report.finished = true;
  report.complete = report.failed.length === 0 && report.conflicts === 0;
  return report;
}

/** Unwraps (old or new master), wraps under the new one, reads that back and compares. */
async function rewrapOne(loader: KeyLoader, wrapped: string, context: KeyWrapContext): Promise<string> {
  const raw = await loader.unwrap(wrapped, context);
  let check: Buffer | undefined;
  try {
    const next = await loader.wrap(raw, context);
    check = await loader.unwrapCurrent(next, context);
    if (check.length !== raw.length || !timingSafeEqual(check, raw)) {
      throw cryptoError(
        ErrorCodes.CRYPTO_KEY_PROVIDER,
        `Key provider ${loader.provider.name} does not give back the key it wrapped`,
      );
    }
    return next;
  } finally {
    raw.fill(0);
    check?.fill(0);
  }
}

/**
 * Before anything is written: the new provider must wrap and unwrap a random key faithfully, and
 * must refuse a key wrapped for another context (it binds the context, as KeyProvider requires).
 */
async function selfTest(loader: KeyLoader): Promise<void> {
  const probe = randomBytes(KEY_LENGTH);
  const context = { keyId: '$rotation-check', version: 1 };
  let back: Buffer | undefined;
  try {
    const wrapped = await loader.wrap(probe, context);
    back = await loader.unwrapCurrent(wrapped, context);
    if (!timingSafeEqual(back, probe)) {
      throw cryptoError(
        ErrorCodes.CRYPTO_KEY_PROVIDER,
        `Key provider ${loader.provider.name} does not give back the key it wrapped`,
      );
    }
    const moved = await loader
      .unwrapCurrent(wrapped, { keyId: '$rotation-check', version: 2 })
      .then((k) => (k.fill(0), true))
      .catch(() => false);
    if (moved) {
      throw cryptoError(
        ErrorCodes.CRYPTO_KEY_PROVIDER,
        `Key provider ${loader.provider.name} does not bind the key id and version to a wrapped key`,
      );
    }
  } finally {
    probe.fill(0);
    back?.fill(0);
  }
}
