import { BulwarkConfigError, ErrorCodes, KeyRing } from '@bulwark/core';
import type { DataSource } from 'typeorm';
import {
  registerClassifications,
  defaultClassificationSink,
  type ClassificationSink,
} from './classification';
import { EncryptionContext, peekActiveContext, setActiveContext } from './encryption-context';
import { BulwarkEncryptionSubscriber, BulwarkLoadListener, emitWarning } from './encryption-subscriber';
import { fieldRegistry, type EntityClass } from './field-registry';
import { installQueryGuards } from './query-guards';

export interface BulwarkEncryptionOptions {
  keyRing: KeyRing;
  /** Key of fields without their own `keyId` (default `default`). */
  defaultKeyId?: string;
  /** Create missing keys named by the entities (default true); false: a missing key is an error. */
  createKeys?: boolean;
  /** Where classification decorators are recorded (default core's defaultClassificationRegistry). */
  classificationRegistry?: ClassificationSink;
  /**
   * A value that is not a Bulwark envelope read from an encrypted column (a row written before the
   * column was encrypted). `refuse` (default): ERR_TYPEORM_PLAINTEXT_IN_ENCRYPTED_COLUMN.
   * `accept`: the transitional mode while `encryptExistingRows` (or `bulwark typeorm encrypt`)
   * encrypts a populated database with the app running: the plaintext is returned as read, every
   * such read is counted (`plaintextReads()`), and a classified field read in clear is reported by
   * the compliance evidence as not encrypted until the count is back to zero (a new process or
   * `resetPlaintextReads()` after the migration verified). Writes always encrypt; an update
   * rewrites every encrypted field of the row (so a saved row never keeps a plaintext value).
   */
  plaintextReads?: 'refuse' | 'accept';
  /**
   * Columns that still hold typeorm-encrypted ciphertexts, until migrateFromTypeormEncrypted
   * converts them (the CLI config's `typeormEncrypted` entries can be passed as they are; only
   * `entity` and `columns` are read). A value there that is not an envelope is never served, in
   * either read mode, and never encrypted as plaintext by encryptExistingRows:
   * ERR_TYPEORM_LEGACY_CIPHERTEXT names the migration to run.
   */
  typeormEncrypted?:
    | { entity: EntityClass | string; columns: string[] }
    | Array<{ entity: EntityClass | string; columns: string[] }>;
  /**
   * Where warnings go (default process.emitWarning): the start-up one of `plaintextReads: 'accept'`,
   * and once per entity class a lazy field that its constructor defines as a class field.
   */
  onWarning?: (message: string, code: string) => void;
}

/** Plaintext values served in `plaintextReads: 'accept'` mode, per entity and column. */
export interface PlaintextReadCounts {
  total: number;
  columns: Array<{ entity: string; column: string; count: number }>;
}

export interface BulwarkEncryption {
  readonly subscriber: BulwarkEncryptionSubscriber;
  /** The read mode in force (`plaintextReads` option). */
  readonly plaintextReadMode: 'refuse' | 'accept';
  /**
   * Evidence of the transitional mode: how many plaintext values were served since registration
   * (or the last reset), per entity and column; column names only, never values.
   */
  plaintextReads(): PlaintextReadCounts;
  /** Starts the count again (after encryptExistingRows verified that no plaintext is left). */
  resetPlaintextReads(): void;
  /** Removes the subscriber and deactivates the key ring for the column transformers. */
  unregister(): void;
}

/**
 * The one set-up call: after `await dataSource.initialize()`,
 *
 *   await registerBulwarkEncryption(dataSource, { keyRing });
 *
 * It resolves every @EncryptedField / @BlindIndex against the DataSource's metadata (bad
 * declarations fail here, not on the first query), makes sure their keys exist, adds the
 * encryption subscriber to the DataSource, installs the query guards and feeds classifications
 * to the registry. One key ring per process: the column transformers are shared by every
 * DataSource that maps the same entity classes; registering a second ring while another
 * DataSource still uses a different one is refused.
 */
