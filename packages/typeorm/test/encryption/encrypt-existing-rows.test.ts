import 'reflect-metadata';
import { ClassificationRegistry, envelopeKind, type KeyRing } from '@bulwark/core';
import { Column, Entity, PrimaryColumn, type DataSource, type QueryRunner } from 'typeorm';
import { describeWithService } from '../../../../test/support/services';
import {
  BlindIndex,
  EncryptedField,
  PersonalData,
  TypeOrmErrorCodes,
  encryptExistingRows,
  findByBlindIndex,
  registerBulwarkEncryption,
  type BulwarkEncryption,
  type EncryptProgress,
} from '../../src';
import { caught, mariadb, memoryRing, postgres, sqlite, type Backend, type EncryptionDb } from './support';

// A table the application filled before it encrypted anything: its rows are plaintext.
@Entity('ee_member')
class Member {
  @PrimaryColumn({ type: 'integer' })
  id!: number;

  @Column({ type: 'varchar', length: 40 })
  name!: string;

  @PersonalData()
  @EncryptedField({ nullable: true })
  email!: string | null;

  @BlindIndex({ source: 'email', normalise: ['trim', 'lowercase'] })
  emailIndex!: string | null;

  @EncryptedField({ bindToRow: true, nullable: true })
  bio!: string | null;

  @EncryptedField({ type: 'number', nullable: true })
  score!: number | null;
}

const ROWS = 57;

/**
 * Runs `before(sql, params)` ahead of every statement the DataSource's query runners execute: the
 * moment between the migration's read of a row and its compare-and-set UPDATE, where a running
 * application may write. better-sqlite3 hands out one shared runner, so each runner is wrapped
 * once and restored by the returned function.
 */
function beforeQueries(
  ds: DataSource,
  before: (sql: string, params: unknown[]) => Promise<void>,
): () => void {
  const real = ds.createQueryRunner.bind(ds);
  const wrapped = new Map<QueryRunner, QueryRunner['query']>();
  const spy = jest.spyOn(ds, 'createQueryRunner').mockImplementation((mode) => {
    const runner = real(mode);
    if (!wrapped.has(runner)) {
      wrapped.set(runner, runner.query);
      const query = runner.query.bind(runner);
      runner.query = (async (sql: string, params: unknown[] = [], structured?: boolean) => {
        await before(sql, params);
        return structured === true ? query(sql, params, true) : query(sql, params);
      }) as QueryRunner['query'];
    }
    return runner;
  });
  return () => {
    spy.mockRestore();
    for (const [runner, query] of wrapped) runner.query = query;
  };
}
const email = (i: number) => `Member${i}@Example.test`;

