import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { AuditLog } from '../../src/audit/audit-log';
import { MemoryAuditStore } from '../../src/audit/memory-audit-store';
import { FileAuditStore } from '../../src/audit/file-audit-store';
import { KeyRing } from '../../src/crypto/key-ring';
import { generateMasterKey } from '../../src/crypto/master-key';
import { MemoryKeyStore } from '../../src/crypto/memory-key-store';
import { rewrap } from '../../src/crypto/rewrap';
import { DataSubjectRequests } from '../../src/privacy/data-subject-requests';
import { renderSecurityReportHtml, renderSecurityReportMarkdown, securityReport } from '../../src/reports';
import { providerFor } from '../crypto/helpers';
import { manualClock } from '../privacy/privacy-helpers';

// The security report's sections for data-subject request deadlines, key rotations and audit
// integrity checks (issue 19), each read from entries that the engines themselves write: the DSR
// register (every dsr.* entry carries the deadline), the key ring (key.rotated) and
// AuditLog.verify() (audit.verified). No entry here is hand-written.

const period = { from: '2026-04-01T00:00:00.000Z', to: '2026-04-04T00:00:00.000Z' };
const allowAll = (): boolean => true;

async function scenario() {
  const clock = manualClock('2026-03-01T09:00:00.000Z');
  const store = new MemoryAuditStore();
  const log = await AuditLog.open({ store, clock: clock.now });
  const dsr = new DataSubjectRequests({
    verifyIdentity: allowAll,
    auditLog: log,
    clock: clock.now,
    evidence: { pseudonymKey: randomBytes(32) },
  });

  // Before the period: late (due 03-31, never closed), completed inside the period, rejected before it.
  const late = await dsr.receive({ type: 'access', subjectId: 'alice' });
  const done = await dsr.receive({ type: 'erasure', subjectId: 'bob' });
  const rejected = await dsr.receive({ type: 'access', subjectId: 'carol' });
  clock.set('2026-03-10T09:00:00.000Z');
  await dsr.reject(rejected.id, 'identity could not be established');
  await dsr.verifyIdentity(done.id);
  await dsr.start(done.id);
  clock.set('2026-04-02T09:00:00.000Z'); // after its deadline (03-31): completed late
  await dsr.complete(done.id, 'erased');
  clock.set('2026-04-03T09:00:00.000Z');
  const fresh = await dsr.receive({ type: 'portability', subjectId: 'dave' }); // due 05-03

  // Key lifecycle, recorded by the ring itself.
  const oldKey = generateMasterKey();
  const oldMaster = providerFor(oldKey);
  const keyStore = new MemoryKeyStore();
  const first = await KeyRing.open({ provider: oldMaster, store: keyStore, clock: clock.now, auditLog: log });
  await first.createKey('pii');
  const value = first.encrypt('pii', 'a secret value');
  clock.set('2026-04-03T10:00:00.000Z');
  await first.rotate('pii');
  const written: string[] = [];
  await rewrap(first, [{ id: 'row-1', value }], { write: (_id, v) => void written.push(v) });
  await first.close();
  const newMaster = providerFor();
  const ring = await KeyRing.open({
    provider: newMaster,
    previousProvider: providerFor(oldKey), // the first ring closed its provider
    store: keyStore,
    clock: clock.now,
    auditLog: log,
  });
  clock.set('2026-04-03T11:00:00.000Z');
  const master = await ring.rotateMaster();
  await ring.close();

  // Two verification runs: intact, then after an entry was edited in the store.
  clock.set('2026-04-03T12:00:00.000Z');
  expect((await log.verify()).ok).toBe(true);
  clock.set('2026-04-03T13:00:00.000Z');
  const at = store.rawEntries.findIndex((e) => e.action === 'key.rotated');
  const original = store.rawEntries[at]!;
  const victimSeq = original.seq;
  store.rawEntries[at] = { ...original, outcome: 'failure' }; // an edit in the store
  expect((await log.verify()).ok).toBe(false);
  store.rawEntries[at] = original;
  return { log, late, done, rejected, fresh, value, written, master, victimSeq };
}

