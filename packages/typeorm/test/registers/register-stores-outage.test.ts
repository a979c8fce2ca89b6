import * as net from 'node:net';
import { randomBytes } from 'node:crypto';
import { DataSource } from 'typeorm';
import {
  BreachRegister,
  DataSubjectRequests,
  ErrorCodes,
  PolicyEngine,
  RecoveryCodes,
  PasswordHasher,
} from '@bulwark/core';
import { SERVICE_URLS, describeWithService } from '../../../../test/support/services';
import { bulwarkStoreEntities, bulwarkStoreMigrations, bulwarkStores } from '../../src/bulwark-stores';

/** A TCP proxy in front of the shared PostgreSQL that the test can cut (the real server stays up). */
class Proxy {
  private server?: net.Server;
  private readonly sockets = new Set<net.Socket>();
  port = 0;

  constructor(
    private readonly host: string,
    private readonly target: number,
  ) {}

  async start(port = 0): Promise<void> {
    this.server = net.createServer((client) => {
      const upstream = net.connect(this.target, this.host);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => s.destroy());
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  /** The database "goes away": open connections reset, new ones refused. */
  async cut(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }
}

describeWithService('postgres', 'register stores while PostgreSQL is unreachable', () => {
  const url = new URL(SERVICE_URLS.postgres);
  const schema = `bw_outage_${randomBytes(6).toString('hex')}`;
  const proxy = new Proxy(url.hostname, Number(url.port || 5432));
  let admin: DataSource;
  let ds: DataSource;

  beforeAll(async () => {
    admin = await new DataSource({ type: 'postgres', url: url.toString() }).initialize();
    await admin.query(`CREATE SCHEMA "${schema}"`);
    await proxy.start();
    const via = new URL(url.toString());
    via.hostname = '127.0.0.1';
    via.port = String(proxy.port);
    ds = await new DataSource({
      type: 'postgres',
      url: via.toString(),
      schema,
      entities: bulwarkStoreEntities,
      migrations: bulwarkStoreMigrations,
      extra: { connectionTimeoutMillis: 2000 },
    }).initialize();
    await ds.runMigrations();
  });

  afterAll(async () => {
    await ds?.destroy().catch(() => undefined);
    await proxy.cut().catch(() => undefined);
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.destroy();
  });

  it('every register fails typed (no crash, no partial write), break-glass denies; all recover', async () => {
    const stores = bulwarkStores(ds);
    const breaches = new BreachRegister({ store: stores.breaches });
    const dsr = new DataSubjectRequests({ verifyIdentity: () => true, store: stores.dsr });
    const errors: unknown[] = [];
    const engine = new PolicyEngine({
      policy: { version: 1, roles: {}, policies: [] },
      onAudit: () => undefined,
      onAuditError: (e) => errors.push(e),
      breakGlassStore: stores.breakGlass,
    });
    const hasher = new PasswordHasher({ memoryCost: 1024, timeCost: 1, allowWeakParameters: true });
    const codes = new RecoveryCodes({ store: stores.mfa, hasher, count: 2 });
    const request = await dsr.receive({ type: 'access', subjectId: 'alice' });
    await engine.grantBreakGlass({
      actor: { id: 'nina' },
      reason: 'outage drill',
      actions: 'read',
      resources: 'records/*',
      durationMs: 600_000,
    });
    const nina = { id: 'nina', roles: [] };
    expect((await engine.authorize(nina, 'read', { type: 'records', id: '1' })).allowed).toBe(true);

    await proxy.cut();
    await expect(breaches.list()).rejects.toMatchObject({ code: ErrorCodes.PRIVACY_STORE });
    await expect(
      breaches.record({
        title: 't',
        detectedAt: new Date(),
        severity: 'low',
        affectedSubjects: 1,
        dataCategories: ['personal'],
      }),
    ).rejects.toMatchObject({ code: ErrorCodes.PRIVACY_STORE });
    await expect(dsr.verifyIdentity(request.id)).rejects.toMatchObject({ code: ErrorCodes.PRIVACY_STORE });
    await expect(codes.generate('u1')).rejects.toMatchObject({ code: ErrorCodes.MFA_STORE });
    const denied = await engine.authorize(nina, 'read', { type: 'records', id: '1' });
    expect(denied).toMatchObject({ allowed: false, reasonId: 'break_glass_unavailable' });
    expect(errors[0]).toMatchObject({ code: ErrorCodes.POLICY_BREAK_GLASS_STORE });
    // The typed errors name the operation, not the connection string.
    const err = await breaches.list().catch((e: Error) => e);
    expect((err as Error).message).not.toContain(String(proxy.port));

    // Back: the pool reconnects, nothing half-written.
    await proxy.start(proxy.port);
    expect(await breaches.list()).toEqual([]);
    expect((await dsr.get(request.id))?.status).toBe('received');
    await dsr.verifyIdentity(request.id);
    expect((await engine.authorize(nina, 'read', { type: 'records', id: '1' })).allowed).toBe(true);
  }, 60_000);
});
