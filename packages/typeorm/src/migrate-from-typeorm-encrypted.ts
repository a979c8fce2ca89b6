import { createDecipheriv } from 'node:crypto';
import { BulwarkConfigError, ErrorCodes } from '@bulwark/core';
import type { DataSource } from 'typeorm';
import { BulwarkTypeOrmError, TypeOrmErrorCodes } from './bulwark-typeorm-error';
import {
  checkBatchSize,
  convertRows,
  plansFor,
  registeredContext,
  type EncryptExistingRowsReport,
  type EncryptProgress,
  type StoredValueReader,
} from './encrypt-existing-rows';
import type { EntityClass } from './field-registry';
import { plaintextValue } from './plaintext-value';

/**
 * The `encrypt` options the columns had under typeorm-encrypted (its EncryptionOptions), plus the
 * run's options. typeorm-encrypted stores `base64(iv || [authTag] || ciphertext)` with a hex key.
 */
export interface MigrateFromTypeormEncryptedOptions {
  /** The entity (now declaring the columns with @EncryptedField). */
  entity: EntityClass | string;
  /** Properties that were encrypted by typeorm-encrypted's EncryptionTransformer. */
  columns: string[];
  /** typeorm-encrypted's `key`: 64 hex characters (AES-256). */
  key: string;
  algorithm: 'aes-256-cbc' | 'aes-256-gcm';
  /** typeorm-encrypted's `ivLength` (16 for CBC; usually 12 or 16 for GCM). */
  ivLength: number;
  /** typeorm-encrypted's `authTagLength` for GCM (default 16, as there). */
  authTagLength?: number;
  batchSize?: number;
  onProgress?: (progress: EncryptProgress) => void;
  signal?: AbortSignal;
  /** Verify at the end (default true), as encryptExistingRows. */
  verify?: boolean;
  /** Decrypt and count only; nothing is written. */
  dryRun?: boolean;
  /** SQLite: as encryptExistingRows' transactionWaitMs (default 30000 ms). */
  transactionWaitMs?: number;
}

const ALGORITHMS = ['aes-256-cbc', 'aes-256-gcm'] as const;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function config(path: string, message: string): BulwarkConfigError {
  return new BulwarkConfigError(
    ErrorCodes.CONFIG_INVALID,
    `migrateFromTypeormEncrypted: ${path} ${message}`,
    {
      path,
    },
  );
}

/**
 * Turns typeorm-encrypted ciphertexts straight into Bulwark envelopes: each value is decrypted
 * with the old key and format, re-encrypted by the column's @EncryptedField (key ring key,
 * associated data, row binding, subject key), its @BlindIndex columns are built, and the row is
 * written with a compare-and-set UPDATE, in keyset pages; values that are already envelopes are
 * skipped (a re-run resumes), and the columns are verified at the end. The same engine and report
 * as encryptExistingRows.
 *
 * A value that does not decrypt (wrong key, algorithm or ivLength, or a corrupt value) stops the
 * run with ERR_TYPEORM_LEGACY_DECRYPT_FAILED naming entity, column and row id (the rows before it
 * are migrated; fix the options or the row and run again). AES-CBC is not authenticated: a wrong
 * key is usually caught by its padding or by the result not being UTF-8 text, not always; GCM
 * always catches it. Run with `dryRun: true` first: it decrypts every value and writes nothing.
 */
export async function migrateFromTypeormEncrypted(
  dataSource: DataSource,
  options: MigrateFromTypeormEncryptedOptions,
): Promise<EncryptExistingRowsReport> {
  const caller = 'migrateFromTypeormEncrypted';
  if (options === null || typeof options !== 'object') throw config('options', 'must be an object');
  if (!ALGORITHMS.includes(options.algorithm)) {
    throw config('algorithm', `must be one of ${ALGORITHMS.join(', ')}`);
  }
  if (typeof options.key !== 'string' || !/^[0-9a-fA-F]{64}$/.test(options.key)) {
    throw config('key', 'must be 64 hex characters (the 32-byte AES-256 key typeorm-encrypted was given)');
  }
  const gcm = options.algorithm === 'aes-256-gcm';
  const ivLength = options.ivLength;
  if (!Number.isSafeInteger(ivLength) || (gcm ? ivLength < 8 || ivLength > 64 : ivLength !== 16)) {
    throw config('ivLength', gcm ? 'must be an integer from 8 to 64' : 'must be 16 for aes-256-cbc');
  }
  const authTagLength = options.authTagLength ?? 16;
  if (gcm && (!Number.isSafeInteger(authTagLength) || authTagLength < 4 || authTagLength > 16)) {
    throw config('authTagLength', 'must be an integer from 4 to 16');
  }
  if (!Array.isArray(options.columns) || options.columns.length === 0) {
    throw config('columns', 'must name at least one property');
  }
  const ctx = registeredContext(dataSource, caller);
  const batchSize = options.batchSize ?? 100;
  checkBatchSize(batchSize, caller);
  const plans = plansFor(ctx, [options.entity], caller, options.columns);
  const key = Buffer.from(options.key, 'hex');
  const utf8 = new TextDecoder('utf-8', { fatal: true });

  const read: StoredValueReader = (field, raw, id) => {
    const fail = () =>
      new BulwarkTypeOrmError(
        TypeOrmErrorCodes.LEGACY_DECRYPT_FAILED,
        `${field.where.entity}.${field.where.column} row ${id}: the value does not decrypt as typeorm-encrypted ${options.algorithm} with the given key, ivLength and authTagLength (or it is corrupt); rows before it were migrated, nothing else was changed`,
        { ...field.where, id },
      );
    if (typeof raw !== 'string' || raw === '' || !BASE64.test(raw)) throw fail();
    const data = Buffer.from(raw, 'base64');
    const minimum = ivLength + (gcm ? authTagLength : 16);
    if (data.length < minimum) throw fail();
    let bytes: Buffer;
    try {
      const iv = data.subarray(0, ivLength);
      let body = data.subarray(ivLength);
      if (gcm) {
        const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength });
        decipher.setAuthTag(body.subarray(0, authTagLength));
        body = body.subarray(authTagLength);
        bytes = Buffer.concat([decipher.update(body), decipher.final()]);
      } else {
        const decipher = createDecipheriv('aes-256-cbc', key, iv);
        bytes = Buffer.concat([decipher.update(body), decipher.final()]);
      }
    } catch {
      throw fail();
    }
    let text: string;
    try {
      text = utf8.decode(bytes);
    } catch {
      throw fail();
    } finally {
      bytes.fill(0);
    }
    // JS wrote this text (the app's value as a string): a zone-less date-time in it is local time,
    // as `new Date(text)` read it under typeorm-encrypted.
    return plaintextValue(text, field.spec.type, field.where, 'local');
  };

  return convertRows(ctx, plans, read, {
    batchSize,
    transactionWaitMs: options.transactionWaitMs ?? 30_000,
    onProgress: options.onProgress,
    signal: options.signal,
    verify: options.verify !== false,
    dryRun: options.dryRun === true,
    failFast: true,
  });
}
