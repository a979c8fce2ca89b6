import {
  BulwarkCryptoError,
  ErrorCodes,
  type KeyStore,
  type StoredKey,
  type StoredRingSecret,
  type StoredSubjectKey,
} from '@bulwark/core';
import type { DataSource } from 'typeorm';
import {
  KeyRecordSchema,
  KeyVersionSchema,
  RingSecretSchema,
  SubjectKeySchema,
  type KeyRecordRow,
  type KeyVersionRow,
  type SubjectKeyRow,
} from './key-store-entities';

function corrupt(what: string): BulwarkCryptoError {
  return new BulwarkCryptoError(
    ErrorCodes.CRYPTO_KEY_STORE,
    `Key store table ${what} holds a malformed row`,
    {
      table: what,
    },
  );
}

const int = (v: unknown): number => (typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : (v as number));
const isText = (v: unknown): v is string => typeof v === 'string' && v !== '';

/**
 * core's KeyStore in the application database (SQLite or PostgreSQL through TypeORM), so wrapped
 * keys live and are backed up with the data they protect while the master key stays outside
 * (KeyProvider). Register `bulwarkKeyEntities` on the DataSource and run
 * BulwarkKeyTables1735689700000. Each save is one transaction, durable when it resolves.
 */
export class TypeOrmKeyStore implements KeyStore {
  readonly name: string;

  constructor(private readonly dataSource: DataSource) {
    this.name = `typeorm:${String(dataSource.options.type)}`;
  }

  async loadKeys(): Promise<StoredKey[]> {
    const keys = await this.dataSource.getRepository(KeyRecordSchema).find({ order: { keyId: 'ASC' } });
    const versions = await this.dataSource
      .getRepository(KeyVersionSchema)
      .find({ order: { keyId: 'ASC', version: 'ASC' } });
    return keys.map((k) =>
      this.toKey(
        k,
        versions.filter((v) => v.keyId === k.keyId),
      ),
    );
  }

  async saveKey(key: StoredKey): Promise<void> {
    await this.dataSource.transaction(async (manager) => {
      await manager.upsert(
        KeyRecordSchema,
        {
          keyId: key.keyId,
          primaryVersion: key.primaryVersion,
          minDecryptVersion: key.minDecryptVersion,
          createdAt: key.createdAt,
          rotatedAt: key.rotatedAt,
        },
        ['keyId'],
      );
      await manager.upsert(
        KeyVersionSchema,
        key.versions.map((v) => ({
          keyId: key.keyId,
          version: v.version,
          algorithm: v.algorithm,
          wrappedKey: v.wrappedKey,
          createdAt: v.createdAt,
        })),
        ['keyId', 'version'],
      );
    });
  }

  async getRingSecret(): Promise<StoredRingSecret | undefined> {
    const row = await this.dataSource.getRepository(RingSecretSchema).findOneBy({ id: 1 });
    if (row === null) return undefined;
    if (!isText(row.wrappedKey) || !isText(row.createdAt)) throw corrupt('bulwark_ring_secret');
    return { wrappedKey: row.wrappedKey, createdAt: row.createdAt };
  }

  async saveRingSecret(secret: StoredRingSecret): Promise<void> {
    await this.dataSource
      .getRepository(RingSecretSchema)
      .upsert({ id: 1, wrappedKey: secret.wrappedKey, createdAt: secret.createdAt }, ['id']);
  }

  async getSubject(subjectRef: string): Promise<StoredSubjectKey | undefined> {
    const row = await this.dataSource.getRepository(SubjectKeySchema).findOneBy({ subjectRef });
    return row === null ? undefined : this.toSubject(row);
  }

  async saveSubject(subject: StoredSubjectKey): Promise<void> {
    // Upsert replaces the row in place: a tombstone overwrites the wrapped key (no history kept).
    await this.dataSource.getRepository(SubjectKeySchema).upsert(
      {
        subjectRef: subject.subjectRef,
        algorithm: subject.algorithm,
        wrappedKey: subject.wrappedKey,
        createdAt: subject.createdAt,
        shreddedAt: subject.shreddedAt,
      },
      ['subjectRef'],
    );
  }

  private toKey(k: KeyRecordRow, rows: KeyVersionRow[]): StoredKey {
    const primaryVersion = int(k.primaryVersion);
    const minDecryptVersion = int(k.minDecryptVersion);
    if (
      !isText(k.keyId) ||
      !Number.isSafeInteger(primaryVersion) ||
      !Number.isSafeInteger(minDecryptVersion) ||
      !isText(k.createdAt) ||
      !isText(k.rotatedAt) ||
      rows.length === 0
    ) {
      throw corrupt('bulwark_key');
    }
    return {
      keyId: k.keyId,
      primaryVersion,
      minDecryptVersion,
      createdAt: k.createdAt,
      rotatedAt: k.rotatedAt,
      versions: rows.map((v) => {
        const version = int(v.version);
        if (
          !Number.isSafeInteger(version) ||
          !isText(v.algorithm) ||
          !isText(v.wrappedKey) ||
          !isText(v.createdAt)
        ) {
          throw corrupt('bulwark_key_version');
        }
        return {
          version,
          algorithm: v.algorithm as StoredKey['versions'][number]['algorithm'],
          wrappedKey: v.wrappedKey,
          createdAt: v.createdAt,
        };
      }),
    };
  }

  private toSubject(row: SubjectKeyRow): StoredSubjectKey {
    if (!isText(row.subjectRef) || !isText(row.algorithm) || !isText(row.createdAt))
      throw corrupt('bulwark_subject_key');
    if (row.wrappedKey !== null && !isText(row.wrappedKey)) throw corrupt('bulwark_subject_key');
    if (row.shreddedAt !== null && !isText(row.shreddedAt)) throw corrupt('bulwark_subject_key');
    return {
      subjectRef: row.subjectRef,
      algorithm: row.algorithm as StoredSubjectKey['algorithm'],
      wrappedKey: row.wrappedKey,
      createdAt: row.createdAt,
      shreddedAt: row.shreddedAt,
    };
  }
}
