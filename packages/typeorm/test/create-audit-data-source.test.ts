import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { DataSource } from 'typeorm';
import { AuditLog, ErrorCodes } from '@bulwark/core';
import { describeWithService, SERVICE_URLS } from '../../../test/support/services';
import { bulwarkEntities, bulwarkMigrations, createAuditDataSource, TypeOrmAuditStore } from '../src';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'bw-typeorm-ds-'));

describe('createAuditDataSource', () => {
  it.each([
    [{ url: 'mysql://root@localhost/db' }],
    [{ url: '' }],
    [{ url: 'audit.sqlite', schema: 'x' }],
    [{ url: 'postgres://localhost/db', schema: 'bad-name"; drop' }],
  ])('rejects %j with ERR_CONFIG_INVALID', async (options) => {
    await expect(createAuditDataSource(options)).rejects.toMatchObject({ code: ErrorCodes.CONFIG_INVALID });
  });

  it('opens a SQLite file with WAL, synchronous=FULL and secure_delete, and migrates once when raced', async () => {
    const dir = tmp();
    const url = path.join(dir, 'audit.sqlite');
    const [a, b, c] = await Promise.all([1, 2, 3].map(() => createAuditDataSource({ url })));
    const db = (a!.driver as unknown as { databaseConnection: { pragma(s: string, o: object): unknown } })
      .databaseConnection;
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('synchronous', { simple: true })).toBe(2); // FULL
    expect(db.pragma('secure_delete', { simple: true })).toBe(1);
    const migrations = (await a!.query(`SELECT name FROM migrations`)) as unknown[];
    expect(migrations).toHaveLength(bulwarkMigrations.length);
    const store = await TypeOrmAuditStore.open(b!, { destroyDataSourceOnClose: true });
    const log = await AuditLog.open({ store });
    await log.append({ actor: { id: 'a', type: 'user' }, action: 'x.y', outcome: 'success' });
    await log.close();
    expect(b!.isInitialized).toBe(false); // closed with the store
    await a!.destroy();
    await c!.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('TypeOrmAuditStore configuration', () => {
  it('refuses drivers it cannot lock correctly', () => {
    const fake = { options: { type: 'mysql' } } as unknown as DataSource;
    expect(() => new TypeOrmAuditStore(fake)).toThrow(
      expect.objectContaining({ code: ErrorCodes.CONFIG_INVALID }),
    );
  });

  it.each([[{ lockTimeoutMs: 0 }], [{ insertChunkSize: 5000 }]])('refuses option %j', (options) => {
    const ds = new DataSource({ type: 'better-sqlite3', database: ':memory:' });
    expect(() => new TypeOrmAuditStore(ds, options)).toThrow(
      expect.objectContaining({ code: ErrorCodes.CONFIG_INVALID }),
    );
  });

  it('says to run the migrations when the tables are missing', async () => {
    const ds = new DataSource({ type: 'better-sqlite3', database: ':memory:', entities: bulwarkEntities });
    await expect(TypeOrmAuditStore.open(ds)).rejects.toMatchObject({ code: ErrorCodes.CONFIG_INVALID });
    await ds.initialize();
    await expect(TypeOrmAuditStore.open(ds)).rejects.toThrow(/bulwarkMigrations/);
    await ds.destroy();
  });

  it('an application transaction holding the shared SQLite connection makes appends time out (ERR_AUDIT_STORE_LOCKED), not interleave', async () => {
    const ds = await createAuditDataSource({ url: ':memory:' });
    const store = await TypeOrmAuditStore.open(ds, { lockTimeoutMs: 200 });
    const qr = ds.createQueryRunner();
    await qr.startTransaction();
    const log = await AuditLog.open({ store, closeStore: false });
    await expect(
      log.append({ actor: { id: 'a', type: 'user' }, action: 'x', outcome: 'success' }),
    ).rejects.toMatchObject({
      code: ErrorCodes.AUDIT_STORE_LOCKED,
    });
    await qr.rollbackTransaction();
    await expect(
      log.append({ actor: { id: 'a', type: 'user' }, action: 'x', outcome: 'success' }),
    ).resolves.toMatchObject({
      seq: 1,
    });
    await log.close();
    await ds.destroy();
  });
});

describeWithService('postgres', 'createAuditDataSource on PostgreSQL', () => {
  it('creates the schema and migrates once when several instances start at once', async () => {
    const schema = `bw_test_${randomBytes(6).toString('hex')}`;
    const url = SERVICE_URLS.postgres;
    const sources = await Promise.all([1, 2, 3].map(() => createAuditDataSource({ url, schema })));
    try {
      const rows = (await sources[0]!.query(`SELECT name FROM "${schema}"."migrations"`)) as unknown[];
      expect(rows).toHaveLength(bulwarkMigrations.length);
      const store = await TypeOrmAuditStore.open(sources[1]!);
      expect(await store.head()).toMatchObject({ seq: 0 });
    } finally {
      await Promise.all(sources.map((s) => s.destroy()));
      const admin = await new DataSource({ type: 'postgres', url }).initialize();
      await admin.query(`DROP SCHEMA "${schema}" CASCADE`);
      await admin.destroy();
    }
  });
});