export async function registerBulwarkEncryption(
  dataSource: DataSource,
  options: BulwarkEncryptionOptions,
): Promise<BulwarkEncryption> {
  if (options === null || typeof options !== 'object' || !(options.keyRing instanceof KeyRing)) {
    throw new BulwarkConfigError(
      ErrorCodes.CONFIG_INVALID,
      'registerBulwarkEncryption: keyRing must be a KeyRing',
      {
        path: 'keyRing',
      },
    );
  }
  if (!dataSource?.isInitialized) {
    throw new BulwarkConfigError(
      ErrorCodes.CONFIG_INVALID,
      'registerBulwarkEncryption: initialize the DataSource first (its entity metadata is needed)',
      { path: 'dataSource' },
    );
  }
  const defaultKeyId = options.defaultKeyId ?? 'default';
  const readMode = options.plaintextReads ?? 'refuse';
  if (readMode !== 'refuse' && readMode !== 'accept') {
    throw new BulwarkConfigError(
      ErrorCodes.CONFIG_INVALID,
      "registerBulwarkEncryption: plaintextReads must be 'refuse' or 'accept'",
      { path: 'plaintextReads' },
    );
  }
  const legacy = options.typeormEncrypted === undefined ? [] : [options.typeormEncrypted].flat();
  const legacyColumns = new Set<string>();
  for (const entry of legacy) {
    if (
      entry === null ||
      typeof entry !== 'object' ||
      !Array.isArray(entry.columns) ||
      !dataSource.hasMetadata(entry.entity)
    ) {
      throw new BulwarkConfigError(
        ErrorCodes.CONFIG_INVALID,
        'registerBulwarkEncryption: typeormEncrypted entries are { entity, columns } naming an entity of this DataSource',
        { path: 'typeormEncrypted' },
      );
    }
    const metadata = dataSource.getMetadata(entry.entity);
    const encrypted = fieldRegistry.encrypted(metadata.target).map((f) => f.property);
    for (const column of entry.columns) {
      if (!encrypted.includes(column)) {
        throw new BulwarkConfigError(
          ErrorCodes.CONFIG_INVALID,
          `registerBulwarkEncryption: typeormEncrypted names ${metadata.name}.${String(column)}, which is not an @EncryptedField`,
          { path: 'typeormEncrypted' },
        );
      }
      legacyColumns.add(`${metadata.name}\u0000${column}`);
    }
  }
  const previous = peekActiveContext();
  if (
    previous !== undefined &&
    previous.keyRing !== options.keyRing &&
    previous.dataSource !== dataSource &&
    previous.dataSource.isInitialized
  ) {
    throw new BulwarkConfigError(
      ErrorCodes.CONFIG_INVALID,
      'registerBulwarkEncryption: another DataSource is still registered with a different key ring (one ring per process)',
      { path: 'keyRing' },
    );
  }
  const ctx = new EncryptionContext(options.keyRing, defaultKeyId, dataSource);
  const sink = options.classificationRegistry ?? defaultClassificationSink();
  const counts = new Map<string, { entity: string; column: string; count: number }>();
  ctx.plaintextReads = readMode;
  ctx.legacyColumns = legacyColumns;
  ctx.onPlaintextRead = (where) => {
    const key = `${where.entity}\u0000${where.column}`;
    let entry = counts.get(key);
    if (entry === undefined) counts.set(key, (entry = { ...where, count: 0 }));
    entry.count += 1;
    // A classified field now says it was read in clear: the encryption-at-rest check fails on it.
    reportPlaintext(dataSource, sink, where.entity, where.column, entry.count);
  };
  const keyIds = new Set<string>();
  for (const metadata of dataSource.entityMetadatas) {
    for (const spec of fieldRegistry.encrypted(metadata.target)) {
      const field = ctx.field(spec);
      keyIds.add(field.keyId);
      if (spec.subject !== undefined && !metadata.findColumnWithPropertyPath(spec.subject)) {
        throw new BulwarkConfigError(
          ErrorCodes.CONFIG_INVALID,
          `${metadata.name}.${spec.property}: subject ${spec.subject} is not a column of ${metadata.name}`,
          { path: `${metadata.name}.${spec.property}.subject` },
        );
      }
    }
    for (const spec of fieldRegistry.blindIndexes(metadata.target)) {
      keyIds.add(ctx.blindIndex(spec).keyId);
      if (!metadata.findColumnWithPropertyPath(spec.source)) {
        throw new BulwarkConfigError(
          ErrorCodes.CONFIG_INVALID,
          `${metadata.name}.${spec.property}: source ${spec.source} is not a column of ${metadata.name}`,
          { path: `${metadata.name}.${spec.property}.source` },
        );
      }
    }
  }
  for (const keyId of keyIds) {
    if (options.keyRing.has(keyId)) continue;
    if (options.createKeys === false) {
      throw new BulwarkConfigError(
        ErrorCodes.CONFIG_INVALID,
        `registerBulwarkEncryption: key ${keyId} does not exist`,
        {
          path: 'keyRing',
        },
      );
    }
    await options.keyRing.ensureKey(keyId);
  }
  installQueryGuards();
  const warn = options.onWarning ?? emitWarning;
  const subscriber = new BulwarkEncryptionSubscriber(ctx, warn);
  const loadListeners = subscriber.loadListeners();
  const subscribers = dataSource.subscribers as unknown as object[];
  for (let i = subscribers.length - 1; i >= 0; i--) {
    const s = subscribers[i];
    if (s instanceof BulwarkEncryptionSubscriber || s instanceof BulwarkLoadListener)
      subscribers.splice(i, 1);
  }
  // First in the list: later subscribers (e.g. the audit subscriber) see sealed values in before*
  // events and plaintext again in after* events, and decrypted values in afterLoad.
  subscribers.unshift(subscriber, ...loadListeners);
  setActiveContext(ctx);
  registerClassifications(dataSource, sink);
  if (readMode === 'accept') {
    // Once per registration, no values: a transitional mode left on must not go unnoticed.
    warn(
      "bulwark: registerBulwarkEncryption with plaintextReads: 'accept' — encrypted columns serve plaintext values written around the ORM until it is switched back to 'refuse'; use it only while encryptExistingRows runs",
      'BULWARK_PLAINTEXT_READS_ACCEPT',
    );
  }
  return {
    subscriber,
    plaintextReadMode: readMode,
    plaintextReads() {
      const columns = [...counts.values()]
        .map((c) => ({ ...c }))
        .sort((a, b) => (a.entity + a.column < b.entity + b.column ? -1 : 1));
      return { total: columns.reduce((n, c) => n + c.count, 0), columns };
    },
    resetPlaintextReads() {
      for (const c of counts.values()) reportPlaintext(dataSource, sink, c.entity, c.column, 0);
      counts.clear();
    },
    unregister() {
      for (const s of [subscriber, ...loadListeners]) {
        const i = subscribers.indexOf(s);
        if (i >= 0) subscribers.splice(i, 1);
      }
      if (peekActiveContext() === ctx) setActiveContext(undefined);
    },
  };
}

/** Re-registers one classified field with whether it was read in clear (no-op if not classified). */
function reportPlaintext(
  dataSource: DataSource,
  sink: ClassificationSink | undefined,
  entity: string,
  column: string,
  reads: number,
): void {
  if (sink === undefined || !dataSource.hasMetadata(entity)) return;
  registerClassifications(dataSource, sink, { entity, field: column, plaintextReads: reads });
}

/** What registerBulwarkEncryption last activated in this process. */
export interface ActiveEncryption {
  readonly dataSource: DataSource;
  readonly keyRing: KeyRing;
  readonly defaultKeyId: string;
}

/**
 * The DataSource, key ring and `defaultKeyId` the column transformers currently use (undefined
 * when nothing is registered): tools that run the app's entities (e.g. `bulwark keys rewrap`)
 * reuse it instead of registering again with other defaults.
 */
export function activeEncryption(): ActiveEncryption | undefined {
  const ctx = peekActiveContext();
  return ctx === undefined
    ? undefined
    : { dataSource: ctx.dataSource, keyRing: ctx.keyRing, defaultKeyId: ctx.defaultKeyId };
}
