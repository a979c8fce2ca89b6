import { randomBytes } from 'node:crypto';
import { AuditLog } from '../../src/audit/audit-log';
import { CheckpointSigner } from '../../src/audit/checkpoint-signer';
import { MemoryAuditStore } from '../../src/audit/memory-audit-store';
import { PRESERVED_FROM_KEY, SubjectPseudonymizer } from '../../src/audit/subject-pseudonymizer';
import { ErrorCodes } from '../../src/errors';
import {
  DataSubjectRequests,
  type DataSubjectRequestsOptions,
  type IdentityVerifier,
} from '../../src/privacy/data-subject-requests';
import { codeOf, errorOf } from './privacy-helpers';

const allowAll: IdentityVerifier = () => true;
const ALICE = '5b0c8c9e-2f64-4b7a-9d0e-1c2b3a4d5e6f';
const BOB = '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d';
const ALICE_EMAIL = 'alice.martin@example.com';
const ALICE_NAME = 'Alice Martin';

async function clinic(evidence: DataSubjectRequestsOptions['evidence'] = {}) {
  const key = randomBytes(32);
  const log = await AuditLog.open({
    store: new MemoryAuditStore(),
    hmacKey: randomBytes(32),
    signer: await CheckpointSigner.generate(),
  });
  const dsr = new DataSubjectRequests({
    verifyIdentity: allowAll,
    auditLog: log,
    evidence: {
      pseudonymKey: key,
      resourceSubject: (r) => (r.type === 'patients' ? r.id : undefined),
      subjectIdentifiers: () => [ALICE_EMAIL, ALICE_NAME, 'alice'],
      ...evidence,
    },
  });
  const alice = { id: ALICE, type: 'user' as const, ip: '198.51.100.7', sessionId: 'sess-alice-1' };
  // Ordinary entries of Alice's.
  await log.append({
    actor: alice,
    action: 'http.get',
    resource: { type: 'patients', id: ALICE },
    outcome: 'success',
    category: 'http',
    details: { route: `/patients/${ALICE}`, name: ALICE_NAME },
  });
  await log.append({ actor: alice, action: 'consent.grant', outcome: 'success', category: 'consent' });
  // Her probes of Bob's notes.
  for (let i = 0; i < 3; i++) {
    await log.append({
      actor: alice,
      action: 'http.get',
      resource: { type: 'patients', id: BOB },
      outcome: 'denied',
      category: 'http',
      reason: `${ALICE_NAME} <${ALICE_EMAIL}> may not read notes of ${BOB}`,
      details: { route: `/patients/${BOB}/notes`, by: ALICE, note: 'user alice probing' },
    });
  }
  // A login (authentication category), and a success on another subject's resource.
  await log.append({ actor: alice, action: 'auth.login', outcome: 'success', category: 'auth' });
  await log.append({
    actor: alice,
    action: 'http.get',
    resource: { type: 'patients', id: BOB },
    outcome: 'success',
    category: 'http',
  });
  // Someone else's failed attempt on Alice's record: Bob's evidence, kept too.
  await log.append({
    actor: { id: BOB, type: 'user' },
    action: 'http.get',
    resource: { type: 'patients', id: ALICE },
    outcome: 'denied',
    category: 'http',
  });
  await log.checkpoint();
  return { log, dsr, key };
}

async function erased(log: AuditLog) {
  return (await log.query({ limit: 1000 })).entries;
}

