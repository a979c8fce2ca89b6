import { BulwarkConfigError, ErrorCodes, type KeyRing } from '@bulwark/core';
import type { DataSource, EntityMetadata } from 'typeorm';
import { zonelessDatesOf, type ZonelessDates } from './plaintext-value';
import { BulwarkTypeOrmError, type FieldLocation, TypeOrmErrorCodes } from './bulwark-typeorm-error';
import type { BlindIndexSpec, EncryptedFieldSpec, EntityClass } from './field-registry';

/** An encrypted field resolved against a DataSource's metadata. @internal */
type ColumnMetadata = EntityMetadata['columns'][number];

export interface ResolvedField {
  readonly spec: EncryptedFieldSpec;
  readonly keyId: string;
  /**
   * Column associated data: `<table>.<column>` unless the decorator set `aad`. Given to the key
   * ring as this string (not bytes): the ring caches `header || aad` per string, so each value
   * costs one setAAD call and no conversion.
   */
  readonly aad: string;
  readonly where: FieldLocation;
  readonly metadata: EntityMetadata;
  readonly column: ColumnMetadata;
}

export interface ResolvedBlindIndex {
  readonly spec: BlindIndexSpec;
  readonly keyId: string;
  readonly context: string;
  readonly where: FieldLocation;
  readonly column: ColumnMetadata;
}

/**
 * The key ring and DataSource the column transformers work with. Transformers are created at
 * decoration time and TypeORM hands them only the value, so they find their ring here: one active
 * encryption context per process (set by registerBulwarkEncryption). @internal
 */
export class EncryptionContext {
  private readonly fields = new Map<EncryptedFieldSpec, ResolvedField>();
  private readonly indexes = new Map<BlindIndexSpec, ResolvedBlindIndex>();
  /**
   * What a value that is not an envelope does when read (registerBulwarkEncryption
   * `plaintextReads`): `refuse` throws ERR_TYPEORM_PLAINTEXT_IN_ENCRYPTED_COLUMN, `accept` returns
   * it and reports it to `onPlaintextRead` (the transitional mode while encryptExistingRows runs).
   */
  plaintextReads: 'refuse' | 'accept' = 'refuse';
  onPlaintextRead: ((where: FieldLocation) => void) | undefined = undefined;
  /**
   * Columns that still hold typeorm-encrypted ciphertexts (registerBulwarkEncryption
   * `typeormEncrypted`), as `entity\u0000property`: a value there that is not an envelope is never
   * served nor encrypted as plaintext (ERR_TYPEORM_LEGACY_CIPHERTEXT).
   */
  legacyColumns: ReadonlySet<string> = new Set();

  isLegacyColumn(where: FieldLocation): boolean {
    return this.legacyColumns.has(`${where.entity}\u0000${where.column}`);
  }

  /** How the database's zone-less date-time text is read (as TypeORM's driver hydrates it). */
  readonly zonelessDates: ZonelessDates;

  constructor(
    readonly keyRing: KeyRing,
    readonly defaultKeyId: string,
    readonly dataSource: DataSource,
  ) {
    this.zonelessDates = zonelessDatesOf(dataSource);
  }

  field(spec: EncryptedFieldSpec): ResolvedField {
    let resolved = this.fields.get(spec);
    if (resolved === undefined) {
      const metadata = this.metadataOf(spec.target, spec.property);
      const column = metadata.findColumnWithPropertyPath(spec.property);
      if (column === undefined) throw notAColumn(metadata.name, spec.property);
      const aad = spec.aad ?? `${metadata.tableName}.${column.databaseName}`;
      resolved = {
        spec,
        keyId: spec.keyId ?? this.defaultKeyId,
        aad,
        where: { entity: metadata.name, column: spec.property },
        metadata,
        column,
      };
      this.fields.set(spec, resolved);
    }
    return resolved;
  }

  blindIndex(spec: BlindIndexSpec): ResolvedBlindIndex {
    let resolved = this.indexes.get(spec);
    if (resolved === undefined) {
      const metadata = this.metadataOf(spec.target, spec.property);
      const column = metadata.findColumnWithPropertyPath(spec.property);
      if (column === undefined) throw notAColumn(metadata.name, spec.property);
      resolved = {
        spec,
        keyId: spec.keyId ?? this.defaultKeyId,
        context: spec.context ?? `${metadata.tableName}.${column.databaseName}`,
        where: { entity: metadata.name, column: spec.property },
        column,
      };
      this.indexes.set(spec, resolved);
    }
    return resolved;
  }

  private metadataOf(target: EntityClass, property: string): EntityMetadata {
    if (!this.dataSource.hasMetadata(target)) {
      throw new BulwarkConfigError(
        ErrorCodes.CONFIG_INVALID,
        `${target.name}.${property} is encrypted, but ${target.name} is not an entity of the DataSource given to registerBulwarkEncryption (put the decorators on entity classes, or set aad explicitly)`,
        { path: `${target.name}.${property}` },
      );
    }
    return this.dataSource.getMetadata(target);
  }
}

function notAColumn(entity: string, property: string): BulwarkConfigError {
  return new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, `${entity}.${property} is not a column`, {
    path: `${entity}.${property}`,
  });
}

let active: EncryptionContext | undefined;

export function setActiveContext(context: EncryptionContext | undefined): void {
  active = context;
}

export function peekActiveContext(): EncryptionContext | undefined {
  return active;
}

export function activeContext(where: FieldLocation): EncryptionContext {
  if (active === undefined) {
    throw new BulwarkTypeOrmError(
      TypeOrmErrorCodes.NOT_CONFIGURED,
      `${where.entity}.${where.column} is encrypted but no key ring is registered; call registerBulwarkEncryption(dataSource, { keyRing }) after dataSource.initialize()`,
      { entity: where.entity, column: where.column },
    );
  }
  return active;
}