function suite(backend: Backend) {
  let db: EncryptionDb;
  let ds: DataSource;
  let ring: KeyRing;
  let registration: BulwarkEncryption;
  let classification: ClassificationRegistry;

  const table = () => db.t('ee_member');
  const raw = async () =>
    (await db.raw(`SELECT "id", "email", "emailIndex", "bio", "score" FROM ${table()} ORDER BY "id"`)).map(
      (r) => ({ ...r, id: Number(r.id) }) as Record<string, unknown> & { id: number },
    );
  const register = async (plaintextReads: 'accept' | 'refuse') => {
    registration?.unregister();
    classification = new ClassificationRegistry();
    registration = await registerBulwarkEncryption(ds, {
      keyRing: ring,
      plaintextReads,
      classificationRegistry: classification,
    });
  };
  const populate = async () => {
    await db.raw(`DELETE FROM ${table()}`);
    for (let i = 1; i <= ROWS; i++) {
      await db.raw(
        `INSERT INTO ${table()} ("id", "name", "email", "bio", "score") VALUES ($1, $2, $3, $4, $5)`,
        [i, `m${i}`, email(i), i % 5 === 0 ? null : `bio of ${i}`, i % 4 === 0 ? null : String(i * 10)],
      );
    }
  };

  beforeAll(async () => {
    db = await backend.create([Member]);
    ds = db.dataSource;
    ring = await memoryRing();
  });
  afterAll(async () => {
    registration?.unregister();
    await db?.drop();
    await ring?.close();
  });

  it('refuses plaintext by default, and the transitional mode serves it and counts it as evidence', async () => {
    await populate();
    await register('refuse');
    const refused = await caught(() => ds.getRepository(Member).findOneBy({ id: 1 }));
    expect(refused.code).toBe(TypeOrmErrorCodes.PLAINTEXT_IN_ENCRYPTED_COLUMN);

    await register('accept');
    expect(registration.plaintextReadMode).toBe('accept');
    const repo = ds.getRepository(Member);
    const m3 = await repo.findOneByOrFail({ id: 3 });
    expect(m3).toMatchObject({ email: email(3), bio: 'bio of 3', score: 30 });
    const counts = registration.plaintextReads();
    expect(counts.columns).toEqual([
      { entity: 'Member', column: 'bio', count: 1 },
      { entity: 'Member', column: 'email', count: 1 },
      { entity: 'Member', column: 'score', count: 1 },
    ]);
    expect(counts.total).toBe(3);
    // The classified e-mail is now reported as read in clear (the encryption check fails on it).
    expect(classification.get('Member', 'email')).toMatchObject({ encrypted: true, plaintextReads: 1 });
    await repo.find();
    expect(classification.get('Member', 'email')?.plaintextReads).toBe(ROWS + 1);

    // Writes always encrypt, even a save that does not change the value.
    m3.name = 'renamed';
    await repo.save(m3);
    const [stored] = (await raw()).filter((r) => r.id === 3);
    for (const c of ['email', 'bio', 'score'] as const) expect(envelopeKind(stored![c])).toBeDefined();
    await repo.save(repo.create({ id: 1000, name: 'new', email: 'new@x.test', bio: null, score: 1 }));
    const fresh = (await raw()).find((r) => r.id === 1000)!;
    expect(envelopeKind(fresh.email)).toBeDefined();
    await repo.delete({ id: 1000 });

    registration.resetPlaintextReads();
    expect(registration.plaintextReads()).toEqual({ total: 0, columns: [] });
    expect(classification.get('Member', 'email')?.plaintextReads).toBeUndefined();
  });

  it('encrypts every plaintext value in pages, builds the blind index, verifies, and a re-run does nothing', async () => {
    await populate();
    await register('accept');
    const progress: EncryptProgress[] = [];
    const report = await encryptExistingRows(ds, { batchSize: 10, onProgress: (p) => progress.push(p) });
    expect(report.ok).toBe(true);
    expect(report.complete).toBe(true);
    expect(report.rows).toBe(ROWS);
    const byColumn = Object.fromEntries(report.columns.map((c) => [c.column, c]));
    expect(byColumn.email).toMatchObject({
      scanned: ROWS,
      encrypted: ROWS,
      skipped: 0,
      conflicts: 0,
      failed: [],
    });
    const bios = ROWS - Math.floor(ROWS / 5);
    expect(byColumn.bio).toMatchObject({ scanned: bios, encrypted: bios, failed: [] });
    expect(byColumn.score!.encrypted).toBe(ROWS - Math.floor(ROWS / 4));
    expect(report.blindIndexes).toEqual([
      { entity: 'Member', index: 'emailIndex', source: 'email', built: ROWS },
    ]);
    expect(report.verification).toEqual({
      ok: true,
      rows: ROWS,
      plaintext: [],
      unreadable: [],
      indexMismatches: [],
    });
    expect(progress.filter((p) => p.phase === 'encrypt').map((p) => p.rows)).toEqual([
      10, 20, 30, 40, 50, 57,
    ]);
    expect(progress.some((p) => p.phase === 'verify')).toBe(true);

    for (const row of await raw()) {
      expect(envelopeKind(row.email)).toBeDefined();
      expect(String(row.email)).not.toContain('Example');
      expect(row.emailIndex).toMatch(/^[0-9a-f]+$/i);
    }
    // The app's reads are back to refusing plaintext, and every value reads as it was written.
    await register('refuse');
    const repo = ds.getRepository(Member);
    const all = await repo.find({ order: { id: 'ASC' } });
    expect(all).toHaveLength(ROWS);
    expect(all[6]).toMatchObject({ id: 7, email: email(7), bio: 'bio of 7', score: 70 });
    expect(all[4]!.bio).toBeNull();
    const [found] = await findByBlindIndex(repo, 'emailIndex', '  member42@example.TEST ');
    expect(found?.id).toBe(42);

    // Re-run: nothing to do, no value encrypted twice.
    const before = await raw();
    const again = await encryptExistingRows(ds, { entities: [Member] });
    expect(again.ok).toBe(true);
    expect(again.columns.find((c) => c.column === 'email')).toMatchObject({ encrypted: 0, skipped: ROWS });
    expect(await raw()).toEqual(before);
  });

  it('stops on the signal leaving every row plaintext or a whole envelope, and a re-run finishes it', async () => {
    await populate();
    await register('accept');
    const controller = new AbortController();
    const first = await encryptExistingRows(ds, {
      batchSize: 8,
      signal: controller.signal,
      onProgress: (p) => {
        if (p.rows >= 16) controller.abort();
      },
    });
    expect(first.complete).toBe(false);
    expect(first.ok).toBe(false);
    expect(first.verification).toBeUndefined();
    const mid = await raw();
    const done = mid.filter((r) => envelopeKind(r.email) !== undefined);
    expect(done.map((r) => r.id)).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));
    for (const r of mid) {
      // a row is converted as a whole or not at all
      const kinds = [r.email, r.bio, r.score]
        .filter((v) => v !== null)
        .map((v) => envelopeKind(v) !== undefined);
      expect(new Set(kinds).size).toBe(1);
      if (!kinds[0]) expect(r).toMatchObject({ email: email(r.id), emailIndex: null });
    }
    // Reads in the transitional mode see both kinds of rows.
    const repo = ds.getRepository(Member);
    expect((await repo.find({ order: { id: 'ASC' } })).map((m) => m.email)).toEqual(
      Array.from({ length: ROWS }, (_, i) => email(i + 1)),
    );

    const second = await encryptExistingRows(ds, { batchSize: 8 });
    expect(second.ok).toBe(true);
    expect(second.columns.find((c) => c.column === 'email')).toMatchObject({
      skipped: 16,
      encrypted: ROWS - 16,
    });
    await register('refuse');
    expect((await repo.find({ order: { id: 'ASC' } })).map((m) => m.email)).toEqual(
      Array.from({ length: ROWS }, (_, i) => email(i + 1)),
    );
  });

  it('loses no write of the running application: a row changed between read and write is re-read (compare-and-set)', async () => {
    await populate();
    await register('accept');
    // The app rewrites row 5 in clear (an old instance, raw SQL) right after the migration read its
    // page and before the migration's UPDATE of that row.
    let injected = false;
    const restore = beforeQueries(ds, async (sql, params) => {
      if (!injected && sql.startsWith('UPDATE') && params.includes(email(5))) {
        injected = true;
        await db.raw(`UPDATE ${table()} SET "email" = $1 WHERE "id" = 5`, ['Changed5@Example.test']);
      }
    });
    let report;
    try {
      report = await encryptExistingRows(ds, { batchSize: 20 });
    } finally {
      restore();
    }
    expect(injected).toBe(true);
    expect(report.ok).toBe(true);
    expect(report.columns.find((c) => c.column === 'email')).toMatchObject({ conflicts: 1, encrypted: ROWS });
    await register('refuse');
    const repo = ds.getRepository(Member);
    const m5 = await repo.findOneByOrFail({ id: 5 });
    expect(m5.email).toBe('Changed5@Example.test'); // the app's write, encrypted; not the stale value
    const [viaIndex] = await findByBlindIndex(repo, 'emailIndex', 'changed5@example.test');
    expect(viaIndex?.id).toBe(5);
  });

  it('gives up on a row the application rewrites before every attempt, reporting it (ERR_TYPEORM_CONCURRENT_UPDATE)', async () => {
    await populate();
    await register('accept');
    let rewrites = 0;
    let rewriting = false;
    const restore = beforeQueries(ds, async (sql, params) => {
      // (on SQLite the app's write runs on this same connection: not intercepted again)
      if (rewriting || !sql.startsWith('UPDATE')) return;
      if (!params.some((p) => p === email(7) || String(p).startsWith('busy7.'))) return;
      rewriting = true;
      rewrites += 1;
      try {
        await db.raw(`UPDATE ${table()} SET "email" = $1 WHERE "id" = 7`, [`busy7.${rewrites}@x.test`]);
      } finally {
        rewriting = false;
      }
    });
    let report;
    try {
      report = await encryptExistingRows(ds, { batchSize: 20 });
    } finally {
      restore();
    }
    expect(rewrites).toBe(5);
    const emailReport = report.columns.find((c) => c.column === 'email')!;
    expect(emailReport).toMatchObject({ conflicts: 5, encrypted: ROWS - 1 });
    expect(emailReport.failed).toEqual([{ id: '[7]', code: TypeOrmErrorCodes.CONCURRENT_UPDATE }]);
    expect(report.ok).toBe(false);
    // the row is converted as a whole or not at all: its other columns stayed as they were too
    expect(report.verification?.plaintext).toEqual([
      { entity: 'Member', column: 'email', id: '[7]' },
      { entity: 'Member', column: 'bio', id: '[7]' },
      { entity: 'Member', column: 'score', id: '[7]' },
    ]);
    // the next run converts it
    expect((await encryptExistingRows(ds)).ok).toBe(true);
  });

  it('runs while the application writes through the ORM, and every row ends with its last written value', async () => {
    await populate();
    await register('accept');
    const repo = ds.getRepository(Member);
    const last = new Map<number, string>();
    const writer = (async () => {
      for (let round = 0; round < 3; round++) {
        for (let id = 1; id <= ROWS; id += 3) {
          const m = await repo.findOneByOrFail({ id });
          m.email = `r${round}.${id}@app.test`;
          await repo.save(m);
          last.set(id, m.email);
        }
      }
    })();
    const [report] = await Promise.all([encryptExistingRows(ds, { batchSize: 5 }), writer]);
    expect(report.ok).toBe(true);
    await register('refuse');
    for (const m of await repo.find()) expect(m.email).toBe(last.get(m.id) ?? email(m.id));
  });

  it('reports rows it cannot convert and verification finds tampered rows (ids, never values)', async () => {
    await populate();
    await register('accept');
    await db.raw(`UPDATE ${table()} SET "score" = $1 WHERE "id" = 2`, ['not a number']);
    const report = await encryptExistingRows(ds, { batchSize: 25 });
    expect(report.ok).toBe(false);
    expect(report.columns.find((c) => c.column === 'score')!.failed).toEqual([
      { id: '[2]', code: TypeOrmErrorCodes.INVALID_VALUE },
    ]);
    expect(report.verification?.plaintext).toEqual([{ entity: 'Member', column: 'score', id: '[2]' }]);
    expect(JSON.stringify(report)).not.toContain('not a number');
    expect(JSON.stringify(report)).not.toContain('Example');

    // Tampering after the migration: a row-bound value copied into another row, a wrong index.
    await db.raw(`UPDATE ${table()} SET "score" = NULL WHERE "id" = 2`);
    const [r1] = await db.raw(`SELECT "bio" FROM ${table()} WHERE "id" = 1`);
    await db.raw(`UPDATE ${table()} SET "bio" = $1 WHERE "id" = 3`, [r1!.bio]);
    const [r8] = await db.raw(`SELECT "emailIndex" FROM ${table()} WHERE "id" = 8`);
    await db.raw(`UPDATE ${table()} SET "emailIndex" = $1 WHERE "id" = 9`, [r8!.emailIndex]);
    const check = await encryptExistingRows(ds, {});
    expect(check.ok).toBe(false);
    expect(check.verification).toMatchObject({
      ok: false,
      plaintext: [],
      unreadable: [
        { entity: 'Member', column: 'bio', id: '[3]', code: expect.stringMatching(/^ERR_CRYPTO_/) },
      ],
      indexMismatches: [{ entity: 'Member', index: 'emailIndex', id: '[9]' }],
    });
  });

  it('dry run counts and writes nothing; bad options are typed errors', async () => {
    await populate();
    await register('accept');
    const before = await raw();
    const dry = await encryptExistingRows(ds, { dryRun: true });
    expect(dry).toMatchObject({ ok: true, dryRun: true, rows: ROWS });
    expect(dry.columns.find((c) => c.column === 'email')!.encrypted).toBe(ROWS);
    expect(dry.verification).toBeUndefined();
    expect(await raw()).toEqual(before);
    expect((await caught(() => encryptExistingRows(ds, { batchSize: 0 }))).code).toBe('ERR_CONFIG_INVALID');
    expect((await caught(() => encryptExistingRows(ds, { entities: ['Nope'] }))).code).toBe(
      'ERR_CONFIG_INVALID',
    );
    registration.unregister();
    expect((await caught(() => encryptExistingRows(ds))).code).toBe('ERR_CONFIG_INVALID');
  });
}

