/**
 * docs/migrate-from-typeorm-encrypted.md, run: every block marked `<!-- guide-file: NAME -->` is
 * written to a folder inside the repository (so its imports resolve as in an app) and used in the
 * guide's order on a SQLite database that typeorm-encrypted itself filled: the entity before, the
 * entity after, the schema migration, the conversion script, and the CLI config module.
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { EnvKeyProvider, FileKeyStore, KeyRing, envelopeKind, generateMasterKey } from '@bulwark/core';
import {
  findByBlindIndex,
  registerBulwarkEncryption,
  type EncryptExistingRowsReport,
} from '@bulwark/typeorm';
import { DataSource, type MigrationInterface, type ObjectLiteral } from 'typeorm';
import { runCli } from '../packages/cli/src/run-cli';

const ROOT = path.join(__dirname, '..');
const GUIDE = path.join(ROOT, 'docs', 'migrate-from-typeorm-encrypted.md');
const WORK = path.join(__dirname, '.guide-snippets', randomBytes(4).toString('hex'));

function extract(): Map<string, string> {
  const text = fs.readFileSync(GUIDE, 'utf8');
  const files = new Map<string, string>();
  for (const m of text.matchAll(/<!-- guide-file: ([\w.-]+) -->\s*\n```(?:ts|js)\n([\s\S]*?)\n```/g)) {
    files.set(m[1]!, m[2]!);
  }
  return files;
}

const files = extract();
const NAMES = [
  'legacy-customer.entity.ts',
  'customer.entity.ts',
  'adopt-bulwark.migration.ts',
  'migrate-customers.ts',
  'encrypt.config.js',
];

interface Guide {
  LegacyCustomer: new () => ObjectLiteral;
  Customer: new () => ObjectLiteral;
  AdoptBulwark: new () => MigrationInterface;
  migrateCustomers(ds: DataSource, ring: KeyRing): Promise<EncryptExistingRowsReport>;
}

describe('docs/migrate-from-typeorm-encrypted.md', () => {
  let guide: Guide;
  let env: NodeJS.ProcessEnv;
  let dir: string;

  beforeAll(() => {
    fs.mkdirSync(WORK, { recursive: true });
    for (const [name, code] of files) fs.writeFileSync(path.join(WORK, name), code + '\n');
    process.env.TYPEORM_ENCRYPTED_KEY = randomBytes(32).toString('hex');
    guide = {
      LegacyCustomer: require(path.join(WORK, 'legacy-customer.entity')).LegacyCustomer,
      Customer: require(path.join(WORK, 'customer.entity')).Customer,
      AdoptBulwark: require(path.join(WORK, 'adopt-bulwark.migration')).AdoptBulwark1736600000000,
      migrateCustomers: require(path.join(WORK, 'migrate-customers')).migrateCustomers,
    };
  });
  afterAll(() => {
    fs.rmSync(WORK, { recursive: true, force: true });
    if (fs.readdirSync(path.dirname(WORK)).length === 0) fs.rmSync(path.dirname(WORK), { recursive: true });
    delete process.env.TYPEORM_ENCRYPTED_KEY;
  });
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(WORK, 'db-'));
    env = {
      BULWARK_MASTER_KEY: generateMasterKey(),
      DATABASE_PATH: path.join(dir, 'app.sqlite'),
      TYPEORM_ENCRYPTED_KEY: process.env.TYPEORM_ENCRYPTED_KEY,
    };
  });

  const openRing = () =>
    KeyRing.open({
      provider: new EnvKeyProvider({ env }),
      store: new FileKeyStore({ path: path.join(dir, '.bulwark', 'keys.json') }),
    });

  /** Step 1: the app as it is, its rows written through typeorm-encrypted; step 3 applied. */
  async function legacyDatabase(): Promise<void> {
    const before = await new DataSource({
      type: 'better-sqlite3',
      database: env.DATABASE_PATH!,
      entities: [guide.LegacyCustomer],
      synchronize: true,
    }).initialize();
    const repo = before.getRepository(guide.LegacyCustomer);
    for (let i = 1; i <= 12; i++) {
      await repo.save(
        repo.create({
          name: `c${i}`,
          email: `Customer${i}@Shop.test`,
          notes: i % 4 === 0 ? null : `note ${i}`,
        }),
      );
    }
    const [raw] = await before.query('SELECT "email" FROM "customer" WHERE "id" = 1');
    expect(raw.email).not.toContain('Shop'); // typeorm-encrypted ciphertext
    await before.destroy();
    const after = await new DataSource({
      type: 'better-sqlite3',
      database: env.DATABASE_PATH!,
      entities: [guide.Customer],
      migrations: [guide.AdoptBulwark],
    }).initialize();
    await after.runMigrations();
    await after.destroy();
  }

  /** What the application reads afterwards, registered as in step 5. */
  async function readBack(): Promise<void> {
    const ds = await new DataSource({
      type: 'better-sqlite3',
      database: env.DATABASE_PATH!,
      entities: [guide.Customer],
    }).initialize();
    const ring = await openRing();
    const registration = await registerBulwarkEncryption(ds, { keyRing: ring });
    try {
      for (const r of await ds.query('SELECT "email", "notes" FROM "customer"')) {
        expect(envelopeKind(r.email)).toBeDefined();
        if (r.notes !== null) expect(envelopeKind(r.notes)).toBeDefined();
      }
      const repo = ds.getRepository(guide.Customer);
      const all = await repo.find({ order: { id: 'ASC' } });
      expect(all.map((c) => c.email)).toEqual(
        Array.from({ length: 12 }, (_, i) => `Customer${i + 1}@Shop.test`),
      );
      expect(all[3]!.notes).toBeNull();
      expect(all[4]!.notes).toBe('note 5');
      const [found] = await findByBlindIndex(repo, 'emailIndex', ' customer7@shop.TEST');
      expect(found?.id).toBe(7);
      expect(JSON.parse(JSON.stringify(found))).not.toHaveProperty('emailIndex');
      const indexes = await ds.query(
        `SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'customer'`,
      );
      expect(indexes.map((i: { name: string }) => i.name)).toContain('IDX_customer_email_index');
    } finally {
      registration.unregister();
      await ds.destroy();
      await ring.close();
    }
  }

  it('has the blocks the test runs', () => {
    expect([...files.keys()]).toEqual(NAMES);
  });

  it('steps 1-4 with migrateCustomers, then the app reads every value', async () => {
    await legacyDatabase();
    const ds = await new DataSource({
      type: 'better-sqlite3',
      database: env.DATABASE_PATH!,
      entities: [guide.Customer],
    }).initialize();
    const ring = await openRing();
    try {
      const report = await guide.migrateCustomers(ds, ring);
      expect(report.ok).toBe(true);
      expect(report.columns.map((c) => [c.column, c.encrypted])).toEqual([
        ['email', 12],
        ['notes', 9],
      ]);
      expect(report.blindIndexes[0]!.built).toBe(12);
    } finally {
      await ds.destroy();
      await ring.close();
    }
    await readBack();
  });

  it('steps 1-3, then the CLI with the guide config module (dry run, run)', async () => {
    await legacyDatabase();
    const config = path.join(WORK, 'encrypt.config.js');
    let out = '';
    let err = '';
    const cli = (...argv: string[]) =>
      runCli(argv, { stdout: (t) => (out += t), stderr: (t) => (err += t), env, cwd: dir });
    expect(await cli('typeorm', 'encrypt', '--config', config, '--from-typeorm-encrypted', '--dry-run')).toBe(
      0,
    );
    expect(out).toContain('Customer.email: 12 value(s) read, 12 to encrypt');
    expect(await cli('typeorm', 'encrypt', '--config', config, '--from-typeorm-encrypted')).toBe(0);
    expect(err).toBe('');
    expect(out).toContain('Customer.emailIndex (blind index of email): 12 built');
    expect(out).toContain('verification: 12 row(s) read again');
    await readBack();
  });
});
