import 'reflect-metadata';
import { execFile } from 'node:child_process';
import { createCipheriv, randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { ClassificationRegistry, ComplianceKit, envelopeKind, type KeyRing } from '@bulwark/core';
import { Entity, PrimaryColumn, type DataSource, type DataSourceOptions } from 'typeorm';
import { SERVICE_URLS, describeWithService } from '../../../../test/support/services';
import {
  EncryptedField,
  PersonalData,
  TypeOrmErrorCodes,
  registerClassifications,
  scanStoredPlaintext,
  encryptExistingRows,
  migrateFromTypeormEncrypted,
  registerBulwarkEncryption,
  type BulwarkEncryption,
  type BulwarkEncryptionOptions,
} from '../../src';
import { caught, mariadb, memoryRing, postgres, sqlite, type Backend, type EncryptionDb } from './support';

// Review findings on the encryption migration (issue 20, items 2 and 6), each reproduced here.

// A table with one typeorm-encrypted column (email) and one plaintext column (bio).
@Entity('eh_account')
class Account {
  @PrimaryColumn({ type: 'integer' })
  id!: number;

  @PersonalData()
  @EncryptedField({ nullable: true })
  email!: string | null;

  @EncryptedField({ nullable: true })
  bio!: string | null;
}

const TZ_WORKER = path.join(__dirname, '..', 'workers', 'tz-dates-worker.js');
const run = promisify(execFile);

/** typeorm-encrypted's aes-256-gcm format: base64(iv || authTag || ciphertext). */
function typeormEncrypted(key: Buffer, text: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: 16 });
  const body = Buffer.concat([cipher.update(text, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64');
}

function suite(backend: Backend) {
  let db: EncryptionDb;
  let ds: DataSource;
  let ring: KeyRing;
  let registration: BulwarkEncryption | undefined;
  const teKey = randomBytes(32);
  const warnings: Array<{ message: string; code: string }> = [];

  const register = async (options: Omit<BulwarkEncryptionOptions, 'keyRing'> = {}) => {
    registration?.unregister();
    registration = await registerBulwarkEncryption(ds, {
      keyRing: ring,
      onWarning: (message, code) => warnings.push({ message, code }),
      ...options,
    });
  };

  beforeAll(async () => {
    db = await backend.create([Account]);
    ds = db.dataSource;
    ring = await memoryRing();
  });
  afterAll(async () => {
    registration?.unregister();
    await db?.drop();
    await ring?.close();
  });

  describe('typeorm-encrypted columns are never taken for plaintext', () => {
    const accounts = () => db.t('eh_account');
    beforeEach(async () => {
      await db.raw(`DELETE FROM ${accounts()}`);
      for (let id = 1; id <= 3; id++) {
        await db.raw(`INSERT INTO ${accounts()} ("id", "email", "bio") VALUES ($1, $2, $3)`, [
          id,
          typeormEncrypted(teKey, `user${id}@example.test`),
          `bio ${id}`,
        ]);
      }
    });
    const legacy = [{ entity: Account, columns: ['email'] }];

    it('the transitional read mode refuses them (typed error naming the migration) and warns once that it is on', async () => {
      warnings.length = 0;
      await register({ plaintextReads: 'accept', typeormEncrypted: legacy });
      expect(warnings).toEqual([{ code: 'BULWARK_PLAINTEXT_READS_ACCEPT', message: expect.any(String) }]);
      expect(warnings[0]!.message).not.toContain('example.test');
      const error = await caught(() => ds.getRepository(Account).findOneBy({ id: 1 }));
      expect(error.code).toBe(TypeOrmErrorCodes.LEGACY_CIPHERTEXT);
      expect(error.message).toContain('migrateFromTypeormEncrypted');
      expect(error.message).not.toContain(String(1));
      await register({ plaintextReads: 'refuse', typeormEncrypted: legacy });
      expect(warnings).toHaveLength(1);
    });

    it('the plaintext pass leaves registered (or excluded) typeorm-encrypted columns alone; the legacy migration converts them', async () => {
      await register({ plaintextReads: 'accept', typeormEncrypted: legacy });
      const plain = await encryptExistingRows(ds, { entities: [Account] });
      expect(plain.ok).toBe(true);
      expect(plain.columns.map((c) => c.column)).toEqual(['bio']);
      const rows = await db.raw(`SELECT "email", "bio" FROM ${accounts()} ORDER BY "id"`);
      expect(rows.every((r) => envelopeKind(r.email) === undefined)).toBe(true);
      expect(rows.every((r) => envelopeKind(r.bio) !== undefined)).toBe(true);

      // Not registered, named with `exclude` instead.
      await register();
      const again = await encryptExistingRows(ds, { exclude: legacy });
      expect(again.columns.filter((c) => c.entity === 'Account').map((c) => c.column)).toEqual(['bio']);
      const onlyLegacy = await caught(() =>
        encryptExistingRows(ds, {
          entities: [Account],
          exclude: [{ entity: 'Account', columns: ['email', 'bio'] }],
        }),
      );
      expect(onlyLegacy.message).toContain('migrateFromTypeormEncrypted');

      const migrated = await migrateFromTypeormEncrypted(ds, {
        entity: Account,
        columns: ['email'],
        key: teKey.toString('hex'),
        algorithm: 'aes-256-gcm',
        ivLength: 12,
      });
      expect(migrated.ok).toBe(true);
      expect(migrated.columns[0]).toMatchObject({ scanned: 3, encrypted: 3, skipped: 0 });
      await register();
      const read = await ds.getRepository(Account).find({ order: { id: 'ASC' } });
      expect(read.map((a) => a.email)).toEqual([1, 2, 3].map((i) => `user${i}@example.test`));
      expect(read.map((a) => a.bio)).toEqual(['bio 1', 'bio 2', 'bio 3']);
    });
  });

  describe('values that only start like an envelope', () => {
    it('are reported as ambiguous by id (not skipped), and encrypted when named in plaintextIds', async () => {
      const accounts = db.t('eh_account');
      await db.raw(`DELETE FROM ${accounts}`);
      await db.raw(`INSERT INTO ${accounts} ("id", "email", "bio") VALUES (1, $1, $2), (2, $3, $4)`, [
        'a@example.test',
        'bw2.hello there',
        'b@example.test',
        'plain bio',
      ]);
      await register({ plaintextReads: 'accept' });
      const first = await encryptExistingRows(ds, { entities: [Account] });
      expect(first.ok).toBe(false);
      const bio = first.columns.find((c) => c.column === 'bio')!;
      expect(bio).toMatchObject({ scanned: 2, encrypted: 1, skipped: 0 });
      expect(bio.ambiguous).toEqual([{ id: '[1]', code: expect.stringMatching(/^ERR_/) }]);
      expect(JSON.stringify(first)).not.toContain('hello');

      const forced = await encryptExistingRows(ds, { entities: [Account], plaintextIds: ['[1]'] });
      expect(forced.ok).toBe(true);
      expect(forced.columns.find((c) => c.column === 'bio')).toMatchObject({
        encrypted: 1,
        skipped: 1,
        ambiguous: [],
      });
      await register();
      const one = await ds.getRepository(Account).findOneByOrFail({ id: 1 });
      expect(one.bio).toBe('bw2.hello there');
    });
  });

  it('in a non-UTC time zone, dates keep their instant and integers beyond 2^53 are refused, not rounded', async () => {
    // TZ is a process setting: the run happens in a child process over the built package.
    const config =
      db.kind === 'sqlite'
        ? { type: 'better-sqlite3', database: (db.options as { database: string }).database }
        : db.kind === 'mariadb'
          ? { type: 'mariadb', url: (db.options as { url: string }).url }
          : {
              type: 'postgres',
              url: SERVICE_URLS.postgres,
              schema: (db.options as { schema: string }).schema,
            };
    const { stdout } = await run(process.execPath, [TZ_WORKER, JSON.stringify(config)], {
      env: { ...process.env, TZ: 'America/New_York' },
    });
    const out = JSON.parse(stdout) as Record<string, unknown>;
    const instant = '2024-03-01T10:00:00.000Z';
    // The zone really was in force (EST is UTC-5 on 1 March).
    expect(out.offset).toBe(300);
    expect(out.accepted).toBe(instant);
    expect(out.bigRead).toEqual({ code: TypeOrmErrorCodes.INVALID_VALUE, leaksValue: false });
    expect(out.ok).toBe(false);
    expect(out.failed).toEqual([
      { column: 'seenAt', failed: [] },
      { column: 'count', failed: [{ id: '[2]', code: TypeOrmErrorCodes.INVALID_VALUE }] },
    ]);
    expect(out.bigLeft).toBe('9007199254740993');
    expect(out.after).toEqual(
      db.kind !== 'postgres'
        ? [{ id: 1, seenAt: instant, count: 42 }]
        : [
            { id: 1, seenAt: instant, count: 42 },
            { id: 3, seenAt: instant, count: null },
          ],
    );
  });

  it('a row the application saves through the ORM between read and write counts once, as already encrypted', async () => {
    const accounts = db.t('eh_account');
    await db.raw(`DELETE FROM ${accounts}`);
    await db.raw(
      `INSERT INTO ${accounts} ("id", "email", "bio") VALUES (1, 'a@x.test', 'a'), (2, 'b@x.test', 'b')`,
    );
    await register({ plaintextReads: 'accept' });
    const real = ds.createQueryRunner.bind(ds);
    let injected = false;
    const spy = jest.spyOn(ds, 'createQueryRunner').mockImplementation((mode) => {
      const runner = real(mode);
      if (injected) return runner;
      const query = runner.query.bind(runner);
      runner.query = (async (text: string, params?: unknown[], structured?: boolean) => {
        if (!injected && text.startsWith('UPDATE')) {
          injected = true;
          runner.query = query;
          spy.mockRestore();
          // The running application saves row 1 (accept mode rewrites every encrypted field).
          const one = await ds.getRepository(Account).findOneByOrFail({ id: 1 });
          one.email = 'new@x.test';
          await ds.getRepository(Account).save(one);
        }
        return structured === true ? query(text, params, true) : query(text, params);
      }) as typeof runner.query;
      return runner;
    });
    let report;
    try {
      report = await encryptExistingRows(ds, { entities: [Account] });
    } finally {
      spy.mockRestore();
    }
    expect(injected).toBe(true);
    expect(report.ok).toBe(true);
    for (const c of report.columns) {
      expect(c.scanned).toBe(2);
      expect(c.encrypted + c.skipped + c.failed.length + c.ambiguous.length).toBe(c.scanned);
    }
    expect(report.columns.find((c) => c.column === 'email')).toMatchObject({
      conflicts: 1,
      encrypted: 1,
      skipped: 1,
    });
    await register();
    const rows = await ds.getRepository(Account).find({ order: { id: 'ASC' } });
    expect(rows.map((r) => r.email)).toEqual(['new@x.test', 'b@x.test']);
  });

  it('the compliance evidence comes from the data: a kit in a fresh registration fails while plaintext is stored, in any read mode', async () => {
    const accounts = db.t('eh_account');
    await db.raw(`DELETE FROM ${accounts}`);
    await db.raw(`INSERT INTO ${accounts} ("id", "email", "bio") VALUES (1, $1, 'x'), (2, $2, NULL)`, [
      'a@example.test',
      'b@example.test',
    ]);
    // The application's process (accept mode) is gone; this is another one: no read was counted.
    await register({ plaintextReads: 'refuse' });
    const classification = new ClassificationRegistry();
    registerClassifications(ds, classification);
    const kit = new ComplianceKit().register({ classification });
    // Every control the built-in catalogue evaluates with the encryption-at-rest check.
    const outcome = async () => {
      const controls = (await kit.report('all')).controls.filter(
        (c) => c.check === 'encryption.classified-fields',
      );
      expect(controls.length).toBeGreaterThan(0);
      const failing = controls.filter((c) => c.status === 'fail');
      return { status: failing.length > 0 ? 'fail' : 'pass', summary: failing[0]?.summary ?? '', controls };
    };
    expect((await outcome()).status).toBe('pass'); // what per-process read counting said

    const scan = await scanStoredPlaintext(ds, {
      entities: [Account],
      classificationRegistry: classification,
    });
    expect(scan).toEqual({
      rows: 2,
      total: 3,
      columns: [
        { entity: 'Account', column: 'email', plaintext: 2 },
        { entity: 'Account', column: 'bio', plaintext: 1 },
      ],
    });
    const failing = await outcome();
    expect(failing.status).toBe('fail');
    expect(failing.summary).toContain('Account.email (2 plaintext');
    expect(JSON.stringify(failing)).not.toContain('example.test');

    expect((await encryptExistingRows(ds, { entities: [Account] })).ok).toBe(true);
    expect((await scanStoredPlaintext(ds, { classificationRegistry: classification })).total).toBe(0);
    expect((await outcome()).status).toBe('pass');
  });
}

describe('encryption migration hardening on SQLite', () => suite(sqlite));

describe('encryptExistingRows on SQLite', () => {
  describe('an application transaction open on the shared SQLite connection', () => {
    @Entity('eh_tx')
    class Note {
      @PrimaryColumn({ type: 'integer' })
      id!: number;

      @EncryptedField({ nullable: true })
      body!: string | null;
    }
    let db: EncryptionDb;
    let ring: KeyRing;
    let registration: BulwarkEncryption;
    const envelopes = async () =>
      (await db.raw('SELECT "body" FROM "eh_tx"')).filter((r) => envelopeKind(r.body) !== undefined).length;

    beforeAll(async () => {
      db = await sqlite.create([Note]);
      ring = await memoryRing();
      registration = await registerBulwarkEncryption(db.dataSource, {
        keyRing: ring,
        plaintextReads: 'accept',
        onWarning: () => undefined,
      });
    });
    afterAll(async () => {
      registration.unregister();
      await db.drop();
      await ring.close();
    });
    beforeEach(async () => {
      await db.raw('DELETE FROM "eh_tx"');
      for (let i = 1; i <= 20; i++)
        await db.raw('INSERT INTO "eh_tx" ("id", "body") VALUES ($1, $2)', [i, `n${i}`]);
    });

    it('never writes or verifies inside it: a rollback undoes nothing the report vouches for', async () => {
      const app = db.dataSource.createQueryRunner();
      await app.startTransaction();
      await app.query('UPDATE "eh_tx" SET "body" = ? WHERE "id" = 20', ['changed in the transaction']);
      const job = encryptExistingRows(db.dataSource, { batchSize: 5 });
      // Let the job run as far as it can while the transaction is open, then roll it back.
      for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
      await app.rollbackTransaction();
      const report = await job;
      expect(report.ok).toBe(true);
      expect(await envelopes()).toBe(20);
      const rows = await db.dataSource.getRepository(Note).find({ order: { id: 'ASC' } });
      expect(rows[19]!.body).toBe('n20');
    });

    it('gives up with ERR_TYPEORM_TRANSACTION_OPEN when the transaction outlasts transactionWaitMs', async () => {
      const app = db.dataSource.createQueryRunner();
      await app.startTransaction();
      try {
        const error = await caught(() => encryptExistingRows(db.dataSource, { transactionWaitMs: 0 }));
        expect(error.code).toBe(TypeOrmErrorCodes.TRANSACTION_OPEN);
      } finally {
        await app.rollbackTransaction();
      }
      expect(await envelopes()).toBe(0);
    });
  });
});
describeWithService('postgres', 'encryption migration hardening on PostgreSQL', () => suite(postgres));
describeWithService('mariadb', 'encryption migration hardening on MariaDB', () => suite(mariadb));

@Entity('eh_nocase')
class Contact {
  @PrimaryColumn({ type: 'integer' })
  id!: number;

  @EncryptedField({ nullable: true })
  email!: string | null;
}

/**
 * The table with a case-insensitive `email`: SQLite `COLLATE NOCASE` (created by hand), MariaDB
 * its default `_ci` collation (created by TypeORM).
 */
async function caseInsensitiveTable(backend: Backend): Promise<EncryptionDb> {
  if (backend !== sqlite) return backend.create([Contact]);
  const db = await sqlite.create([Contact], { synchronize: false });
  await db.raw('CREATE TABLE "eh_nocase" ("id" integer PRIMARY KEY, "email" text COLLATE NOCASE)');
  return db;
}

function caseInsensitiveSuite(backend: Backend) {
  it('a concurrent write that differs only in case is a change: never overwritten with the stale value', async () => {
    const db = await caseInsensitiveTable(backend);
    const ring = await memoryRing();
    try {
      const t = db.t('eh_nocase');
      await db.raw(`INSERT INTO ${t} ("id", "email") VALUES (1, 'Ann@Example.test')`);
      // The column really compares without case.
      expect(await db.raw(`SELECT "id" FROM ${t} WHERE "email" = 'ann@example.test'`)).toHaveLength(1);
      const registration = await registerBulwarkEncryption(db.dataSource, { keyRing: ring });
      // Between the job's read and its UPDATE, the application lower-cases the address.
      const real = db.dataSource.createQueryRunner.bind(db.dataSource);
      let injected = false;
      const spy = jest.spyOn(db.dataSource, 'createQueryRunner').mockImplementation((mode) => {
        const runner = real(mode);
        const query = runner.query.bind(runner);
        runner.query = (async (sql: string, params?: unknown[], structured?: boolean) => {
          if (!injected && sql.startsWith('UPDATE')) {
            injected = true;
            await db.raw(`UPDATE ${t} SET "email" = 'ann@example.test' WHERE "id" = 1`);
          }
          return structured === true ? query(sql, params, true) : query(sql, params);
        }) as typeof runner.query;
        return runner;
      });
      try {
        const report = await encryptExistingRows(db.dataSource);
        expect(injected).toBe(true);
        expect(report.ok).toBe(true);
        expect(report.columns[0]).toMatchObject({ encrypted: 1, conflicts: 1, failed: [] });
      } finally {
        spy.mockRestore();
      }
      const [row] = await db.dataSource.getRepository(Contact).find();
      expect(row!.email).toBe('ann@example.test');
      registration.unregister();
    } finally {
      await db.drop();
      await ring.close();
    }
  });
}

describe('encryptExistingRows compare-and-set under SQLite COLLATE NOCASE', () =>
  caseInsensitiveSuite(sqlite));
describeWithService('mariadb', 'encryptExistingRows compare-and-set under a MariaDB _ci collation', () => {
  caseInsensitiveSuite(mariadb);

  it('a session outside strict mode does not truncate an envelope: ROW_NOT_WRITTEN, plaintext kept', async () => {
    // One pooled connection, put out of strict mode as a lax server default would be.
    const db = await mariadb.create([Contact], { poolSize: 1 } as Partial<DataSourceOptions>);
    const ring = await memoryRing();
    try {
      const t = db.t('eh_nocase');
      await db.raw(`INSERT INTO ${t} ("id", "email") VALUES (1, 'a@x.test'), (2, 'b@x.test')`);
      await db.raw(`ALTER TABLE ${t} MODIFY "email" varchar(40)`);
      await db.dataSource.query("SET SESSION sql_mode = ''");
      const registration = await registerBulwarkEncryption(db.dataSource, { keyRing: ring });
      const report = await encryptExistingRows(db.dataSource);
      expect(report.ok).toBe(false);
      expect(report.columns[0]!.failed).toEqual([
        { id: '[1]', code: TypeOrmErrorCodes.ROW_NOT_WRITTEN },
        { id: '[2]', code: TypeOrmErrorCodes.ROW_NOT_WRITTEN },
      ]);
      expect(await db.raw(`SELECT "email" FROM ${t} ORDER BY "id"`)).toEqual([
        { email: 'a@x.test' },
        { email: 'b@x.test' },
      ]);
      // The session got its own mode back.
      expect(await db.dataSource.query('SELECT @@SESSION.sql_mode AS m')).toEqual([{ m: '' }]);
      registration.unregister();
    } finally {
      await db.drop();
      await ring.close();
    }
  });
});