describeWithService(
  'postgres',
  'encryptExistingRows: a column the database cannot fit an envelope in',
  () => {
    let db: EncryptionDb;
    let ring: KeyRing;
    let registration: BulwarkEncryption;
    afterAll(async () => {
      registration?.unregister();
      await db?.drop();
      await ring?.close();
    });

    it('reports ERR_TYPEORM_ROW_NOT_WRITTEN by id and leaves the row as it was (still varchar(40))', async () => {
      db = await postgres.create([Member]);
      ring = await memoryRing();
      registration = await registerBulwarkEncryption(db.dataSource, {
        keyRing: ring,
        plaintextReads: 'accept',
      });
      await db.raw(
        `INSERT INTO ${db.t('ee_member')} ("id", "name", "email") VALUES (1, 'a', 'a@x.test'), (2, 'b', 'b@x.test')`,
      );
      // The column was not changed to text before encrypting (step 1 of the recipe skipped).
      await db.raw(`ALTER TABLE ${db.t('ee_member')} ALTER COLUMN "email" TYPE varchar(40)`);
      const report = await encryptExistingRows(db.dataSource);
      expect(report.ok).toBe(false);
      expect(report.columns.find((c) => c.column === 'email')!.failed).toEqual([
        { id: '[1]', code: TypeOrmErrorCodes.ROW_NOT_WRITTEN },
        { id: '[2]', code: TypeOrmErrorCodes.ROW_NOT_WRITTEN },
      ]);
      expect(report.verification?.plaintext).toHaveLength(2);
      const rows = await db.raw(`SELECT "email", "emailIndex" FROM ${db.t('ee_member')} ORDER BY "id"`);
      expect(rows).toEqual([
        { email: 'a@x.test', emailIndex: null },
        { email: 'b@x.test', emailIndex: null },
      ]);
    });
  },
);

describe('encryptExistingRows on SQLite', () => suite(sqlite));
describeWithService('postgres', 'encryptExistingRows on PostgreSQL', () => suite(postgres));
describeWithService('mariadb', 'encryptExistingRows on MariaDB', () => suite(mariadb));
