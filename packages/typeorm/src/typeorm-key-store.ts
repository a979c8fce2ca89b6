import { BulwarkCryptoError, ErrorCodes, type KeyStore } from '@bulwark/core';
import {
  type StoredKey,
  type StoredKeyVersion,
  type StoredRingSecret,
  type StoredSubjectKey,
  type WrappedKeyTarget,
} from '@bulwark/core/store';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DataSource } from 'typeorm';
import { dialectOf, type SqlDialect } from './sql-dialect';
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

/** The part of better-sqlite3's Database this store uses (TypeORM's driver.databaseConnection). */
interface SqliteDatabase {
  readonly inTransaction: boolean;
  prepare(sql: string): {
    readonly reader: boolean;
    all(...p: unknown[]): unknown[];
    run(...p: unknown[]): unknown;
  };
  transaction<T>(fn: () => T): { immediate(): T };
}

/** How long a SQLite write waits for another writer (beyond better-sqlite3's own busy timeout). */
const SQLITE_WRITE_TIMEOUT_MS = 15_000;

type Statement = readonly [sql: string, params: readonly unknown[]];

const int = (v: unknown): number => (typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : (v as number));
const isText = (v: unknown): v is string => typeof v === 'string' && v !== '';

/**
 * core's KeyStore in the application database (SQLite or PostgreSQL through TypeORM), so wrapped
 * keys live and are backed up with the data they protect while the master key stays outside
 * (KeyProvider). Register `bulwarkKeyEntities` on the DataSource and run
 * BulwarkKeyTables1735689700000.
 *
 * Safe for many instances on one database: every write is `INSERT ... ON CONFLICT DO NOTHING`
 * against a primary key ((key_id, version), subject_ref, the single ring-secret row) or a
 * conditional UPDATE that only moves primary_version forward and min_decrypt_version up, so no
 * instance ever overwrites a key another instance has used. Each write is durable when it
 * resolves. (SQLite: concurrent writers wait on the database lock, better-sqlite3's busy timeout.)
 */
export class TypeOrmKeyStore implements KeyStore {
  readonly name: string;
  private readonly sql: SqlDialect;

  constructor(private readonly dataSource: DataSource) {
    this.name = `typeorm:${String(dataSource.options.type)}`;
    this.sql = dialectOf(dataSource);
  }

  /**
   * Runs `statements` in one transaction and returns each one's rows (RETURNING) or `[]`.
   * PostgreSQL: a pooled connection's transaction; a conflicting INSERT waits for the other
   * transaction and then does nothing. SQLite: one synchronous `BEGIN IMMEDIATE` transaction on
   * the driver's connection, so the write lock is taken up front and never held across an await
   * (two DataSources on one file in one process would otherwise deadlock on it).
   */
  private async write(statements: readonly Statement[]): Promise<unknown[][]> {
    if (this.sql.kind === 'postgres') {
      return this.dataSource.transaction(async (manager) => {
        const results: unknown[][] = [];
        for (const [sql, params] of statements) {
          const rows: unknown = await manager.query(sql, [...params]);
          // INSERT ... RETURNING gives the rows; UPDATE gives [rows, count].
          if (!Array.isArray(rows)) results.push([]);
          else if (!sql.startsWith('UPDATE')) results.push(rows);
          else results.push(Array.isArray(rows[0]) ? (rows[0] as unknown[]) : []);
        }
        return results;
      });
    }
    const db = (this.dataSource.driver as unknown as { databaseConnection: SqliteDatabase })
      .databaseConnection;
    const run = db.transaction(() =>
      statements.map(([sql, params]) => {
        const stmt = db.prepare(sql.replace(/\$\d+/g, '?'));
        if (stmt.reader) return stmt.all(...params);
        stmt.run(...params);
        return [];
      }),
    );
    const deadline = Date.now() + SQLITE_WRITE_TIMEOUT_MS;
    for (let attempt = 0; ; attempt++) {
      // Never nest in a transaction someone else left open on this shared connection (it could
      // roll our insert back): wait for it to finish instead.
      if (!db.inTransaction) {
        try {
          return run.immediate();
        } catch (err) {
          if ((err as { code?: string }).code !== 'SQLITE_BUSY') throw err;
        }
      }
      if (Date.now() >= deadline) {
        throw new BulwarkCryptoError(
          ErrorCodes.CRYPTO_KEY_STORE,
          `Key store ${this.name}: the database stayed locked for ${SQLITE_WRITE_TIMEOUT_MS} ms`,
        );
      }
      await sleep(Math.min(2 ** attempt, 50) * (0.5 + Math.random()));
    }
  }

