/**
 * Issue 12, defect 6: client mistakes answered 500. A malformed audit cursor or an empty filter
 * on express-clinic's audit query endpoint (`GET /audit/events`, auditor role) raised
 * ERR_AUDIT_INVALID_QUERY, which had no HTTP mapping, so the client got a 500 (and the operator
 * an alarm) for its own typo. Now every code maps deliberately and this one is a 400.
 */
import { describeWithService } from '../support/services';
import { startExample, stillServing, type ExampleProcess } from './support/example-process';

jest.setTimeout(120_000);

function auditQueryMistakes(database: 'sqlite' | 'postgres'): void {
  let app: ExampleProcess;
  let auditor: string;

  beforeAll(async () => {
    app = await startExample('express-clinic', { database });
    const res = await fetch(`${app.url}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'auditor.ames', password: 'ames-demo-password' }),
    });
    expect(res.status).toBe(200);
    auditor = ((await res.json()) as { token: string }).token;
  });
  afterAll(async () => {
    await app?.stop();
  });

  const events = (query: string) =>
    fetch(`${app.url}/audit/events?${query}`, {
      headers: { authorization: `Bearer ${auditor}` },
      signal: AbortSignal.timeout(10_000),
    });

  it('pages with a cursor from a previous page', async () => {
    const first = await events('limit=1');
    expect(first.status).toBe(200);
    const page = (await first.json()) as { entries: unknown[]; nextCursor?: string };
    expect(page.entries).toHaveLength(1);
    expect(typeof page.nextCursor).toBe('string');
    expect((await events(`limit=1&cursor=${page.nextCursor}`)).status).toBe(200);
  });

  it.each([
    ['a cursor that is not base64url of a position', 'cursor=not-a-cursor'],
    ['a cursor of another shape', `cursor=${Buffer.from('s:-1; DROP TABLE x').toString('base64url')}`],
    ['an over-long cursor', `cursor=${'A'.repeat(200)}`],
    ['an empty actor filter', 'actorId='],
    ['an empty action filter', 'action='],
    ['an empty resource filter', 'resourceType='],
  ])('answers %s with 400 problem+json, never 500', async (_name, query) => {
    const res = await events(query);
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      type: 'https://bulwark.dev/problems/audit-invalid-query',
      title: 'Invalid audit query',
      status: 400,
      code: 'ERR_AUDIT_INVALID_QUERY',
    });
    // The field and the rule, not the value sent.
    expect(body.detail).toMatch(/^audit query (cursor|actorId|action|resourceType) /);
    expect(JSON.stringify(body)).not.toContain('DROP TABLE');
    expect(await stillServing(app, '/health')).toBe(200);
  });
}

describe('express-clinic on SQLite: audit query mistakes', () => auditQueryMistakes('sqlite'));
describeWithService('postgres', 'express-clinic on PostgreSQL: audit query mistakes', () =>
  auditQueryMistakes('postgres'),
);
