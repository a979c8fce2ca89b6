/**
 * Issue 12, defects 9 and 11, replayed over HTTP against express-clinic (every request audited):
 * - a client-chosen X-Request-Id is never the request id of the audit entry, the X-Request-Id
 *   answer or problem bodies; it is kept, sanitised, as details.clientRequestId;
 * - a spoofed X-Forwarded-For is ignored by default, and with TRUST_PROXY=1 only the trusted hop
 *   is peeled (the audit entry's actor.ip is the address the proxy saw, not one the client chose).
 */
import { describeWithService } from '../support/services';
import { startExample, type ExampleProcess } from './support/example-process';

jest.setTimeout(120_000);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface AuditEntryView {
  requestId?: string;
  actor: { ip?: string };
  details?: { route?: string; clientRequestId?: string };
}

async function auditorToken(app: ExampleProcess): Promise<string> {
  const res = await fetch(`${app.url}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'auditor.ames', password: 'ames-demo-password' }),
  });
  expect(res.status).toBe(200);
  const body = (await res.json()) as { accessToken?: string; token?: string; access_token?: string };
  const token = body.accessToken ?? body.token ?? body.access_token;
  expect(typeof token).toBe('string');
  return token!;
}

/** The request event of the one request to `route`. */
async function auditEntryFor(app: ExampleProcess, token: string, route: string): Promise<AuditEntryView> {
  const res = await fetch(`${app.url}/audit/events?action=http.get&limit=200`, {
    headers: { authorization: `Bearer ${token}` },
  });
  expect(res.status).toBe(200);
  const page = (await res.json()) as { entries: AuditEntryView[] };
  const matches = page.entries.filter((e) => e.details?.route === route);
  expect(matches).toHaveLength(1);
  return matches[0]!;
}

function defaultSettingSuite(database: 'sqlite' | 'postgres'): () => void {
  return () => {
    let app: ExampleProcess;
    let token: string;
    beforeAll(async () => {
      app = await startExample('express-clinic', { database });
      token = await auditorToken(app);
    });
    afterAll(async () => {
      await app?.stop();
    });

    it('writes a server-generated request id into the audit entry, not the X-Request-Id the client chose', async () => {
      const route = '/no-such-page-request-id';
      const res = await fetch(`${app.url}${route}`, { headers: { 'x-request-id': 'attacker-chosen' } });
      expect(res.status).toBe(401); // an unauthenticated GET of a protected path
      const answered = res.headers.get('x-request-id');
      expect(answered).toMatch(UUID);
      const problem = (await res.json()) as { requestId?: string };
      expect(problem.requestId).toBe(answered);
      const entry = await auditEntryFor(app, token, route);
      expect(entry.requestId).toBe(answered);
      expect(entry.requestId).not.toBe('attacker-chosen');
      expect(entry.details?.clientRequestId).toBe('attacker-chosen');
    });

    it('keeps a hostile client request id only in sanitised form', async () => {
      const route = '/no-such-page-request-id-2';
      const res = await fetch(`${app.url}${route}`, {
        headers: { 'x-request-id': `forged" level=info msg=ok ${'x'.repeat(300)}` },
      });
      await res.arrayBuffer();
      const entry = await auditEntryFor(app, token, route);
      expect(entry.requestId).toMatch(UUID);
      expect(entry.details?.clientRequestId).toMatch(/^[A-Za-z0-9._:-]{128}$/);
    });

    it('ignores a spoofed X-Forwarded-For: the audited address is the socket peer', async () => {
      const route = '/no-such-page-xff';
      const res = await fetch(`${app.url}${route}`, { headers: { 'x-forwarded-for': '203.0.113.7' } });
      await res.arrayBuffer();
      const entry = await auditEntryFor(app, token, route);
      expect(entry.actor.ip).toBe('127.0.0.1');
    });
  };
}

describe(
  'request identity against express-clinic on SQLite (default: no trusted proxy)',
  defaultSettingSuite('sqlite'),
);
describeWithService(
  'postgres',
  'request identity against express-clinic on PostgreSQL (default: no trusted proxy)',
  defaultSettingSuite('postgres'),
);

describe('request identity against express-clinic behind one trusted proxy (TRUST_PROXY=1)', () => {
  let app: ExampleProcess;
  let token: string;
  beforeAll(async () => {
    app = await startExample('express-clinic', { env: { TRUST_PROXY: '1' } });
    token = await auditorToken(app);
  });
  afterAll(async () => {
    await app?.stop();
  });

  it('peels only the trusted hop: a client-prepended address is not taken', async () => {
    const route = '/no-such-page-xff-proxied';
    // The client sent "X-Forwarded-For: 198.51.100.66"; the proxy appended the address it saw.
    const res = await fetch(`${app.url}${route}`, {
      headers: { 'x-forwarded-for': '198.51.100.66, 203.0.113.7' },
    });
    await res.arrayBuffer();
    const entry = await auditEntryFor(app, token, route);
    expect(entry.actor.ip).toBe('203.0.113.7');
  });
});

/**
 * nestjs-hr audits `@Audited` routes; its own audit reader (`GET /audit/events`, hr-admin) is one,
 * so the request that reads the trail is itself an entry to look for.
 */
describe.each([
  ['default: no trusted proxy', undefined, '127.0.0.1'],
  ['TRUST_PROXY=1', '1', '203.0.113.7'],
])('request identity against nestjs-hr (%s)', (_title, trust, expectedIp) => {
  let app: ExampleProcess;
  let token: string;
  beforeAll(async () => {
    app = await startExample('nestjs-hr', trust !== undefined ? { env: { TRUST_PROXY: trust } } : {});
    const res = await fetch(`${app.url}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'hana@hr.example', password: 'hana-demo-password' }),
    });
    expect(res.status).toBe(200);
    token = ((await res.json()) as { token: string }).token;
  });
  afterAll(async () => {
    await app?.stop();
  });

  it('audits a server-generated request id and the proxy-decided address, never the client-chosen ones', async () => {
    const attack = await fetch(`${app.url}/audit/events?limit=1`, {
      headers: {
        authorization: `Bearer ${token}`,
        'x-request-id': 'attacker-chosen',
        'x-forwarded-for': '198.51.100.66, 203.0.113.7',
      },
    });
    expect(attack.status).toBe(200);
    await attack.arrayBuffer();
    const answered = attack.headers.get('x-request-id');
    expect(answered).toMatch(UUID);
    // The event is queued when the response closes; read until it is there.
    let entry: (AuditEntryView & { action?: string }) | undefined;
    for (let i = 0; i < 50 && entry === undefined; i++) {
      const res = await fetch(`${app.url}/audit/events?limit=50`, {
        headers: { authorization: `Bearer ${token}` },
      });
      const entries = (await res.json()) as Array<AuditEntryView & { action?: string }>;
      entry = entries.find((e) => e.details?.clientRequestId === 'attacker-chosen');
      if (entry === undefined) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(entry).toBeDefined();
    expect(entry!.action).toBe('audit.read');
    expect(entry!.requestId).toBe(answered);
    expect(entry!.requestId).not.toBe('attacker-chosen');
    expect(entry!.actor.ip).toBe(expectedIp);
  });
});