  async loadKeys(): Promise<StoredKey[]> {
    // Keys first, then versions: a key's primary only ever names a version committed with or
    // before it, so this order never sees a primary without its version.
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

  async insertKeyVersion(keyId: string, version: StoredKeyVersion): Promise<boolean> {
    const key = this.sql.table('bulwark_key');
    const versions = this.sql.table('bulwark_key_version');
    const [, inserted] = await this.write([
      [
        `INSERT INTO ${key} ("key_id", "primary_version", "min_decrypt_version", "created_at", "rotated_at") ` +
          `VALUES ($1, $2, $3, $4, $5) ON CONFLICT ("key_id") DO NOTHING`,
        [keyId, version.version, version.version, version.createdAt, version.createdAt],
      ],
      [
        `INSERT INTO ${versions} ("key_id", "version", "algorithm", "wrapped_key", "created_at") ` +
          `VALUES ($1, $2, $3, $4, $5) ON CONFLICT ("key_id", "version") DO NOTHING RETURNING "version"`,
        [keyId, version.version, version.algorithm, version.wrappedKey, version.createdAt],
      ],
      // Forward only. When the version already existed, its writer moved the primary to it in
      // the same transaction, so this matches nothing.
      [
        `UPDATE ${key} SET "primary_version" = $1, "rotated_at" = $2 WHERE "key_id" = $3 AND "primary_version" < $4`,
        [version.version, version.createdAt, keyId, version.version],
      ],
    ]);
    return inserted!.length > 0;
  }

  async raiseMinDecryptVersion(keyId: string, minDecryptVersion: number): Promise<void> {
    await this.write([
      [
        `UPDATE ${this.sql.table('bulwark_key')} SET "min_decrypt_version" = $1 ` +
          `WHERE "key_id" = $2 AND "min_decrypt_version" < $3 AND "primary_version" >= $4`,
        [minDecryptVersion, keyId, minDecryptVersion, minDecryptVersion],
      ],
    ]);
  }

  async getRingSecret(): Promise<StoredRingSecret | undefined> {
    const row = await this.dataSource.getRepository(RingSecretSchema).findOneBy({ id: 1 });
    if (row === null) return undefined;
    if (!isText(row.wrappedKey) || !isText(row.createdAt)) throw corrupt('bulwark_ring_secret');
    return { wrappedKey: row.wrappedKey, createdAt: row.createdAt };
  }

  async insertRingSecret(secret: StoredRingSecret): Promise<StoredRingSecret> {
    await this.write([
      [
        `INSERT INTO ${this.sql.table('bulwark_ring_secret')} ("id", "wrapped_key", "created_at") ` +
          `VALUES (1, $1, $2) ON CONFLICT ("id") DO NOTHING`,
        [secret.wrappedKey, secret.createdAt],
      ],
    ]);
    const stored = await this.getRingSecret();
    if (stored === undefined) throw corrupt('bulwark_ring_secret');
    return stored;
  }

  async getSubject(subjectRef: string): Promise<StoredSubjectKey | undefined> {
    const row = await this.dataSource.getRepository(SubjectKeySchema).findOneBy({ subjectRef });
    return row === null ? undefined : this.toSubject(row);
  }

  async insertSubject(subject: StoredSubjectKey): Promise<StoredSubjectKey> {
    const [inserted] = await this.write([
      [
        `INSERT INTO ${this.sql.table('bulwark_subject_key')} ("subject_ref", "algorithm", "wrapped_key", "created_at", "shredded_at") ` +
          `VALUES ($1, $2, $3, $4, $5) ON CONFLICT ("subject_ref") DO NOTHING RETURNING "subject_ref"`,
        [subject.subjectRef, subject.algorithm, subject.wrappedKey, subject.createdAt, subject.shreddedAt],
      ],
    ]);
    if (inserted!.length > 0) return { ...subject };
    const existing = await this.getSubject(subject.subjectRef);
    if (existing === undefined) throw corrupt('bulwark_subject_key');
    return existing;
  }

  async shredSubject(tombstone: StoredSubjectKey): Promise<void> {
    const table = this.sql.table('bulwark_subject_key');
    const shreddedAt = tombstone.shreddedAt ?? new Date().toISOString();
    await this.write([
      [
        `INSERT INTO ${table} ("subject_ref", "algorithm", "wrapped_key", "created_at", "shredded_at") ` +
          `VALUES ($1, $2, NULL, $3, $4) ON CONFLICT ("subject_ref") DO NOTHING`,
        [tombstone.subjectRef, tombstone.algorithm, tombstone.createdAt, shreddedAt],
      ],
      // Overwrites the wrapped key in place (no history kept); an existing tombstone stays as is.
      [
        `UPDATE ${table} SET "wrapped_key" = NULL, "shredded_at" = $1 WHERE "subject_ref" = $2 AND "shredded_at" IS NULL`,
        [shreddedAt, tombstone.subjectRef],
      ],
    ]);
  }

  async listSubjects(after: string | undefined, limit: number): Promise<StoredSubjectKey[]> {
    const table = this.sql.table('bulwark_subject_key');
    const cols = '"subject_ref", "algorithm", "wrapped_key", "created_at", "shredded_at"';
    const sqlite = this.sql.kind !== 'postgres';
    const query = (text: string) => (sqlite ? text.replace(/\$\d+/g, '?') : text);
    const rows = (await this.dataSource.query(
      query(
        after === undefined
          ? `SELECT ${cols} FROM ${table} ORDER BY "subject_ref" LIMIT $1`
          : `SELECT ${cols} FROM ${table} WHERE "subject_ref" > $1 ORDER BY "subject_ref" LIMIT $2`,
      ),
      after === undefined ? [limit] : [after, limit],
    )) as Array<Record<string, unknown>>;
    return rows.map((r) =>
      this.toSubject({
        subjectRef: r.subject_ref as string,
        algorithm: r.algorithm as string,
        wrappedKey: r.wrapped_key as string | null,
        createdAt: r.created_at as string,
        shreddedAt: r.shredded_at as string | null,
      }),
    );
  }

  /** Compare-and-swap: one conditional UPDATE (a tombstone's NULL never matches). */
  async replaceWrappedKey(target: WrappedKeyTarget, expected: string, next: string): Promise<boolean> {
    const [sql, params]: Statement =
      target.kind === 'ring'
        ? [
            `UPDATE ${this.sql.table('bulwark_ring_secret')} SET "wrapped_key" = $1 WHERE "id" = 1 AND "wrapped_key" = $2 RETURNING "id"`,
            [next, expected],
          ]
        : target.kind === 'subject'
          ? [
              `UPDATE ${this.sql.table('bulwark_subject_key')} SET "wrapped_key" = $1 ` +
                `WHERE "subject_ref" = $2 AND "wrapped_key" = $3 AND "shredded_at" IS NULL RETURNING "subject_ref"`,
              [next, target.subjectRef, expected],
            ]
          : [
              `UPDATE ${this.sql.table('bulwark_key_version')} SET "wrapped_key" = $1 ` +
                `WHERE "key_id" = $2 AND "version" = $3 AND "wrapped_key" = $4 RETURNING "version"`,
              [next, target.keyId, target.version, expected],
            ];
    const [rows] = await this.write([[sql, params]]);
    return rows!.length > 0;
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
