import { BulwarkCryptoError, BulwarkError, ErrorCodes } from '../errors';
import { recordKeyEvent, type KeyRing } from './key-ring';
import { parseEnvelope } from './envelope';

export interface RewrapItem {
  /** Caller's identifier for the value (row id); reported back, never interpreted. */
  id: string;
  value: string;
  /** The associated data the value was encrypted with (kept for the new envelope). */
  aad?: string | Uint8Array;
}

export interface RewrapProgress {
  processed: number;
  rewrapped: number;
  skipped: number;
  failed: number;
  /** Id of the last item whose outcome is final: restart the source after it to resume. */
  lastId: string | undefined;
}

export interface RewrapReport {
  processed: number;
  rewrapped: number;
  /** Already at the primary version (or subject envelopes, which never rotate). */
  skipped: number;
  failed: Array<{ id: string; code: string }>;
}

export interface RewrapOptions {
  /** Persists the re-encrypted value; called once per rewrapped item, in source order. */
  write(id: string, value: string): Promise<void> | void;
  /** Items re-encrypted before their writes are flushed and progress is reported (default 100). */
  batchSize?: number;
  onProgress?(progress: RewrapProgress): void;
  /** Stops between batches (already written values stay written; rerun to resume). */
  signal?: AbortSignal;
}

/**
 * Re-encrypts a stream of stored values under each key's primary version, in batches.
 *
 * Safe at every moment: old versions keep decrypting until `retire`, and a value is replaced only
 * by a verified re-encryption of itself, so a reader sees either the old or the new envelope and
 * both decrypt. Resumable and idempotent: values already at primary are skipped without
 * decrypting, so an interrupted run simply runs again (or restarts after `progress.lastId`).
 * Values that fail (tampered, wrong aad, retired or unknown key, write error) are reported with
 * their code and left untouched; they do not stop the run.
 */
export async function rewrap(
  ring: KeyRing,
  source: AsyncIterable<RewrapItem> | Iterable<RewrapItem>,
  options: RewrapOptions,
): Promise<RewrapReport> {
  if (options === null || typeof options !== 'object' || typeof options.write !== 'function') {
    throw new BulwarkCryptoError(
      ErrorCodes.CRYPTO_INVALID_ARGUMENT,
      'rewrap: options.write(id, value) is required',
    );
  }
  const batchSize = options.batchSize ?? 100;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) {
    throw new BulwarkCryptoError(
      ErrorCodes.CRYPTO_INVALID_ARGUMENT,
      'rewrap: batchSize must be a positive integer',
    );
  }
  const report: RewrapReport = { processed: 0, rewrapped: 0, skipped: 0, failed: [] };
  let lastId: string | undefined;
  let batch: Array<{ id: string; value: string }> = [];
  // Per key: the primary version values moved to and how many (one `key.rotated` entry each).
  const moved = new Map<string, { version: number; rewrapped: number }>();
  let pending = 0;

  const flush = async () => {
    for (const { id, value } of batch) {
      try {
        await options.write(id, value);
        report.rewrapped++;
        const parsed = parseEnvelope(value);
        if (parsed.kind === 'key') {
          const seen = moved.get(parsed.keyId);
          if (seen === undefined) moved.set(parsed.keyId, { version: parsed.version, rewrapped: 1 });
          else seen.rewrapped++;
        }
      } catch (error) {
        report.failed.push({
          id,
          code: error instanceof BulwarkError ? error.code : ErrorCodes.CRYPTO_REWRAP_WRITE_FAILED,
        });
      }
    }
    batch = [];
    pending = 0;
    options.onProgress?.({
      processed: report.processed,
      rewrapped: report.rewrapped,
      skipped: report.skipped,
      failed: report.failed.length,
      lastId,
    });
  };

  for await (const item of source as AsyncIterable<RewrapItem>) {
    if (options.signal?.aborted) break;
    report.processed++;
    const id = String(item?.id);
    lastId = id;
    try {
      if (!ring.needsRewrap(item.value)) {
        report.skipped++;
      } else {
        batch.push({ id, value: ring.reencrypt(item.value, { aad: item.aad }) });
      }
    } catch (error) {
      report.failed.push({
        id,
        code: error instanceof BulwarkError ? error.code : ErrorCodes.CRYPTO_MALFORMED,
      });
    }
    if (++pending >= batchSize) await flush();
  }
  if (pending > 0 || report.processed === 0) await flush();
  for (const [keyId, m] of moved) {
    await recordKeyEvent(ring, { operation: 'rewrap', keyId, version: m.version, rewrapped: m.rewrapped });
  }
  return report;
}
