import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { DataSource, type DataSourceOptions } from 'typeorm';
import {
  BreachRegister,
  DataRetention,
  DataSubjectRequests,
  ErrorCodes,
  PolicyEngine,
  ProcessorRegister,
  type AuditEvent,
  type BreachIncident,
} from '@bulwark/core';
import { SERVICE_URLS, describeWithService } from '../../../../test/support/services';
import { bulwarkStoreEntities, bulwarkStoreMigrations, bulwarkStores } from '../../src/bulwark-stores';
import { TypeOrmMfaStore } from '../../src/typeorm-mfa-store';
import { TypeOrmRegisterStore } from '../../src/typeorm-register-store';

interface Db {
  dataSource: DataSource;
  options: DataSourceOptions;
  /** Runs SQL around the stores (tampering); `$n` placeholders. */
  raw(sql: string, params?: unknown[]): Promise<unknown>;
  table(name: string): string;
  drop(): Promise<void>;
}

async function sqlite(): Promise<Db> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bw-registers-'));
  const options = {
    type: 'better-sqlite3',
    database: path.join(dir, 'registers.sqlite'),
    entities: bulwarkStoreEntities,
    migrations: bulwarkStoreMigrations,
    logging: false,
  } as DataSourceOptions;
  const dataSource = await new DataSource(options).initialize();
  await dataSource.runMigrations();
  return {
    dataSource,
    options,
    raw: (sql, params = []) => dataSource.query(sql.replace(/\$\d+/g, '?'), params),
    table: (n) => `"${n}"`,
    async drop() {
      if (dataSource.isInitialized) await dataSource.destroy();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function postgres(): Promise<Db> {
  const url = SERVICE_URLS.postgres;
  const schema = `bw_registers_${randomBytes(6).toString('hex')}`;
  const admin = await new DataSource({ type: 'postgres', url }).initialize();
  await admin.query(`CREATE SCHEMA "${schema}"`);
  const options = {
    type: 'postgres',
    url,
    schema,
    entities: bulwarkStoreEntities,
    migrations: bulwarkStoreMigrations,
    logging: false,
  } as DataSourceOptions;
  const dataSource = await new DataSource(options).initialize();
  await dataSource.runMigrations();
  return {
    dataSource,
    options,
    raw: (sql, params = []) => admin.query(sql, params),
    table: (n) => `"${schema}"."${n}"`,
    async drop() {
      if (dataSource.isInitialized) await dataSource.destroy();
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await admin.destroy();
    },
  };
}

const DETECTED = '2025-03-10T08:00:00.000Z';
const incident = (id: string) => ({
  id,
  title: 'Lost laptop',
  detectedAt: DETECTED,
  severity: 'high' as const,
  affectedSubjects: 10,
  dataCategories: ['personal'],
});

function suite(create: () => Promise<Db>) {
  let db: Db;
  beforeAll(async () => {
    db = await create();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('bulwarkStores refuses a DataSource without the entities the key store needs', async () => {
    const bare = await new DataSource({ ...db.options, entities: [], migrations: [] }).initialize();
    try {
      expect(() => bulwarkStores(bare)).toThrow(expect.objectContaining({ code: ErrorCodes.CONFIG_INVALID }));
    } finally {
      await bare.destroy();
    }
  });

  it('a register store inserts once, updates and deletes only over the version read', async () => {
    const store = new TypeOrmRegisterStore<{ id: string; n: number }>(db.dataSource, 'processor');
    expect(await store.insert('p1', { id: 'p1', n: 1 })).toBe(true);
    expect(await store.insert('p1', { id: 'p1', n: 99 })).toBe(false);
    expect(await store.get('p1')).toEqual({ value: { id: 'p1', n: 1 }, version: 1 });
    expect(await store.update('p1', 1, { id: 'p1', n: 2 })).toBe(true);
    expect(await store.update('p1', 1, { id: 'p1', n: 3 })).toBe(false); // stale
    expect(await store.get('p1')).toEqual({ value: { id: 'p1', n: 2 }, version: 2 });
    expect(await store.delete('p1', 1)).toBe(false);
    expect(await store.delete('p1', 2)).toBe(true);
    expect(await store.get('p1')).toBeUndefined();
    // kinds do not see each other
    const other = new TypeOrmRegisterStore<{ id: string }>(db.dataSource, 'breach');
    await store.insert('same', { id: 'same', n: 0 });
    expect(await other.get('same')).toBeUndefined();
    expect(await store.delete('same', 1)).toBe(true);
    await expect(store.insert('x', { id: 'y', n: 0 })).rejects.toMatchObject({
      code: ErrorCodes.PRIVACY_INVALID_ARGUMENT,
    });
  });

  it('refuses a row edited around the store (typed error, no value trusted)', async () => {
    const store = new TypeOrmRegisterStore<{ id: string }>(db.dataSource, 'legal-hold');
    await store.insert('h1', { id: 'h1' });
    await db.raw(`UPDATE ${db.table('bulwark_register_record')} SET "body" = $1 WHERE "id" = $2`, [
      '{"id":"other"}',
      'h1',
    ]);
    await expect(store.get('h1')).rejects.toMatchObject({ code: ErrorCodes.PRIVACY_STORE });
    await db.raw(`UPDATE ${db.table('bulwark_register_record')} SET "body" = $1 WHERE "id" = $2`, [
      'not json',
      'h1',
    ]);
    await expect(store.list()).rejects.toMatchObject({ code: ErrorCodes.PRIVACY_STORE });
    await db.raw(`DELETE FROM ${db.table('bulwark_register_record')} WHERE "id" = $1`, ['h1']);
  });

  it('every register written through one DataSource is read through another', async () => {
    const stores = bulwarkStores(db.dataSource);
    const breaches = new BreachRegister({ store: stores.breaches });
    await breaches.record(incident('inc-shared'));
    await breaches.notify('inc-shared', { to: 'authority', at: '2025-03-11T08:00:00Z' });
    const processors = new ProcessorRegister({ store: stores.processors });
    await processors.register({
      id: 'mailer',
      name: 'Mailer',
      role: 'processor',
      agreements: [{ type: 'DPA', signedAt: '2024-01-01' }],
      scope: { dataCategories: ['personal'], purposes: ['newsletter'] },
    });
    const retention = new DataRetention({ ruleStore: stores.retentionRules, holdStore: stores.legalHolds });
    await retention.addPolicy({ category: 'telemetry', days: 30, basis: 'monitoring' });
    await retention.addHold({ id: 'case-1', reason: 'litigation', subjectId: 'alice' });

    const other = await new DataSource({ ...db.options, migrations: [] }).initialize();
    try {
      const again = bulwarkStores(other);
      const b2 = new BreachRegister({ store: again.breaches });
      expect((await b2.get('inc-shared'))?.notifications[0]?.notifiedAt).toBe('2025-03-11T08:00:00.000Z');
      expect(await b2.overdue(new Date('2025-03-20T00:00:00Z'))).toEqual([]);
      const p2 = new ProcessorRegister({ store: again.processors });
      expect(await p2.missingAgreements(new Date('2025-01-01'))).toEqual([]);
      const r2 = new DataRetention({ ruleStore: again.retentionRules, holdStore: again.legalHolds });
      expect((await r2.policies()).map((r) => r.id)).toEqual(['category:telemetry']);
      await expect(r2.assertNotHeld({ subjectId: 'alice' })).rejects.toMatchObject({
        code: ErrorCodes.RETENTION_LEGAL_HOLD,
      });
      // a stale instance cannot overwrite: b1 closes from an old read after b2 notified subjects
      await b2.notify('inc-shared', { to: 'subjects', at: '2025-03-12T08:00:00Z' });
      const closed = await breaches.close('inc-shared', '2025-03-13T00:00:00Z');
      expect(closed.notifications[1]!.notifiedAt).toBe('2025-03-12T08:00:00.000Z');
    } finally {
      await other.destroy();
    }
  });

  it('DSR lifecycle through the store: version-checked, a stale save is refused', async () => {
    const stores = bulwarkStores(db.dataSource);
    const dsr = new DataSubjectRequests({ verifyIdentity: () => true, store: stores.dsr });
    const request = await dsr.receive({ type: 'access', subjectId: 'subject-1' });
    expect(request.version).toBe(1);
    await dsr.verifyIdentity(request.id);
    const stale = (await stores.dsr.get(request.id))!;
    await dsr.start(request.id);
    stale.status = 'rejected';
    await expect(stores.dsr.save(stale)).rejects.toMatchObject({ code: ErrorCodes.PRIVACY_CONFLICT });
    const fresh = (await dsr.get(request.id))!;
    expect(fresh.status).toBe('in-progress');
    expect(fresh.history.map((h) => h.status)).toEqual(['received', 'identity-verified', 'in-progress']);
    expect((await dsr.list({ status: 'in-progress' })).map((r) => r.id)).toContain(request.id);
    expect(await dsr.list({ status: [] })).toEqual([]);
    // a row edited around the store (identity check erased) is refused, not trusted
    const raw = (await db.raw(`SELECT "body" FROM ${db.table('bulwark_dsr_request')} WHERE "id" = $1`, [
      request.id,
    ])) as { body: string }[];
    const forged = { ...JSON.parse(raw[0]!.body), identity: null };
    await db.raw(`UPDATE ${db.table('bulwark_dsr_request')} SET "body" = $1 WHERE "id" = $2`, [
      JSON.stringify(forged),
      request.id,
    ]);
    await expect(dsr.get(request.id)).rejects.toMatchObject({ code: ErrorCodes.PRIVACY_STORE });
    await db.raw(`UPDATE ${db.table('bulwark_dsr_request')} SET "body" = $1 WHERE "id" = $2`, [
      raw[0]!.body,
      request.id,
    ]);
    const { version: _v, ...copy } = fresh;
    await expect(stores.dsr.save(copy)).rejects.toMatchObject({ code: ErrorCodes.PRIVACY_DUPLICATE_ID });
  });

  it('MFA: TOTP steps and recovery codes are compare-and-set; encrypted secrets must be envelopes', async () => {
    const mfa = new TypeOrmMfaStore(db.dataSource);
    const totp = {
      secret: 'bw1.v1.envelope',
      encrypted: true,
      algorithm: 'sha1' as const,
      digits: 6 as const,
      period: 30,
      confirmed: false,
      createdAt: '2025-01-01T00:00:00.000Z',
    };
    await mfa.putTotp('u1', totp);
    expect(await mfa.confirmTotp('u1', '2025-01-01T00:01:00.000Z', 100)).toBe(true);
    expect(await mfa.confirmTotp('u1', '2025-01-01T00:01:00.000Z', 101)).toBe(false); // already confirmed
    expect(await mfa.advanceTotpStep('u1', 100)).toBe(false); // replay
    expect(await mfa.advanceTotpStep('u1', 101)).toBe(true);
    expect(await mfa.getTotp('u1')).toMatchObject({ confirmed: true, lastUsedStep: 101, encrypted: true });
    await mfa.putTotp('u1', { ...totp, confirmed: false }); // replace
    expect(await mfa.getTotp('u1')).toMatchObject({ confirmed: false });
    expect((await mfa.getTotp('u1'))!.lastUsedStep).toBeUndefined();
    await expect(mfa.putTotp('u2', { ...totp, secret: 'JBSWY3DPEHPK3PXP' })).rejects.toMatchObject({
      code: ErrorCodes.MFA_STORE,
    });
    // plaintext secrets only with an explicit development opt-in
    await expect(
      mfa.putTotp('u2', { ...totp, secret: 'JBSWY3DPEHPK3PXP', encrypted: false }),
    ).rejects.toMatchObject({ code: ErrorCodes.MFA_STORE });
    const dev = new TypeOrmMfaStore(db.dataSource, { allowPlaintextSecrets: true });
    await dev.putTotp('u2', { ...totp, secret: 'JBSWY3DPEHPK3PXP', encrypted: false });
    expect((await dev.getTotp('u2'))!.secret).toBe('JBSWY3DPEHPK3PXP');
    await expect(mfa.getTotp('u2')).rejects.toMatchObject({ code: ErrorCodes.MFA_STORE });
    await dev.deleteTotp('u2');
    await db.raw(`UPDATE ${db.table('bulwark_mfa_totp')} SET "secret" = $1 WHERE "user_id" = $2`, [
      'JBSWY3DPEHPK3PXP',
      'u1',
    ]);
    await expect(mfa.getTotp('u1')).rejects.toMatchObject({ code: ErrorCodes.MFA_STORE });
    await mfa.deleteTotp('u1');
    expect(await mfa.getTotp('u1')).toBeUndefined();

    const hash = '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA';
    await mfa.putRecoveryCodes('u1', [
      { id: 'a', hash },
      { id: 'b', hash },
    ]);
    expect(await mfa.consumeRecoveryCode('u1', 'a', '2025-01-02T00:00:00.000Z')).toBe(true);
    expect(await mfa.consumeRecoveryCode('u1', 'a', '2025-01-02T00:00:01.000Z')).toBe(false);
    expect(await mfa.getRecoveryCodes('u1')).toEqual([
      { id: 'a', hash, usedAt: '2025-01-02T00:00:00.000Z' },
      { id: 'b', hash },
    ]);
    await mfa.putRecoveryCodes('u1', [{ id: 'c', hash }]);
    expect((await mfa.getRecoveryCodes('u1')).map((c) => c.id)).toEqual(['c']);
    await mfa.deleteRecoveryCodes('u1');
    expect(await mfa.getRecoveryCodes('u1')).toEqual([]);
  });

  it('break-glass: a grant through one DataSource is honoured and revoked through another', async () => {
    const events: AuditEvent[] = [];
    const policy = {
      version: 1 as const,
      roles: { doctor: {} },
      policies: [
        {
          id: 'p',
          rules: [
            { id: 'r', effect: 'allow' as const, roles: ['doctor'], actions: ['read'], resources: ['notes'] },
          ],
        },
      ],
    };
    const engine = (ds: DataSource) =>
      new PolicyEngine({
        policy,
        onAudit: (e) => {
          events.push(e);
        },
        breakGlassStore: bulwarkStores(ds).breakGlass,
      });
    const a = engine(db.dataSource);
    const other = await new DataSource({ ...db.options, migrations: [] }).initialize();
    try {
      const b = engine(other);
      const nurse = { id: 'nina', roles: ['nurse'] };
      const grant = await a.grantBreakGlass({
        actor: { id: 'nina', ip: '10.0.0.1' },
        reason: 'resuscitation',
        actions: 'read',
        resources: 'notes/*',
        durationMs: 60_000,
      });
      expect((await b.authorize(nurse, 'read', { type: 'notes', id: 'n1' })).breakGlassId).toBe(grant.id);
      expect((await b.listBreakGlass({ active: true }))[0]).toMatchObject({ id: grant.id, uses: 1 });
      await a.revokeBreakGlass(grant.id, { actor: { id: 'ciso' }, reason: 'done' });
      expect((await b.authorize(nurse, 'read', { type: 'notes', id: 'n1' })).allowed).toBe(false);
      expect(events.map((e) => e.action)).toEqual([
        'authz.break_glass.granted',
        'authz.break_glass.used',
        'authz.break_glass.revoked',
      ]);
    } finally {
      await other.destroy();
    }
  });
}

describe('register stores on SQLite', () => suite(sqlite));
describeWithService('postgres', 'register stores on PostgreSQL', () => {
  suite(postgres);

  /** Two instances: two DataSources (two connection pools) on one database. */
  let db: Db;
  let second: DataSource;
  beforeAll(async () => {
    db = await postgres();
    second = await new DataSource({ ...db.options, migrations: [] }).initialize();
  });
  afterAll(async () => {
    await second?.destroy();
    await db?.drop();
  });

  const settle = async <T>(ps: Promise<T>[]) => Promise.allSettled(ps);
  const codes = (rs: PromiseSettledResult<unknown>[]) =>
    rs.map((r) => (r.status === 'fulfilled' ? 'ok' : (r.reason as { code?: string }).code));

  it('the same breach id recorded on both instances at once: exactly one incident', async () => {
    const [a, b] = [bulwarkStores(db.dataSource), bulwarkStores(second)];
    const ra = new BreachRegister({ store: a.breaches });
    const rb = new BreachRegister({ store: b.breaches });
    for (let i = 0; i < 10; i++) {
      const results = await settle([ra.record(incident(`dup-${i}`)), rb.record(incident(`dup-${i}`))]);
      expect(codes(results).sort()).toEqual([ErrorCodes.PRIVACY_DUPLICATE_ID, 'ok']);
    }
    expect((await ra.list()).filter((x) => x.id.startsWith('dup-'))).toHaveLength(10);
  });

  it('concurrent notifications of one incident: no update is lost', async () => {
    const [a, b] = [bulwarkStores(db.dataSource), bulwarkStores(second)];
    const ra = new BreachRegister({ store: a.breaches });
    const rb = new BreachRegister({ store: b.breaches });
    let conflicts = 0;
    for (let i = 0; i < 10; i++) {
      await ra.record(incident(`race-${i}`));
      const results = await settle([
        ra.notify(`race-${i}`, { to: 'authority', at: '2025-03-11T00:00:00Z' }),
        rb.notify(`race-${i}`, { to: 'subjects', at: '2025-03-11T00:00:00Z' }),
      ]);
      const stored = (await rb.get(`race-${i}`)) as BreachIncident;
      // every notification that reported success is in the stored incident
      results.forEach((r, n) => {
        const to = n === 0 ? 'authority' : 'subjects';
        const notified = stored.notifications.find((x) => x.to === to)!.notifiedAt !== undefined;
        if (r.status === 'fulfilled') expect(notified).toBe(true);
        else {
          expect((r.reason as { code?: string }).code).toBe(ErrorCodes.PRIVACY_CONFLICT);
          expect(notified).toBe(false);
          conflicts++;
        }
      });
    }
    // Without the version check both would "succeed" and one would be silently lost; the race
    // must have happened at least once for this test to mean something.
    expect(conflicts).toBeGreaterThan(0);
  });

  it('one submission received on both instances at once is one request (idempotency key)', async () => {
    const [a, b] = [bulwarkStores(db.dataSource), bulwarkStores(second)];
    const da = new DataSubjectRequests({ verifyIdentity: () => true, store: a.dsr });
    const dbb = new DataSubjectRequests({ verifyIdentity: () => true, store: b.dsr });
    for (let i = 0; i < 10; i++) {
      const input = { type: 'access' as const, subjectId: `form-${i}`, idempotencyKey: `form-token-${i}` };
      const [ra, rb] = await Promise.all([da.receive(input), dbb.receive(input)]);
      expect(ra.id).toBe(rb.id);
    }
    const ids = (await da.list()).filter((r) => r.idempotencyKey?.startsWith('form-token-'));
    expect(ids).toHaveLength(10);
    // the key of another subject's request is not a way to read or reuse it
    await expect(
      dbb.receive({ type: 'access', subjectId: 'someone-else', idempotencyKey: 'form-token-0' }),
    ).rejects.toMatchObject({ code: ErrorCodes.PRIVACY_DUPLICATE_ID });
  });

  it('a DSR moved on by both instances at once advances exactly once', async () => {
    const [a, b] = [bulwarkStores(db.dataSource), bulwarkStores(second)];
    const da = new DataSubjectRequests({ verifyIdentity: () => true, store: a.dsr });
    const dbb = new DataSubjectRequests({ verifyIdentity: () => true, store: b.dsr });
    for (let i = 0; i < 10; i++) {
      const r = await da.receive({ type: 'erasure', subjectId: `s-${i}` });
      await da.verifyIdentity(r.id);
      const results = await settle([da.start(r.id), dbb.start(r.id)]);
      const c = codes(results);
      expect(c.filter((x) => x === 'ok')).toHaveLength(1);
      expect(c.filter((x) => x !== 'ok')[0]).toMatch(/ERR_PRIVACY_CONFLICT|ERR_DSR_INVALID_TRANSITION/);
      const stored = (await dbb.get(r.id))!;
      expect(stored.history.filter((h) => h.status === 'in-progress')).toHaveLength(1);
    }
  });

  it('MFA: one TOTP step and one recovery code are accepted once across instances', async () => {
    const [a, b] = [new TypeOrmMfaStore(db.dataSource), new TypeOrmMfaStore(second)];
    await a.putTotp('racer', {
      secret: 'bw1.x',
      encrypted: true,
      algorithm: 'sha1',
      digits: 6,
      period: 30,
      confirmed: true,
      createdAt: '2025-01-01T00:00:00.000Z',
      lastUsedStep: 1,
    });
    const hash = '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA';
    await a.putRecoveryCodes('racer', [{ id: 'only', hash }]);
    for (let step = 2; step < 12; step++) {
      const wins = await Promise.all([a.advanceTotpStep('racer', step), b.advanceTotpStep('racer', step)]);
      expect(wins.filter(Boolean)).toHaveLength(1);
    }
    const used = await Promise.all([
      a.consumeRecoveryCode('racer', 'only', '2025-01-02T00:00:00.000Z'),
      b.consumeRecoveryCode('racer', 'only', '2025-01-02T00:00:00.000Z'),
    ]);
    expect(used.filter(Boolean)).toHaveLength(1);
  });

  it('break-glass uses counted on both instances at once all count; a revocation race audits once', async () => {
    const events: AuditEvent[] = [];
    const policy = { version: 1 as const, roles: {}, policies: [] };
    const engine = (ds: DataSource) =>
      new PolicyEngine({
        policy,
        onAudit: (e) => {
          events.push(e);
        },
        breakGlassStore: bulwarkStores(ds).breakGlass,
      });
    const [a, b] = [engine(db.dataSource), engine(second)];
    const grant = await a.grantBreakGlass({
      actor: { id: 'zed' },
      reason: 'outage',
      actions: 'read',
      resources: 'logs/*',
      durationMs: 60_000,
    });
    const who = { id: 'zed', roles: [] };
    const decisions = await Promise.all(
      Array.from({ length: 20 }, (_v, i) =>
        (i % 2 ? a : b).authorize(who, 'read', { type: 'logs', id: `${i}` }),
      ),
    );
    expect(decisions.every((d) => d.allowed)).toBe(true);
    expect((await a.listBreakGlass())[0]!.uses).toBe(20);
    await Promise.all([
      a.revokeBreakGlass(grant.id, { actor: { id: 'ciso' }, reason: 'r' }),
      b.revokeBreakGlass(grant.id, { actor: { id: 'ciso' }, reason: 'r' }),
    ]);
    expect(events.filter((e) => e.action === 'authz.break_glass.revoked')).toHaveLength(1);
  });
});
