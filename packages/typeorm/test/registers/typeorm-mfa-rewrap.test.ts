import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHmac, randomBytes } from 'node:crypto';
import { DataSource, type DataSourceOptions } from 'typeorm';
import {
  EnvKeyProvider,
  ErrorCodes,
  KeyRing,
  MemoryKeyStore,
  TotpFactor,
  generateMasterKey,
} from '@bulwark/core';
import { SERVICE_URLS, describeWithService } from '../../../../test/support/services';
import { bulwarkStoreEntities, bulwarkStoreMigrations } from '../../src/bulwark-stores';
import { TypeOrmMfaStore } from '../../src/typeorm-mfa-store';

interface Db {
  dataSource: DataSource;
  drop(): Promise<void>;
}

async function sqlite(): Promise<Db> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bw-mfa-rewrap-'));
  const dataSource = await new DataSource({
    type: 'better-sqlite3',
    database: path.join(dir, 'mfa.sqlite'),
    entities: bulwarkStoreEntities,
    migrations: bulwarkStoreMigrations,
    logging: false,
  } as DataSourceOptions).initialize();
  await dataSource.runMigrations();
  return {
    dataSource,
    async drop() {
      if (dataSource.isInitialized) await dataSource.destroy();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function postgres(): Promise<Db> {
  const url = SERVICE_URLS.postgres;
  const schema = `bw_mfa_rewrap_${randomBytes(6).toString('hex')}`;
  const admin = await new DataSource({ type: 'postgres', url }).initialize();
  await admin.query(`CREATE SCHEMA "${schema}"`);
  const dataSource = await new DataSource({
    type: 'postgres',
    url,
    schema,
    entities: bulwarkStoreEntities,
    migrations: bulwarkStoreMigrations,
    logging: false,
  } as DataSourceOptions).initialize();
  await dataSource.runMigrations();
  return {
    dataSource,
    async drop() {
      if (dataSource.isInitialized) await dataSource.destroy();
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await admin.destroy();
    },
  };
}

const T0 = Date.parse('2025-06-02T10:00:00.000Z');
/** The authenticator app: RFC 4648 base32, RFC 6238 TOTP (SHA-1, 6 digits, 30 s). */
function codeAt(secret: string, ms: number): string {
  let bits = '';
  for (const c of secret.replace(/=+$/, '')) {
    bits += 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'.indexOf(c).toString(2).padStart(5, '0');
  }
  const key = Buffer.from(bits.match(/.{8}/g)!.map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(ms / 30_000)));
  const mac = createHmac('sha1', key).update(counter).digest();
  const offset = mac[mac.length - 1]! & 0xf;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

function suite(create: () => Promise<Db>) {
  let db: Db;
  beforeAll(async () => {
    db = await create();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('enrol, rotate the key, rewrap, retire the old version: TOTP still verifies', async () => {
    let now = T0;
    const clock = () => new Date(now);
    const ring = await KeyRing.open({
      provider: new EnvKeyProvider({ env: { BULWARK_MASTER_KEY: generateMasterKey() } }),
      store: new MemoryKeyStore(),
      refreshIntervalMs: 0,
    });
    const store = new TypeOrmMfaStore(db.dataSource);
    const totp = new TotpFactor({ store, issuer: 'ACME', keyRing: ring, clock });
    const secrets: string[] = [];
    for (let i = 0; i < 5; i++) {
      const { secret } = await totp.enroll(`user-${i}`, { label: `user-${i}` });
      await totp.confirm(`user-${i}`, codeAt(secret, now));
      secrets.push(secret);
    }
    await ring.rotate('mfa');
    expect(await totp.rewrapSecrets({ batchSize: 2 })).toEqual({
      processed: 5,
      rewrapped: 5,
      skipped: 0,
      failed: [],
    });
    const stale = (await store.getTotp('user-0'))!.secret;
    expect(stale).toMatch(/^bw2\.mfa\.2\./);
    // The compare-and-swap refuses a stale expectation and never stores a plaintext secret.
    expect(await store.replaceTotpSecret('user-0', 'bw1.mfa.1.x.y', stale)).toBe(false);
    await expect(store.replaceTotpSecret('user-0', stale, 'JBSWY3DPEHPK3PXP')).rejects.toMatchObject({
      code: ErrorCodes.MFA_STORE,
    });
    await ring.retire('mfa', 2);
    await expect(totp.verify('user-0', codeAt(secrets[0]!, now))).rejects.toMatchObject({
      code: ErrorCodes.MFA_REPLAY,
    });
    now += 60_000;
    for (let i = 0; i < 5; i++) {
      await expect(totp.verify(`user-${i}`, codeAt(secrets[i]!, now))).resolves.toMatchObject({
        method: 'totp',
      });
    }
    await ring.close();
  });
}

describe('TypeOrmMfaStore secret rewrap on SQLite', () => suite(sqlite));
describeWithService('postgres', 'TypeOrmMfaStore secret rewrap on PostgreSQL', () => suite(postgres));
