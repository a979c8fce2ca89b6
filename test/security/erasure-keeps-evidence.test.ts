/**
 * Issue 12, defect 3: erasure wiped the evidence of the subject's own attacks. A patient probed
 * another patient's notes (403s), then asked for erasure; once the privacy officer ran it the
 * denials were gone, and the officer had only seen a hashed reference of the requester.
 *
 * Replayed over HTTP against the running express-clinic process, on SQLite and PostgreSQL: the
 * officer now sees the requester's security events before running the erasure, and afterwards the
 * denials are still in the audit trail, with the patient's id, name and e-mail replaced by one
 * keyed pseudonym, while the patient's ordinary entries are redacted and the chain verifies.
 */
import { describeWithService } from '../support/services';
import { startExample, type ExampleProcess } from './support/example-process';

jest.setTimeout(180_000);

const ALICE_NAME = 'Alice Martin';
const ALICE_EMAIL = 'alice.martin@example.com';

interface AuditEntryView {
  seq: number;
  time: string;
  actor?: { id: string; type: string; ip?: string };
  action?: string;
  resource?: { type: string; id?: string };
  outcome?: string;
  category: string;
  details?: Record<string, unknown>;
  redacted?: { at: string; reason: string };
}

interface RequestView {
  id: string;
  securityEvents: {
    count: number;
    byAction: { action: string; outcome: string; count: number }[];
    recent: { outcome: string }[];
  };
}

/** A JSON call; `json` is the parsed body (typed by the caller), or the raw text if not JSON. */
async function call<T = Record<string, unknown>>(
  app: ExampleProcess,
  method: string,
  path: string,
  token?: string,
  body?: unknown,
): Promise<{ status: number; json: T }> {
  const res = await fetch(`${app.url}${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  let json: T;
  try {
    json = JSON.parse(text) as T;
  } catch {
    json = text as T;
  }
  return { status: res.status, json };
}

async function login(app: ExampleProcess, username: string): Promise<{ token: string; id: string }> {
  const r = await call<{ token: string; user: { id: string } }>(app, 'POST', '/auth/login', undefined, {
    username,
    password: `${username.split('.').pop()}-demo-password`,
  });
  expect(r.status).toBe(200);
  return { token: r.json.token, id: r.json.user.id };
}

/** Every audit entry, through the app's audit API as the auditor. */
async function allEntries(app: ExampleProcess, token: string, query = ''): Promise<AuditEntryView[]> {
  const out: AuditEntryView[] = [];
  let cursor: string | undefined;
  do {
    const q = `limit=200${query ? `&${query}` : ''}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const r = await call<{ entries: AuditEntryView[]; nextCursor?: string }>(
      app,
      'GET',
      `/audit/events?${q}`,
      token,
    );
    expect(r.status).toBe(200);
    out.push(...r.json.entries);
    cursor = r.json.nextCursor;
  } while (cursor !== undefined);
  return out;
}

