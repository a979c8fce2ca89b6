import { randomBytes } from 'node:crypto';
import { AuditLog, BulwarkAuditError, ErrorCodes, type AuditEvent } from '@bulwark/core';
import { DataSource } from 'typeorm';
import { describeWithService, SERVICE_URLS } from '../../../test/support/services';
import { isCommit, TcpProxy } from '../../../test/support/tcp-proxy';
import { createAuditDataSource, TypeOrmAuditStore, type TypeOrmAuditStoreOptions } from '../src';

/*
 * Fault injection on the real PostgreSQL: an in-process TCP proxy sits between the store and the
 * server (which is never stopped), so a partition, a reset after COMMIT and repeated connection
 * drops can be produced on demand. Each test gets a fresh database.
 */

const event = (id: string): AuditEvent => ({
  actor: { id: 'writer', type: 'service' },
  action: 'fault.write',
  outcome: 'success',
  details: { id },
});

const TIMEOUTS: TypeOrmAuditStoreOptions = {
  connectTimeoutMs: 1000,
  statementTimeoutMs: 1000,
  lockTimeoutMs: 2000,
  resolveTimeoutMs: 10_000,
};

describeWithService('postgres', 'TypeOrmAuditStore under PostgreSQL faults (TCP proxy)', () => {
  jest.setTimeout(60_000);
  let admin: DataSource;
  let proxy: TcpProxy;
  let dbName: string;
  let direct: DataSource;
  let ds: DataSource;

  beforeAll(async () => {
    admin = await new DataSource({ type: 'postgres', url: SERVICE_URLS.postgres }).initialize();
  });
  afterAll(async () => {
    await admin?.destroy();
  });

  beforeEach(async () => {
    dbName = `bw_fault_${randomBytes(6).toString('hex')}`;
    await admin.query(`CREATE DATABASE ${dbName}`);
    const target = new URL(SERVICE_URLS.postgres);
    proxy = await TcpProxy.start({ host: target.hostname, port: Number(target.port || 5432) });
    const viaProxy = new URL(SERVICE_URLS.postgres);
    viaProxy.hostname = '127.0.0.1';
    viaProxy.port = String(proxy.port);
    viaProxy.pathname = `/${dbName}`;
    ds = await createAuditDataSource({ url: viaProxy.toString(), connectTimeoutMs: 1000 });
    const directUrl = new URL(SERVICE_URLS.postgres);
    directUrl.pathname = `/${dbName}`;
    direct = await new DataSource({ type: 'postgres', url: directUrl.toString() }).initialize();
  });

  afterEach(async () => {
    proxy.forward();
    proxy.onClientData(undefined);
    await ds?.destroy().catch(() => undefined);
    await direct?.destroy().catch(() => undefined);
    await proxy?.close();
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  });

  /** The ids stored, read past the proxy: what really committed. */
  async function storedIds(): Promise<string[]> {
    const rows = (await direct.query(
      `SELECT "details" FROM "bulwark_audit_entry" WHERE "action" = 'fault.write' ORDER BY "seq"`,
    )) as { details: string }[];
    return rows.map((r) => (JSON.parse(r.details) as { id: string }).id);
  }

  it('a partition (blackhole) gives ERR_AUDIT_STORE_UNAVAILABLE within the timeouts, and the store recovers', async () => {
    const store = await TypeOrmAuditStore.open(ds, TIMEOUTS);
    const log = await AuditLog.open({ store, closeStore: true });
    await log.append(event('warm'));

    proxy.blackhole();
    const started = Date.now();
    const err = await log.append(event('cut')).catch((e: unknown) => e);
    const elapsed = Date.now() - started;
    expect(err).toBeInstanceOf(BulwarkAuditError);
    expect((err as BulwarkAuditError).code).toBe(ErrorCodes.AUDIT_STORE_UNAVAILABLE);
    // Bounded by the deadlines (connect 1 s, statement 1 s + lock 2 s), not by the outage.
    expect(elapsed).toBeLessThan(15_000);
    // Reads fail the same way instead of hanging.
    await expect(store.head()).rejects.toMatchObject({ code: ErrorCodes.AUDIT_STORE_UNAVAILABLE });
    // The message names no host, port or credentials.
    expect((err as Error).message).not.toMatch(/127\.0\.0\.1|postgres:\/\/|password/i);

    proxy.forward();
    await log.append(event('after'));
    expect(await storedIds()).toEqual(['warm', 'after']);
    expect((await log.verify()).ok).toBe(true);
    await log.close();
  });

  it('connections reset right after COMMIT was forwarded: the append is acknowledged (read back), stored once', async () => {
    const store = await TypeOrmAuditStore.open(ds, TIMEOUTS);
    const log = await AuditLog.open({ store, closeStore: true });
    await log.append(event('warm'));

    let cut = 0;
    proxy.onClientData((chunk) => {
      if (cut === 0 && isCommit(chunk)) {
        cut++;
        return 'forward-then-reset';
      }
      return 'forward';
    });
    const entry = await log.append(event('committed-unanswered'));
    expect(cut).toBe(1);
    expect(entry.seq).toBe(2);
    expect(await storedIds()).toEqual(['warm', 'committed-unanswered']);
    const [row] = (await direct.query(`SELECT "batch_id" FROM "bulwark_audit_entry" WHERE "seq" = 2`)) as {
      batch_id: string;
    }[];
    expect(row!.batch_id).toMatch(/^[0-9a-f-]{36}$/);

    await log.append(event('next'));
    expect(await storedIds()).toEqual(['warm', 'committed-unanswered', 'next']);
    expect((await log.verify()).ok).toBe(true);
    await log.close();
  });

  it('connections reset with the COMMIT lost: the append fails as not stored (safe to retry), and a retry stores it once', async () => {
    const store = await TypeOrmAuditStore.open(ds, TIMEOUTS);
    const log = await AuditLog.open({ store, closeStore: true });
    await log.append(event('warm'));

    let cut = 0;
    proxy.onClientData((chunk) => {
      if (cut === 0 && isCommit(chunk)) {
        cut++;
        return 'drop-and-reset';
      }
      return 'forward';
    });
    const err = await log.append(event('lost')).catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: ErrorCodes.AUDIT_STORE_UNAVAILABLE,
      details: { outcome: 'not-stored' },
    });
    expect(await storedIds()).toEqual(['warm']);
    await log.append(event('lost'));
    expect(await storedIds()).toEqual(['warm', 'lost']);
    expect((await log.verify()).ok).toBe(true);
    await log.close();
  });

  it('writers running while every connection is dropped again and again: each acknowledged event stored once, no failed one stored', async () => {
    // Two app instances on one database, two writers each.
    const logs = await Promise.all(
      [0, 1].map(async () =>
        AuditLog.open({ store: await TypeOrmAuditStore.open(ds, TIMEOUTS), closeStore: true }),
      ),
    );
    const acked: string[] = [];
    const failed: string[] = [];
    const unknown: string[] = [];
    const unexpected: unknown[] = [];
    let stop = false;
    const writer = async (log: AuditLog, name: string): Promise<void> => {
      for (let i = 0; !stop; i++) {
        const id = `${name}-${i}`;
        try {
          await log.append(event(id));
          acked.push(id);
        } catch (err) {
          const code = (err as BulwarkAuditError).code;
          if (code === ErrorCodes.AUDIT_STORE_UNAVAILABLE) failed.push(id);
          else if (code === ErrorCodes.AUDIT_OUTCOME_UNKNOWN) unknown.push(id);
          else unexpected.push(err);
        }
      }
    };
    const writers = logs.flatMap((log, l) => [writer(log, `l${l}a`), writer(log, `l${l}b`)]);
    // Some COMMITs are lost in the cut, some land with their answer lost: both kinds of outcome.
    let commits = 0;
    proxy.onClientData((chunk) => {
      if (isCommit(chunk) && ++commits % 7 === 0)
        return commits % 2 === 0 ? 'forward-then-reset' : 'drop-and-reset';
      return 'forward';
    });
    for (let round = 0; round < 5; round++) {
      await new Promise((r) => setTimeout(r, 150));
      proxy.resetAll();
    }
    stop = true;
    proxy.onClientData(undefined);
    await Promise.all(writers);

    expect(unexpected).toEqual([]);
    const stored = await storedIds();
    // nothing written twice
    expect(new Set(stored).size).toBe(stored.length);
    const storedSet = new Set(stored);
    // every acknowledged event is there
    expect(acked.filter((id) => !storedSet.has(id))).toEqual([]);
    // none reported failed (not stored) is there
    expect(failed.filter((id) => storedSet.has(id))).toEqual([]);
    // and the faults really happened
    expect(acked.length).toBeGreaterThan(20);
    expect(failed.length + unknown.length).toBeGreaterThan(0);
    expect(unknown).toEqual([]);
    for (const log of logs) expect((await log.verify()).ok).toBe(true);
    await Promise.all(logs.map((l) => l.close()));
  });
});
