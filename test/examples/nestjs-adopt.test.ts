/**
 * examples/nestjs-adopt end to end: an existing NestJS + TypeORM app (its own `Token` JWTs, its
 * own `{ errors: { field: [...] } }` shape) on a populated SQLite database. Its API collection
 * (examples/nestjs-adopt/api/collection.json) runs against the app as found; then Bulwark is
 * adopted: the encryption migration runs on the populated database and the app restarts in mode
 * `after`; the SAME collection must give the same results. Then: the audit chain verifies and
 * holds the writes, no e-mail or bio is left in clear in the database file, the app's error
 * shape is intact, and the duplicate-e-mail check goes through the blind index and confirms.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import request from 'supertest';
import { blindIndex } from '@bulwark/typeorm';
import { createAdoptApp, type AdoptApp } from '../../examples/nestjs-adopt/src/app';
import { adoptDatabase } from '../../examples/nestjs-adopt/src/adopt/adopt-database';
import {
  loadCollection,
  runCollection,
  type CollectionResult,
} from '../../examples/nestjs-adopt/src/api-collection';
import { bulkBio, bulkEmail, SEED_USERS, seedDatabase } from '../../examples/nestjs-adopt/src/seed';
import { SecuredUser } from '../../examples/nestjs-adopt/src/users/user.secured-entity';

const BULK = 120;

/** Every plaintext e-mail and bio the seed wrote. */
const seededSecrets = (): string[] => [
  ...SEED_USERS.flatMap((u) => [u.email, ...(u.bio !== null ? [u.bio] : [])]),
  ...Array.from({ length: BULK }, (_, i) => [bulkEmail(i + 1), bulkBio(i + 1)]).flat(),
];