describe('erasure keeps the evidence of security events, pseudonymised', () => {
  it('keeps denied, failed, auth and other-subject entries with every identifier replaced by one keyed pseudonym', async () => {
    const { log, dsr, key } = await clinic();
    const req = await dsr.receive({ type: 'erasure', subjectId: ALICE });
    await dsr.verifyIdentity(req.id);
    const result = await dsr.erase(req.id);

    const pseudonym = new SubjectPseudonymizer({ key }).pseudonym(ALICE);
    expect(result.evidencePseudonym).toBe(pseudonym);
    // 3 denied probes + the login + the success on Bob's record + Bob's denied attempt on Alice.
    expect(result.auditPreserved).toBe(6);
    const entries = await erased(log);
    const kept = entries.filter((e) => e.details?.[PRESERVED_FROM_KEY] !== undefined);
    expect(kept).toHaveLength(6);
    const text = JSON.stringify(kept);
    for (const id of [ALICE, ALICE_EMAIL, ALICE_NAME, 'sess-alice-1']) expect(text).not.toContain(id);
    expect(text.toLowerCase()).not.toMatch(/\balice\b/);

    const probes = (await log.query({ actorId: pseudonym, outcome: 'denied' })).entries;
    expect(probes).toHaveLength(3);
    for (const p of probes) {
      expect(p).toMatchObject({
        action: 'http.get',
        outcome: 'denied',
        category: 'http',
        resource: { type: 'patients', id: BOB },
        actor: { id: pseudonym, type: 'user', ip: '198.51.100.7' },
      });
      expect(p.actor!.sessionId).toMatch(/^session-pseudonym:/);
      expect(p.reason).toBe(`${pseudonym} <${pseudonym}> may not read notes of ${BOB}`);
      expect(p.details).toMatchObject({ route: `/patients/${BOB}/notes`, by: pseudonym });
    }
    // The probes keep their original time; the copies name the originals, which are stubs now.
    for (const p of probes) {
      const from = p.details![PRESERVED_FROM_KEY] as { seq: number; leafHash: string };
      const original = await log.get(from.seq);
      expect(original).toMatchObject({ seq: from.seq, leafHash: from.leafHash, time: p.time });
      expect(original!.redacted).toBeDefined();
      expect(original!.actor).toBeUndefined();
    }
    const bobsAttempt = (await log.query({ actorId: BOB, outcome: 'denied' })).entries;
    expect(bobsAttempt).toHaveLength(1);
    expect(bobsAttempt[0]!.resource).toEqual({ type: 'patients', id: pseudonym });

    // Ordinary entries are redacted as before; nothing names Alice any more.
    expect((await log.query({ actorId: ALICE })).entries).toEqual([]);
    expect((await log.query({ resourceId: ALICE })).entries).toEqual([]);
    expect((await log.query({ actorId: pseudonym, action: 'consent.grant' })).entries).toEqual([]);
    expect(JSON.stringify(entries)).not.toContain(ALICE);
    expect(entries.filter((e) => e.redacted?.reason === 'GDPR Art. 17 erasure')).toHaveLength(8);

    const report = await log.verify();
    expect(report).toMatchObject({ ok: true });
    expect(report.checkpointsVerified).toBeGreaterThanOrEqual(1);
    await log.close();
  });

  it('gives one subject the same pseudonym under one key, and another under another key', () => {
    const a = new SubjectPseudonymizer({ key: Buffer.alloc(32, 1) });
    const b = new SubjectPseudonymizer({ key: Buffer.alloc(32, 2) });
    expect(a.pseudonym('7')).toBe(a.pseudonym('7'));
    expect(a.pseudonym('7')).not.toBe(a.pseudonym('8'));
    expect(a.pseudonym('7')).not.toBe(b.pseudonym('7'));
    expect(a.pseudonym('7')).toMatch(/^pseudonym:[A-Za-z0-9_-]{22}$/);
  });

  it('replaces a short identifier only as a whole token', () => {
    const p = new SubjectPseudonymizer({ key: Buffer.alloc(32, 1) });
    const event = p.preserve(
      {
        seq: 4,
        time: '2025-01-01T00:00:00.000Z',
        actor: { id: '7', type: 'user' },
        action: 'http.get',
        outcome: 'denied',
        category: 'http',
        details: { route: '/patients/7/notes', other: '/patients/17/notes' },
        prevHash: '0'.repeat(64),
        leafHash: '1'.repeat(64),
      },
      ['7'],
    );
    const ps = p.pseudonym('7');
    expect(event.actor.id).toBe(ps);
    expect(event.details).toMatchObject({ route: `/patients/${ps}/notes`, other: '/patients/17/notes' });
  });

  it('never rewrites structural fields, whatever the subject called themselves', () => {
    const p = new SubjectPseudonymizer({ key: Buffer.alloc(32, 1) });
    const event = p.preserve(
      {
        seq: 9,
        time: '2025-01-01T00:00:00.000Z',
        actor: { id: ALICE, type: 'user' },
        action: 'http.get',
        resource: { type: 'patients', id: BOB },
        outcome: 'denied',
        category: 'http',
        details: { route: '/patients/x/notes' },
        prevHash: '0'.repeat(64),
        leafHash: '1'.repeat(64),
      },
      [ALICE, 'http', 'patients', 'x'],
    );
    expect(event).toMatchObject({
      actor: { id: p.pseudonym(ALICE) },
      action: 'http.get',
      resource: { type: 'patients', id: BOB },
      category: 'http',
    });
    // 'patients' is replaced in free text; 'x' (shorter than 3 characters) is not.
    expect(event.details).toMatchObject({ route: `/${p.pseudonym(ALICE)}/x/notes` });
  });

  it('is configurable: only the outcomes and categories named are kept', async () => {
    const { log, dsr } = await clinic({ outcomes: ['failure'], categories: [], resourceSubject: undefined });
    const req = await dsr.receive({ type: 'erasure', subjectId: ALICE });
    await dsr.verifyIdentity(req.id);
    const result = await dsr.erase(req.id);
    expect(result.auditPreserved).toBe(0);
    expect(JSON.stringify(await erased(log))).not.toContain(ALICE);
    expect((await log.verify()).ok).toBe(true);
    await log.close();
  });

  it('discardSecurityEvidence erases the evidence too (the old behaviour, named as a weakening)', async () => {
    const { log, dsr } = await clinic({ discardSecurityEvidence: true });
    const req = await dsr.receive({ type: 'erasure', subjectId: ALICE });
    await dsr.verifyIdentity(req.id);
    const result = await dsr.erase(req.id);
    expect(result.auditPreserved).toBe(0);
    expect((await log.query({ outcome: 'denied' })).entries).toEqual([]);
    await log.close();
  });

  it('shows the officer the requester’s recent denied / failed events before the erasure runs', async () => {
    const { log, dsr } = await clinic();
    const req = await dsr.receive({ type: 'erasure', subjectId: ALICE });
    const view = await dsr.securityEvents(req.id);
    expect(view.count).toBe(3);
    expect(view.byAction).toEqual([{ action: 'http.get', outcome: 'denied', count: 3 }]);
    expect(view.recent).toHaveLength(3);
    expect(view.recent[0]).toMatchObject({ action: 'http.get', outcome: 'denied', resourceType: 'patients' });
    expect(JSON.stringify(view)).not.toContain(BOB);
    expect(view.truncated).toBe(false);
    expect((await dsr.securityEvents(req.id, { limit: 1 })).recent).toHaveLength(1);
    await log.close();
  });

  it('validates the evidence options at construction, naming the path', async () => {
    const log = await AuditLog.open({ store: new MemoryAuditStore() });
    const build = (evidence: unknown) => () =>
      new DataSubjectRequests({
        verifyIdentity: allowAll,
        auditLog: log,
        evidence: evidence as DataSubjectRequestsOptions['evidence'],
      });
    expect(await errorOf(build(undefined))).toMatchObject({
      code: ErrorCodes.CONFIG_INVALID,
      details: { path: 'dsr.options.evidence.pseudonymKey' },
    });
    expect((await errorOf(build({ pseudonymKey: new Uint8Array(16) }))).details).toMatchObject({
      path: 'dsr.options.evidence.pseudonymKey',
    });
    expect(
      (await errorOf(build({ pseudonymKey: randomBytes(32), outcomes: ['nope'] }))).details,
    ).toMatchObject({
      path: 'dsr.options.evidence.outcomes',
    });
    expect(
      (await errorOf(build({ pseudonymKey: randomBytes(32), resourceSubject: 'x' }))).details,
    ).toMatchObject({
      path: 'dsr.options.evidence.resourceSubject',
    });
    expect((await errorOf(build({ pseudonymKey: randomBytes(32), keepAll: true }))).details).toMatchObject({
      path: 'dsr.options.evidence.keepAll',
    });
    expect((await errorOf(build({ discardSecurityEvidence: 'yes' }))).details).toMatchObject({
      path: 'dsr.options.evidence.discardSecurityEvidence',
    });
    // No audit log: nothing to pseudonymise, no key needed.
    expect(() => new DataSubjectRequests({ verifyIdentity: allowAll })).not.toThrow();
    expect(() => build({ discardSecurityEvidence: true })()).not.toThrow();
    expect(await codeOf(async () => build({ discardSecurityEvidence: true })().securityEvents('nope'))).toBe(
      ErrorCodes.PRIVACY_NOT_FOUND,
    );
    await log.close();
  });
});
