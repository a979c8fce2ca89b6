import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { AccountLifecycle, ErrorCodes, PasswordHasher } from '@bulwark/core';
import { SERVICE_URLS, describeWithService } from '../../../../test/support/services';
import { bulwarkStoreEntities, bulwarkStoreMigrations } from '../../src/bulwark-stores';
import { TypeOrmAccountStore } from '../../src/typeorm-account-store';

const FAST = { memoryCost: 1024, timeCost: 1, allowWeakParameters: true } as const;

interface Db {
  dataSource: DataSource;
  raw(sql: string, params?: unknown[]): Promise<unknown>;
  table(name: string): string;
  drop(): Promise<void>;
}

async function open(
  options: DataSourceOptions,
  table: (n: string) => string,
  drop: () => Promise<void>,
): Promise<Db> {
  const dataSource = await new DataSource(options).initialize();
  await dataSource.runMigrations();
  return {
    dataSource,
    raw: (sql, params = []) =>
      dataSource.query(options.type === 'postgres' ? sql : sql.replace(/\$\d+/g, '?'), params),
    table,
    async drop() {
      await dataSource.destroy();
      await drop();
    },
  };
}

async function sqlite(): Promise<Db> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bw-accounts-'));
  const options = {
    type: 'better-sqlite3',
    database: path.join(dir, 'accounts.sqlite'),
    entities: bulwarkStoreEntities,
    migrations: bulwarkStoreMigrations,
    logging: false,
  } as DataSourceOptions;
  return open(
    options,
    (n) => `"${n}"`,
    async () => fs.rmSync(dir, { recursive: true, force: true }),
  );
}

async function postgres(): Promise<Db> {
  const schema = `bw_accounts_${randomBytes(6).toString('hex')}`;
  const admin = await new DataSource({ type: 'postgres', url: SERVICE_URLS.postgres }).initialize();
  await admin.query(`CREATE SCHEMA "${schema}"`);
  const options = {
    type: 'postgres',
    url: SERVICE_URLS.postgres,
    schema,
    entities: bulwarkStoreEntities,
    migrations: bulwarkStoreMigrations,
    logging: false,
  } as DataSourceOptions;
  return open(
    options,
    (n) => `"${schema}"."${n}"`,
    async () => {
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await admin.destroy();
    },
  );
}

function suite(name: string, make: () => Promise<Db>): void {
  describe(name, () => {
    let db: Db;
    beforeAll(async () => {
      db = await make();
    });
    afterAll(async () => {
      await db.drop();
    });

    const lifecycle = () =>
      new AccountLifecycle({
        store: new TypeOrmAccountStore(db.dataSource),
        passwords: new PasswordHasher({ ...FAST, policy: { historySize: 2 } }),
      });

    it('keeps the lifecycle state and the password history across instances', async () => {
      await lifecycle().disable('alice', { by: { id: 'admin' }, reason: 'compromised' });
      await expect(lifecycle().assertActive('alice')).rejects.toMatchObject({
        code: ErrorCodes.ACCOUNT_DISABLED,
      });
      await lifecycle().enable('alice', { by: { id: 'admin' } });
      const hasher = new PasswordHasher(FAST);
      const currentHash = await hasher.hashSecret('old harbor password');
      const changed = await lifecycle().changePassword('alice', {
        currentPassword: 'old harbor password',
        currentHash,
        newPassword: 'lantern marble oyster',
      });
      const again = {
        currentPassword: 'lantern marble oyster',
        currentHash: changed,
        newPassword: 'lantern marble oyster',
      };
      await expect(lifecycle().changePassword('alice', again)).rejects.toMatchObject({
        details: { reasons: ['reused'] },
      });
    });

    it('stores the token hashed, and of two instances redeeming one link at once exactly one wins', async () => {
      const { token } = await lifecycle().requestPasswordReset('bob');
      const rows = JSON.stringify(await db.raw(`SELECT * FROM ${db.table('bulwark_password_reset')}`));
      expect(rows).not.toContain(token.split('.')[1]);
      const results = await Promise.allSettled([
        lifecycle().resetPassword(token, 'quiet harbor violet lantern'),
        lifecycle().resetPassword(token, 'velvet canyon whisper moss'),
      ]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
      expect(lost.reason).toMatchObject({ code: ErrorCodes.ACCOUNT_RESET_TOKEN_INVALID });
    });

    it('refuses a row written around it with ERR_ACCOUNT_STORE', async () => {
      await db.raw(`INSERT INTO ${db.table('bulwark_account')} ("user_id", "body") VALUES ($1, $2)`, [
        'mallory',
        JSON.stringify({ userId: 'mallory', disabled: 'no' }),
      ]);
      await expect(lifecycle().assertActive('mallory')).rejects.toMatchObject({
        code: ErrorCodes.ACCOUNT_STORE,
      });
    });
  });
}

suite('TypeOrmAccountStore on SQLite', sqlite);
describeWithService('postgres', 'TypeOrmAccountStore on PostgreSQL (needs PostgreSQL)', () => {
  suite('store', postgres);
});