describe('security report: DSR deadlines, key rotations, integrity checks', () => {
  it('lists open, overdue and closed requests with their deadlines, each reproducible', async () => {
    const s = await scenario();
    const r = await securityReport(s.log, period);
    expect(r.figures.dsrOpen).toMatchObject({ count: 2, counts: 'requests' });
    expect(r.figures.dsrOverdue).toMatchObject({ count: 2, counts: 'requests' }); // open late + closed late
    expect(r.figures.dsrCompleted.count).toBe(1);
    expect(r.figures.dsrReceived.count).toBe(1); // only `fresh` was received inside the period
    expect(r.figures.dsrOpen.command).toBe(
      'bulwark audit export --action dsr.* --to 2026-04-04T00:00:00.000Z',
    );
    // Earliest deadline first; the request rejected before the period is not listed.
    expect(r.dsrDeadlines.map((d) => [d.id, d.status, d.overdue])).toEqual([
      [s.late.id, 'received', true],
      [s.done.id, 'completed', true],
      [s.fresh.id, 'received', false],
    ]);
    const [late, done, fresh] = r.dsrDeadlines;
    expect(late).toMatchObject({
      type: 'access',
      receivedAt: '2026-03-01T09:00:00.000Z',
      dueAt: s.late.dueAt,
    });
    expect(done).toMatchObject({ completedAt: '2026-04-02T09:00:00.000Z', dueAt: s.done.dueAt });
    expect(fresh!.dueAt).toBe('2026-05-03T09:00:00.000Z');
    expect(r.dsrDeadlines.some((d) => d.id === s.rejected.id)).toBe(false);
    // Each request's query lists exactly its own history; its command is the same query.
    for (const d of r.dsrDeadlines) {
      const entries = (await s.log.query({ ...d.query, limit: 1000 })).entries;
      expect(entries.length).toBeGreaterThan(0);
      expect(entries.every((e) => e.resource?.id === d.id && e.action?.startsWith('dsr.') === true)).toBe(
        true,
      );
      expect(d.command).toBe(
        `bulwark audit export --resource-type data-subject-request --resource-id ${d.id} --to ${period.to}`,
      );
    }
    // The open/overdue counts follow from the figure's own query (replayed here independently).
    const history = (await s.log.query({ ...r.figures.dsrOpen.query, limit: 1000 })).entries;
    const last = new Map<string, string>();
    for (const e of history) last.set(e.resource!.id!, String(e.details?.status));
    expect([...last.values()].filter((st) => st !== 'completed' && st !== 'rejected')).toHaveLength(2);
    // No subject id anywhere in the section (entries carry the request id and a pseudonymous ref).
    expect(JSON.stringify(r)).not.toMatch(/alice|bob|carol|dave/);
    await s.log.close();
  });

  it('lists key rotations recorded by the ring (rotate, rewrap, rotate-master), no key material', async () => {
    const s = await scenario();
    const r = await securityReport(s.log, period);
    expect(r.keyRotations.map((k) => [k.operation, k.keyId, k.version])).toEqual([
      ['rotate', 'pii', 2],
      ['rewrap', 'pii', 2],
      ['rotate-master', '$master', undefined],
    ]);
    expect(r.keyRotations[1]!.rewrapped).toBe(1);
    expect(r.keyRotations[2]).toMatchObject({
      masterKeyId: s.master.masterKeyId,
      rewrapped: s.master.rewrapped,
    });
    expect(s.master.complete).toBe(true);
    expect(r.figures.keyRotations.count).toBe(3);
    expect((await s.log.query({ ...r.figures.keyRotations.query, limit: 1000 })).entries).toHaveLength(3);
    // The entries hold ids, versions and counts: never a wrapped or raw key, nor the value.
    const entries = (await s.log.query({ action: 'key.rotated', limit: 1000 })).entries;
    const allowed = new Set([
      'operation',
      'keyId',
      'version',
      'rewrapped',
      'masterKeyId',
      'previousMasterKeyId',
      'alreadyCurrent',
      'failed',
      'complete',
    ]);
    for (const e of entries) expect(Object.keys(e.details ?? {}).filter((k) => !allowed.has(k))).toEqual([]);
    const raw = JSON.stringify(entries);
    expect(raw).not.toContain(s.value.split('.').pop()!);
    expect(raw).not.toContain(s.written[0]!.split('.').pop()!);
    await s.log.close();
  });

  it('lists every verification run with its range and the first fault of a failed one', async () => {
    const s = await scenario();
    const r = await securityReport(s.log, period);
    expect(r.figures.integrityChecks.count).toBe(2);
    expect(r.figures.integrityFailures.count).toBe(1);
    for (const f of [r.figures.integrityChecks, r.figures.integrityFailures]) {
      expect((await s.log.query({ ...f.query, limit: 1000 })).entries).toHaveLength(f.count);
    }
    const [ok, bad] = r.integrityChecks;
    expect(ok).toMatchObject({ ok: true, source: 'api', fromSeq: 1 });
    expect(ok!.toSeq).toBe(ok!.seq - 1); // recorded right after the entries it checked
    expect(bad).toMatchObject({ ok: false, firstBad: { seq: s.victimSeq, reason: 'hash-mismatch' } });
    expect(bad!.toSeq).toBe(s.victimSeq - 1); // checked up to the entry before the fault

    const md = renderSecurityReportMarkdown(r);
    expect(md).toContain('## Data-subject requests and deadlines');
    expect(md).toContain(`| ${s.late.id} | access | received |`);
    expect(md).toContain('| Key rotations (rotate, rewrap, master key) | 3 |');
    expect(md).toContain(`**FAILED** at ${s.victimSeq} (hash-mismatch)`);
    const html = renderSecurityReportHtml(r);
    expect(html).toContain('<h2>Audit integrity checks</h2>');
    expect(html).toContain(`FAILED at ${s.victimSeq} (hash-mismatch)`);
    expect(html).toContain('class="overdue"');
    expect(html).not.toMatch(/<script|src=/i);
    await s.log.close();
  });

  it('verify({ record: false }) and recordVerifications: false leave no entry', async () => {
    const log = await AuditLog.open({ store: new MemoryAuditStore(), recordVerifications: false });
    await log.append({ actor: { id: 'u', type: 'user' }, action: 'record.read', outcome: 'success' });
    await log.verify();
    expect(log.size).toBe(1);
    await log.verify({ record: true });
    expect((await log.get(2))?.action).toBe('audit.verified');
    await log.close();
  });

  it('a log opened read-only verifies without recording (and without a write-failure alarm)', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bulwark-verified-ro-'));
    try {
      const file = path.join(dir, 'audit.jsonl');
      const writer = await AuditLog.open({ store: await FileAuditStore.open({ path: file }) });
      await writer.append({ actor: { id: 'u', type: 'user' }, action: 'record.read', outcome: 'success' });
      const failures: unknown[] = [];
      const reader = await AuditLog.open({
        store: await FileAuditStore.open({ path: file, readOnly: true }),
        onWriteFailure: (e) => failures.push(e),
      });
      expect((await reader.verify()).ok).toBe(true);
      await reader.close();
      expect(failures).toEqual([]);
      expect(writer.size).toBe(1);
      // The writer records its own runs.
      await writer.verify();
      expect((await writer.get(2))?.action).toBe('audit.verified');
      await writer.close();
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