describe('nestjs-adopt: adopting Bulwark in a live app with data', () => {
  let dir: string;
  let app: AdoptApp | undefined;
  let before: CollectionResult[];
  let after: CollectionResult[];

  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bulwark-nestjs-adopt-'));
    await seedDatabase(dir, { bulkUsers: BULK });
  });

  afterAll(async () => {
    await app?.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('passes its own API collection as found (mode before), with plaintext in the database', async () => {
    app = await createAdoptApp({ mode: 'before', dataDir: dir, logger: false });
    try {
      before = await runCollection(app.url, 'b4');
      expect(before.filter((r) => r.problems.length > 0)).toEqual([]);
      expect(before).toHaveLength(loadCollection().length);
      const [ann] = await app.dataSource.query(`SELECT "email", "bio" FROM "users" WHERE "username" = 'ann'`);
      expect(ann).toEqual({ email: 'ann.archer@example.com', bio: 'Ann writes about archery and old maps.' });
      // The file scan of the plaintext check below does see plaintext when it is there.
      const bytes = await fs.readFile(path.join(dir, 'app.sqlite'));
      expect(bytes.includes(Buffer.from('ann.archer@example.com'))).toBe(true);
      expect(bytes.includes(Buffer.from(bulkBio(7)))).toBe(true);
    } finally {
      await app.close();
      app = undefined;
    }
  });

  it('encrypts the populated database in place, in batches, and verifies it', async () => {
    const progress: unknown[] = [];
    const report = await adoptDatabase(dir, { batchSize: 25, onProgress: (p) => progress.push(p) });
    expect(progress.length).toBeGreaterThan(1);
    expect(report).toMatchObject({ ok: true, complete: true, dryRun: false });
    expect(report.verification).toBeDefined();
    // Every user row: the seed's, the bulk ones, and the one the first collection run registered.
    const users = SEED_USERS.length + BULK + 1;
    const column = (r: typeof report, name: string) => r.columns.find((c) => c.column === name);
    expect(column(report, 'email')).toMatchObject({ scanned: users, encrypted: users, failed: [] });
    expect(column(report, 'bio')).toMatchObject({ scanned: users - 1, encrypted: users - 1, failed: [] }); // cleo has none
    // Resumable / idempotent: a second run finds nothing left to encrypt.
    const rerun = await adoptDatabase(dir, { batchSize: 25 });
    expect(rerun.ok).toBe(true);
    expect(column(rerun, 'email')).toMatchObject({ encrypted: 0, skipped: users });
  });

  it('passes the SAME collection after adopting Bulwark (mode after), with the same answers', async () => {
    app = await createAdoptApp({ mode: 'after', dataDir: dir, logger: false });
    after = await runCollection(app.url, 'aft');
    expect(after.filter((r) => r.problems.length > 0)).toEqual([]);
    const requests = loadCollection();
    expect(after.map((r) => r.status)).toEqual(before.map((r) => r.status));
    requests.forEach((r, i) => {
      // The handler's answers are the same bytes-for-shape (run ids and tokens normalised); refusals
      // before the handler (no token, not the owner) are Bulwark's problem+json now.
      if (r.refusal) expect(after[i]!.contentType).toMatch(/^application\/problem\+json/);
      else expect({ name: r.name, body: after[i]!.body }).toEqual({ name: r.name, body: before[i]!.body });
    });
  });

  it('leaves no e-mail or bio in clear in the database file', async () => {
    const rows: { email: string; bio: string | null; emailIndex: string }[] = await app!.dataSource.query(
      'SELECT "email", "bio", "emailIndex" FROM "users"',
    );
    expect(rows.length).toBe(SEED_USERS.length + BULK + 1 + 1); // + the users each run registered
    for (const row of rows) {
      expect(row.email).toMatch(/^bw2\.users\.1\./);
      if (row.bio !== null) expect(row.bio).toMatch(/^bw2\.users\.1\./);
      expect(row.emailIndex).toMatch(/^[0-9a-f]+$/);
    }
    const files = (await fs.readdir(dir)).filter((f) => f.startsWith('app.sqlite'));
    expect(files).toEqual(['app.sqlite']); // no journal or WAL file holding old pages
    const bytes = await fs.readFile(path.join(dir, 'app.sqlite'));
    for (const secret of [
      ...seededSecrets(),
      'new-b4@example.com',
      'renamed-b4@example.com',
      'Settled in.',
    ]) {
      expect({ secret, found: bytes.includes(Buffer.from(secret)) }).toEqual({ secret, found: false });
    }
    // The username (not personal data here) is still in clear: the scan does find what is there.
    expect(bytes.includes(Buffer.from('member77'))).toBe(true);
  });

  it("keeps the app's own error shape on validation errors (not problem+json)", async () => {
    const res = await request(app!.url)
      .post('/users')
      .send({ user: { username: 'x y', email: 'nope', password: 'short' } })
      .expect(422);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.body).toEqual({
      errors: {
        username: ['is invalid (letters, digits, - and _)'],
        email: ['is invalid'],
        password: ['is too short (minimum is 8 characters)'],
      },
    });
  });

  it('audits the writes in a chain that verifies', async () => {
    const log = app!.bulwark!.auditLog!;
    await log.flush();
    const report = await log.verify();
    expect(report).toMatchObject({ ok: true });
    const { entries } = await log.query({ limit: 1000 });
    // verify() records its own run as one more entry (audit.verified) after the ones it checked.
    expect(entries.at(-1)).toMatchObject({ action: 'audit.verified', outcome: 'success' });
    expect(report.checkedEntries).toBe(entries.length - 1);
    const actions = entries.map((e) => `${e.action}:${e.outcome}`);
    for (const expected of [
      'user.login:success',
      'user.register:success',
      'user.register:failure',
      'user.update:success',
      'article.create:success',
      'article.update:success',
      'article.update:denied',
      'article.delete:success',
      'article.delete:denied',
    ]) {
      expect(actions).toContain(expected);
    }
    // The read of one's own record is audited; public reads are not (no audit.allRequests).
    expect(actions).toContain('user.read:success');
    expect(entries.some((e) => e.action?.startsWith('http.'))).toBe(false);
    // No e-mail of the collection in any audit entry.
    expect(JSON.stringify(entries)).not.toMatch(/@example\.(com|org|net)/);
  });

  it('checks duplicate e-mails through the blind index, confirming every candidate', async () => {
    const taken = await request(app!.url)
      .post('/users')
      .send({ user: { username: 'ann2', email: '  Ann.ARCHER@example.com', password: 'password-123' } })
      .expect(422);
    expect(taken.body).toEqual({ errors: { email: ['has already been taken'] } });

    // A truncated blind index can collide. Give cleo's row the index of a new address (what a
    // collision looks like in the table): the lookup finds cleo's row, decrypts it, sees another
    // address and drops it, so the new address is free and cleo still signs in by her own.
    const fresh = 'collides@example.com';
    await app!.dataSource.query(`UPDATE "users" SET "emailIndex" = ? WHERE "username" = 'cleo'`, [
      blindIndex(SecuredUser, 'emailIndex', fresh),
    ]);
    await request(app!.url)
      .post('/users')
      .send({ user: { username: 'collider', email: fresh, password: 'password-123' } })
      .expect(201);
    const loginAs = (email: string, password: string) =>
      request(app!.url).post('/users/login').send({ user: { email, password } });
    expect((await loginAs(fresh, 'password-123').expect(200)).body.user.username).toBe('collider');
    // cleo's index now points at the other address: her own no longer finds her (no false match either).
    await loginAs('cleo@example.net', 'cleo-password-1').expect(422);
  });
});
