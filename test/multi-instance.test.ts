/**
 * Two application instances (two Node processes) on one PostgreSQL database through
 * `createBulwark({ stores: bulwarkStores(dataSource) })`: every register written on one is read
 * on the other, and after both are killed (SIGKILL: no shutdown hook runs) a third finds
 * everything. Runs the BUILT packages (`npm run build` first). See docs/multi-instance.md.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { DataSource } from 'typeorm';
import { bulwarkStoreMigrations } from '@bulwark/typeorm';
import { generateMasterKey } from '@bulwark/core';
import { describeWithService, SERVICE_URLS } from './support/services';

const WORKER = path.join(__dirname, 'support', 'multi-instance-worker.js');
const DIST = path.resolve(__dirname, '..', 'packages', 'typeorm', 'dist', 'bulwark-stores.js');

interface Instance {
  child: ChildProcess;
  call<T = Record<string, unknown>>(msg: Record<string, unknown>): Promise<T>;
  kill(): Promise<void>;
}

async function admin(sql: string): Promise<void> {
  const ds = await new DataSource({ type: 'postgres', url: SERVICE_URLS.postgres }).initialize();
  try {
    await ds.query(sql);
  } finally {
    await ds.destroy();
  }
}

function start(env: Record<string, string>): Promise<Instance> {
  const child = fork(WORKER, [], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let next = 0;
  const waiting = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      const err = new Error(`instance exited (${code ?? signal})`);
      for (const w of waiting.values()) w.reject(err);
      reject(err);
    });
    child.on(
      'message',
      (msg: {
        ready?: boolean;
        fatal?: unknown;
        id?: number;
        result?: unknown;
        error?: { code?: string; message: string };
      }) => {
        if (msg.fatal !== undefined)
          return reject(new Error(`instance failed to start: ${JSON.stringify(msg.fatal)}`));
        if (msg.ready) {
          return resolve({
            child,
            call: (m) =>
              new Promise((res, rej) => {
                const id = ++next;
                waiting.set(id, { resolve: res as (v: unknown) => void, reject: rej });
                child.send({ ...m, id });
              }),
            kill: () =>
              new Promise((done) => {
                if (child.exitCode !== null || child.signalCode !== null) return done();
                child.once('exit', () => done());
                child.kill('SIGKILL');
              }),
          });
        }
        const w = waiting.get(msg.id!);
        waiting.delete(msg.id!);
        if (msg.error) w?.reject(Object.assign(new Error(msg.error.message), { code: msg.error.code }));
        else w?.resolve(msg.result);
      },
    );
  });
}

describeWithService('postgres', 'every register shared by instances on one PostgreSQL database', () => {
  const dbName = `bw_multi_${randomBytes(6).toString('hex')}`;
  const url = new URL(SERVICE_URLS.postgres);
  url.pathname = `/${dbName}`;
  const env = {
    MI_DB_URL: url.toString(),
    BULWARK_MASTER_KEY: generateMasterKey(),
    MI_HMAC_KEY: randomBytes(32).toString('hex'),
  };
  const instances: Instance[] = [];

  beforeAll(async () => {
    if (!existsSync(DIST)) {
      throw new Error(`${DIST} is missing: this suite runs the BUILT packages; run \`npm run build\` first`);
    }
    await admin(`CREATE DATABASE ${dbName}`);
    const ds = await new DataSource({
      type: 'postgres',
      url: env.MI_DB_URL,
      migrations: bulwarkStoreMigrations,
    }).initialize();
    await ds.runMigrations();
    await ds.destroy();
  }, 60_000);

  afterAll(async () => {
    await Promise.all(instances.map((i) => i.kill()));
    await admin(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  });

  it('writes on one instance are read on the other; a third instance after both are killed loses nothing', async () => {
    // Two instances start at once with the same configuration: the configured processors,
    // activities and rules are seeded by both without a duplicate or an error.
    const [a, b] = await Promise.all([start(env), start(env)]);
    instances.push(a, b);

    const written = await a.call<{ requestId: string; secret: string; recovery: string[]; grantId: string }>({
      op: 'write',
    });

    const seenByB = await b.call<Record<string, unknown>>({ op: 'read', secret: written.secret });
    expect(seenByB).toMatchObject({
      dsr: [
        { id: written.requestId, status: 'identity-verified', history: ['received', 'identity-verified'] },
      ],
      breaches: [{ id: 'inc-2025-01', notified: ['authority'] }],
      processors: ['mailer', 'sms'],
      activities: ['newsletter', 'reminders'],
      rules: ['category:personal', 'category:telemetry'],
      holds: ['case-42'],
      consent: 'granted',
      mfaEnrolled: true,
      // The code A confirmed with is in the same time step: B refuses it as a replay, because the
      // last accepted step is shared.
      totp: 'ERR_MFA_REPLAY',
      recoveryRemaining: 4,
      // B honours the break-glass grant A gave (read through the store), and counts the use.
      breakGlass: { allowed: true, grants: [[written.grantId, 1, true]] },
    });

    // B moves things on; A sees it at once.
    const updated = await b.call<{ recoveryUsed: boolean }>({
      op: 'update',
      requestId: written.requestId,
      recoveryCode: written.recovery[0],
    });
    expect(updated.recoveryUsed).toBe(true);
    const seenByA = await a.call<Record<string, unknown>>({ op: 'read', recoveryCode: written.recovery[0] });
    expect(seenByA).toMatchObject({
      dsr: [{ status: 'in-progress' }],
      breaches: [{ notified: ['authority', 'subjects'] }],
      holds: ['audit-2025', 'case-42'],
      consent: 'withdrawn',
      recoveryRemaining: 3,
      recoveryReuse: 'ERR_MFA_RECOVERY_CODE_USED',
      breakGlass: { allowed: true, grants: [[written.grantId, 2, true]] },
    });

    // Both die without a chance to flush anything.
    await Promise.all([a.kill(), b.kill()]);

    // A third instance, a minute later (a fresh TOTP step), finds every register as it was left.
    const c = await start({ ...env, MI_CLOCK_OFFSET_SEC: '60' });
    instances.push(c);
    const seenByC = await c.call<Record<string, unknown>>({ op: 'read', secret: written.secret });
    expect(seenByC).toEqual({
      dsr: [
        {
          id: written.requestId,
          status: 'in-progress',
          history: ['received', 'identity-verified', 'in-progress'],
        },
      ],
      breaches: [{ id: 'inc-2025-01', notified: ['authority', 'subjects'] }],
      processors: ['mailer', 'sms'],
      activities: ['newsletter', 'reminders'],
      rules: ['category:personal', 'category:telemetry'],
      holds: ['audit-2025', 'case-42'],
      consent: 'withdrawn',
      mfaEnrolled: true,
      totp: 'valid', // the secret decrypts on C: the data key is in the shared key store
      recoveryRemaining: 3,
      breakGlass: { allowed: true, grants: [[written.grantId, 3, true]] },
    });
  }, 120_000);
});
