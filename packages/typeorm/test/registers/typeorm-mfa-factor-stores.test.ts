import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { ErrorCodes, OtpFactor, type OtpMessage } from '@bulwark/core';
import { WebAuthnFactor } from '@bulwark/core/webauthn';
import { SERVICE_URLS, describeWithService } from '../../../../test/support/services';
import { SoftAuthenticator } from '../../../core/test/mfa/soft-authenticator';
import { bulwarkStoreEntities, bulwarkStoreMigrations } from '../../src/bulwark-stores';
import { TypeOrmOtpStore } from '../../src/typeorm-otp-store';
import { TypeOrmWebAuthnStore } from '../../src/typeorm-webauthn-store';

interface Db {
  dataSource: DataSource;
  drop(): Promise<void>;
}

const ORIGIN = 'https://clinic.example';

async function open(options: DataSourceOptions): Promise<DataSource> {
  const dataSource = await new DataSource({
    ...options,
    entities: bulwarkStoreEntities,
    migrations: bulwarkStoreMigrations,
    logging: false,
  } as DataSourceOptions).initialize();
  await dataSource.runMigrations();
  return dataSource;
}

async function sqlite(): Promise<Db> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bw-webauthn-'));
  const dataSource = await open({ type: 'better-sqlite3', database: path.join(dir, 'w.sqlite') });
  return {
    dataSource,
    async drop() {
      await dataSource.destroy();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function postgres(): Promise<Db> {
  const url = SERVICE_URLS.postgres;
  const schema = `bw_webauthn_${randomBytes(6).toString('hex')}`;
  const admin = await new DataSource({ type: 'postgres', url }).initialize();
  await admin.query(`CREATE SCHEMA "${schema}"`);
  const dataSource = await open({ type: 'postgres', url, schema });
  return {
    dataSource,
    async drop() {
      await dataSource.destroy();
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await admin.destroy();
    },
  };
}

function suite(create: () => Promise<Db>) {
  let db: Db;
  beforeAll(async () => {
    db = await create();
  });
  afterAll(async () => {
    await db?.drop();
  });

  const factorOn = (store: TypeOrmWebAuthnStore) =>
    new WebAuthnFactor({ store, rpId: 'clinic.example', rpName: 'Clinic', origins: [ORIGIN] });

  it('runs registration and sign-in on the database, refusing a replay and a cloned authenticator', async () => {
    const store = new TypeOrmWebAuthnStore(db.dataSource);
    const factor = factorOn(store);
    const device = new SoftAuthenticator(ORIGIN);
    const creation = await factor.registrationOptions({ id: 'u1', name: 'grey' });
    const { credentialId } = await factor.verifyRegistration('u1', device.create(creation) as never);
    const stored = await store.getCredential(credentialId);
    expect(stored).toMatchObject({
      userId: 'u1',
      counter: 0,
      deviceType: 'singleDevice',
      transports: ['internal'],
    });
    expect((await store.listCredentials('u1')).map((c) => c.id)).toEqual([credentialId]);

    const assertion = device.get(await factor.authenticationOptions());
    await expect(factor.verifyAuthentication(assertion as never)).resolves.toMatchObject({ userId: 'u1' });
    await expect(factor.verifyAuthentication(assertion as never)).rejects.toMatchObject({
      code: ErrorCodes.MFA_WEBAUTHN_INVALID,
    });
    const clone = device.get(await factor.authenticationOptions(), { counter: 1 });
    await expect(factor.verifyAuthentication(clone as never)).rejects.toMatchObject({
      code: ErrorCodes.MFA_WEBAUTHN_COUNTER,
    });
    expect((await store.getCredential(credentialId))?.counter).toBe(1);
  });

  it('gives a challenge to one of two instances, and the counter to one of two racing updates', async () => {
    const a = new TypeOrmWebAuthnStore(db.dataSource);
    const b = new TypeOrmWebAuthnStore(db.dataSource);
    await a.putChallenge('c'.repeat(43), { purpose: 'authentication', expiresAt: Date.now() + 60_000 });
    const taken = await Promise.all([a.takeChallenge('c'.repeat(43)), b.takeChallenge('c'.repeat(43))]);
    expect(taken.filter((t) => t !== undefined)).toEqual([
      { purpose: 'authentication', expiresAt: expect.any(Number) },
    ]);

    const credential = {
      id: 'cred-race-0000000000',
      userId: 'u2',
      userHandle: 'h'.repeat(43),
      publicKey: 'pk',
      counter: 5,
      deviceType: 'multiDevice' as const,
      backedUp: true,
      createdAt: new Date().toISOString(),
    };
    expect(await a.addCredential(credential)).toBe(true);
    expect(await b.addCredential({ ...credential, userId: 'attacker' })).toBe(false);
    const won = await Promise.all([
      a.updateCounter(credential.id, 5, 6, new Date().toISOString()),
      b.updateCounter(credential.id, 5, 6, new Date().toISOString()),
    ]);
    expect(won.filter(Boolean)).toHaveLength(1);
    expect(await b.deleteCredential('attacker', credential.id)).toBe(false);
    expect(await a.deleteCredential('u2', credential.id)).toBe(true);
  });

  it('sweeps expired challenges as new ones are stored', async () => {
    let now = 1_000_000;
    const store = new TypeOrmWebAuthnStore(db.dataSource, { now: () => now });
    await store.putChallenge('old'.padEnd(43, 'x'), {
      purpose: 'registration',
      userId: 'u',
      expiresAt: now + 10,
    });
    now += 20;
    await store.putChallenge('new'.padEnd(43, 'x'), {
      purpose: 'registration',
      userId: 'u',
      expiresAt: now + 10,
    });
    expect(await store.takeChallenge('old'.padEnd(43, 'x'))).toBeUndefined();
    expect(await store.takeChallenge('new'.padEnd(43, 'x'))).toMatchObject({ userId: 'u' });
  });

  it('TypeOrmOtpStore: a code sent by one instance is verified once by another, attempts counted across both', async () => {
    const outbox: OtpMessage[] = [];
    const hashKey = randomBytes(32);
    const factor = () =>
      new OtpFactor({
        channel: 'sms',
        store: new TypeOrmOtpStore(db.dataSource),
        transport: { send: async (m) => void outbox.push(m) },
        hashKey,
        maxAttempts: 3,
      });
    const [a, b] = [factor(), factor()];
    const first = await a.send('u9', '+15550100');
    const code = outbox[0]!.code;
    const stored = await new TypeOrmOtpStore(db.dataSource).getCode('u9');
    expect(stored).toMatchObject({ channel: 'sms', attempts: 0 });
    expect(JSON.stringify(stored)).not.toContain(code);
    const wrong = String((Number(code) + 1) % 1_000_000).padStart(6, '0');
    await expect(a.verify('u9', first.challenge, wrong)).rejects.toMatchObject({
      code: ErrorCodes.MFA_INVALID_CODE,
    });
    const both = await Promise.allSettled([
      a.verify('u9', first.challenge, code),
      b.verify('u9', first.challenge, code),
    ]);
    expect(both.filter((r) => r.status === 'fulfilled')).toHaveLength(1);

    const { challenge } = await b.send('u9', '+15550100');
    const next = outbox[1]!.code;
    for (let i = 0; i < 3; i++) {
      await expect(
        (i % 2 ? a : b).verify('u9', challenge, String((Number(next) + 1) % 1_000_000).padStart(6, '0')),
      ).rejects.toMatchObject({
        code: ErrorCodes.MFA_INVALID_CODE,
      });
    }
    // the limit holds across instances: the right code no longer works
    await expect(a.verify('u9', challenge, next)).rejects.toMatchObject({
      code: ErrorCodes.MFA_INVALID_CODE,
    });
  });
}

describe('TypeOrmWebAuthnStore and TypeOrmOtpStore on SQLite', () => suite(sqlite));
describeWithService('postgres', 'TypeOrmWebAuthnStore and TypeOrmOtpStore on PostgreSQL', () =>
  suite(postgres),
);