function erasureKeepsEvidence(database: 'sqlite' | 'postgres'): void {
  let app: ExampleProcess;
  beforeAll(async () => {
    app = await startExample('express-clinic', { database });
  });
  afterAll(async () => {
    await app?.stop();
  });

  it('keeps the patient’s probes of another patient’s notes, pseudonymised, after the officer runs the erasure', async () => {
    const alice = await login(app, 'alice');
    const bob = await login(app, 'bob');
    const dpo = await login(app, 'dpo.dana');
    const auditor = await login(app, 'auditor.ames');

    // Ordinary use, then the attack: three reads of Bob's notes, all refused.
    expect((await call(app, 'GET', `/patients/${alice.id}`, alice.token)).status).toBe(200);
    for (let i = 0; i < 3; i++) {
      expect((await call(app, 'GET', `/patients/${bob.id}/notes`, alice.token)).status).toBe(403);
    }
    const filed = await call<{ id: string }>(app, 'POST', '/privacy/requests/erasure', alice.token, {});
    expect(filed.status).toBe(202);
    const requestId: string = filed.json.id;

    // The officer's view of the request shows the requester's recent security events.
    const list = await call<RequestView[]>(app, 'GET', '/dsr/requests', dpo.token);
    expect(list.status).toBe(200);
    const listed = list.json.find((r) => r.id === requestId)!;
    expect(listed.securityEvents.count).toBeGreaterThanOrEqual(3);
    const one = await call<RequestView>(app, 'GET', `/dsr/requests/${requestId}`, dpo.token);
    expect(one.status).toBe(200);
    expect(one.json.securityEvents.count).toBeGreaterThanOrEqual(3);
    expect(one.json.securityEvents.byAction).toEqual(
      expect.arrayContaining([expect.objectContaining({ outcome: 'denied', count: expect.any(Number) })]),
    );
    const deniedView = one.json.securityEvents.recent.filter(
      (e: { outcome: string }) => e.outcome === 'denied',
    );
    expect(deniedView.length).toBeGreaterThanOrEqual(3);
    // The view names no identifier of the requester or of the patient she probed.
    expect(JSON.stringify(one.json)).not.toContain(alice.id);
    expect(JSON.stringify(one.json)).not.toContain(bob.id);

    const deniedBefore = (await allEntries(app, auditor.token, `actorId=${alice.id}&outcome=denied`)).filter(
      (e) => e.resource?.id === bob.id,
    );
    expect(deniedBefore).toHaveLength(3);

    // The officer runs the erasure.
    const erased = await call<{
      status: string;
      auditPreserved: number;
      evidencePseudonym: string;
    }>(app, 'POST', `/dsr/requests/${requestId}/erase`, dpo.token);
    expect(erased.status).toBe(200);
    expect(erased.json.status).toBe('completed');
    expect(erased.json.auditPreserved).toBeGreaterThanOrEqual(3);
    const pseudonym: string = erased.json.evidencePseudonym;
    expect(pseudonym).toMatch(/^pseudonym:/);

    // The denials are still in the audit trail, under the pseudonym, with their time and target.
    const deniedAfter = (
      await allEntries(app, auditor.token, `actorId=${encodeURIComponent(pseudonym)}&outcome=denied`)
    ).filter((e) => e.resource?.id === bob.id);
    expect(deniedAfter).toHaveLength(3);
    expect(deniedAfter.map((e) => e.time).sort()).toEqual(deniedBefore.map((e) => e.time).sort());
    for (const e of deniedAfter) {
      expect(e).toMatchObject({ outcome: 'denied', actor: { id: pseudonym, type: 'user' } });
      expect(e.redacted).toBeUndefined();
    }

    const everything = await allEntries(app, auditor.token);
    const text = JSON.stringify(everything);
    // The patient's real id, name and e-mail appear nowhere in the trail.
    expect(text).not.toContain(alice.id);
    expect(text).not.toContain(ALICE_NAME);
    expect(text).not.toContain(ALICE_EMAIL);
    // Her ordinary entries are redacted as before: the read of her own record is a stub now.
    expect(await allEntries(app, auditor.token, `actorId=${alice.id}`)).toEqual([]);
    const stubs = everything.filter((e) => e.redacted?.reason === 'GDPR Art. 17 erasure');
    expect(stubs.length).toBeGreaterThan(deniedAfter.length);
    const keptOrdinary = everything.filter(
      (e) => e.actor?.id === pseudonym && e.outcome === 'success' && e.resource?.id === pseudonym,
    );
    expect(keptOrdinary.filter((e) => e.category !== 'auth')).toEqual([]);

    // And the chain still verifies.
    const verified = await call<{ ok: boolean }>(app, 'GET', '/audit/verify', auditor.token);
    expect(verified.status).toBe(200);
    expect(verified.json.ok).toBe(true);
    expect(app.alive()).toBe(true);
  });
}

describe('erasure keeps the evidence of the subject’s own attacks (express-clinic, SQLite)', () => {
  erasureKeepsEvidence('sqlite');
});

describeWithService(
  'postgres',
  'erasure keeps the evidence of the subject’s own attacks (express-clinic, PostgreSQL)',
  () => {
    erasureKeepsEvidence('postgres');
  },
);
