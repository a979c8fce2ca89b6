import { AuditLog } from '../../src/audit/audit-log';
import { MemoryAuditStore } from '../../src/audit/memory-audit-store';
import { ErrorCodes } from '../../src/errors';
import { DataRetention, type RetentionSource } from '../../src/privacy/data-retention';
import { codeOf } from './privacy-helpers';

const DAY = 86_400_000;
const NOW = new Date('2025-06-01T00:00:00Z');

interface Row {
  id: number;
  subject: string;
  createdAt: number;
}

/** A table-like source: rows with a subject and a creation time. */
function table(id: string, category: string, rows: Row[], supportsSubjectExclusion = true) {
  const calls: { olderThan: string; limit: number; exclude: readonly string[] }[] = [];
  const source: RetentionSource = {
    id,
    category,
    supportsSubjectExclusion,
    purge(olderThan, limit, ctx) {
      calls.push({ olderThan: olderThan.toISOString(), limit, exclude: ctx.excludeSubjects });
      const victims = rows
        .filter((r) => r.createdAt < olderThan.getTime() && !ctx.excludeSubjects.includes(r.subject))
        .slice(0, limit);
      for (const v of victims) rows.splice(rows.indexOf(v), 1);
      return victims.length;
    },
    countPurgeable(olderThan, ctx) {
      return rows.filter((r) => r.createdAt < olderThan.getTime() && !ctx.excludeSubjects.includes(r.subject))
        .length;
    },
  };
  return { source, rows, calls };
}

function rowsOf(n: number, ageDays: number, subject = 's'): Row[] {
  return Array.from({ length: n }, (_v, i) => ({
    id: i,
    subject: `${subject}${i % 3}`,
    createdAt: NOW.getTime() - ageDays * DAY,
  }));
}

describe('DataRetention', () => {
  it('dry run plans and counts; a real purge deletes in batches and is audited', async () => {
    const log = await AuditLog.open({ store: new MemoryAuditStore() });
    const retention = new DataRetention({ auditLog: log, clock: () => NOW });
    const sessions = table('sessions', 'telemetry', [...rowsOf(25, 40), ...rowsOf(5, 10)]);
    retention.registerSource(sessions.source);
    await retention.addPolicy({ category: 'telemetry', days: 30, basis: 'security monitoring' });

    const plan = await retention.purgeable(NOW);
    expect(plan).toEqual([
      {
        sourceId: 'sessions',
        category: 'telemetry',
        ruleId: 'category:telemetry',
        days: 30,
        olderThan: '2025-05-02T00:00:00.000Z',
        blockedBy: [],
        excludedHolds: [],
        count: 25,
      },
    ]);
    const dry = await retention.purge({ now: NOW, dryRun: true, batchSize: 10 });
    expect(dry).toMatchObject({ dryRun: true, total: 0, sources: [{ purged: 0, count: 25 }] });
    expect(sessions.rows).toHaveLength(30);
    expect(sessions.calls).toEqual([]);

    const real = await retention.purge({ now: NOW, batchSize: 10 });
    expect(real).toMatchObject({
      dryRun: false,
      total: 25,
      sources: [{ sourceId: 'sessions', purged: 25, batches: 3 }],
    });
    expect(sessions.rows).toHaveLength(5);
    expect(sessions.calls.map((c) => c.limit)).toEqual([10, 10, 10]);
    const audited = (await log.query({ action: 'retention.*' })).entries;
    expect(audited).toHaveLength(1);
    expect(audited[0]).toMatchObject({
      action: 'retention.purged',
      outcome: 'success',
      resource: { type: 'retention-source', id: 'sessions' },
      details: { purged: 25, batches: 3, days: 30 },
    });
    expect(await retention.sources()).toEqual([
      {
        id: 'sessions',
        category: 'telemetry',
        ruleId: 'category:telemetry',
        days: 30,
        lastPurge: { at: NOW.toISOString(), purged: 25, outcome: 'success' },
      },
    ]);
    await log.close();
  });

  it('a source rule wins over a category rule; sources without a rule are reported, not purged', async () => {
    const retention = new DataRetention({ clock: () => NOW });
    const a = table('orders', 'finance', rowsOf(4, 400));
    const b = table('invoices', 'finance', rowsOf(4, 400));
    const c = table('misc', 'other', rowsOf(4, 400));
    [a, b, c].forEach((t) => retention.registerSource(t.source));
    await retention.addPolicy({ category: 'finance', days: 3650, basis: 'tax law' });
    await retention.addPolicy({ sourceId: 'orders', days: 365, basis: 'contract' });
    const report = await retention.purge({ now: NOW });
    expect(report.unmanaged).toEqual(['misc']);
    expect(report.sources.map((s) => [s.sourceId, s.ruleId, s.purged])).toEqual([
      ['invoices', 'category:finance', 0],
      ['orders', 'source:orders', 4],
    ]);
    expect(c.rows).toHaveLength(4);
    expect((await retention.policies()).map((p) => p.id)).toEqual(['category:finance', 'source:orders']);
  });

  it('legal holds block purges: by source, by category, and by subject (excluded or blocking)', async () => {
    const log = await AuditLog.open({ store: new MemoryAuditStore() });
    const retention = new DataRetention({ auditLog: log, clock: () => NOW });
    const mail = table('mail', 'comms', rowsOf(6, 100));
    const chat = table('chat', 'comms', rowsOf(6, 100), false); // cannot exclude subjects
    const logs = table('logs', 'telemetry', rowsOf(6, 100));
    [mail, chat, logs].forEach((t) => retention.registerSource(t.source));
    await retention.addPolicy({ category: 'comms', days: 30, basis: 'b' });
    await retention.addPolicy({ category: 'telemetry', days: 30, basis: 'b' });

    await retention.addHold({ id: 'case-42', reason: 'litigation', subjectId: 's1' });
    await retention.addHold({
      id: 'audit-2025',
      reason: 'regulator audit',
      sourceId: 'logs',
      until: '2025-07-01',
    });
    const plan = await retention.purgeable(NOW);
    expect(plan.map((p) => [p.sourceId, p.blockedBy, p.excludedHolds, p.count])).toEqual([
      ['chat', ['case-42'], [], undefined],
      ['logs', ['audit-2025'], [], undefined],
      ['mail', [], ['case-42'], 4],
    ]);
    const report = await retention.purge({ now: NOW });
    expect(report.sources.map((s) => [s.sourceId, s.purged])).toEqual([
      ['chat', 0],
      ['logs', 0],
      ['mail', 4],
    ]);
    // the held subject's mail survived; the blocked sources were not touched
    expect(mail.rows.map((r) => r.subject)).toEqual(['s1', 's1']);
    expect(mail.calls[0]!.exclude).toEqual(['s1']);
    expect(chat.rows).toHaveLength(6);
    expect(chat.calls).toEqual([]);
    expect(logs.rows).toHaveLength(6);
    const blocked = (await log.query({ action: 'retention.purge-blocked' })).entries;
    expect(blocked.map((e) => [e.resource?.id, e.outcome])).toEqual([
      ['chat', 'denied'],
      ['logs', 'denied'],
    ]);
    // a run a hold blocked is recorded as such (the job ran; the law kept the data)
    expect((await retention.sources()).map((s) => [s.id, s.lastPurge?.outcome])).toEqual([
      ['chat', 'blocked'],
      ['logs', 'blocked'],
      ['mail', 'success'],
    ]);
    // holds are evidence without subject ids
    const holds = await retention.holds(NOW);
    expect(JSON.stringify(holds)).not.toContain('"s1"');
    expect(holds.find((h) => h.id === 'case-42')?.subjectRef).toMatch(/^[0-9a-f]{16}$/);
    await expect(retention.assertNotHeld({ subjectId: 's1' }, NOW)).rejects.toMatchObject({
      code: ErrorCodes.RETENTION_LEGAL_HOLD,
    });
    // an expired hold no longer blocks
    expect(await retention.removeHold('case-42')).toBe(true);
    expect(await retention.removeHold('case-42')).toBe(false);
    const later = await retention.purge({ now: new Date('2025-07-02T00:00:00Z') });
    expect(later.sources.map((s) => [s.sourceId, s.purged])).toEqual([
      ['chat', 6],
      ['logs', 6],
      ['mail', 2],
    ]);
    await log.close();
  });

  it('fails typed when a source throws or returns a bad count, and audits the failure', async () => {
    const log = await AuditLog.open({ store: new MemoryAuditStore() });
    const retention = new DataRetention({ auditLog: log, clock: () => NOW });
    retention.registerSource({
      id: 'x',
      category: 'c',
      purge: () => {
        throw new Error('db gone');
      },
    });
    await retention.addPolicy({ sourceId: 'x', days: 1, basis: 'b' });
    expect(await codeOf(() => retention.purge({ now: NOW }))).toBe(ErrorCodes.RETENTION_PURGE_FAILED);
    const r2 = new DataRetention({ clock: () => NOW });
    r2.registerSource({ id: 'y', category: 'c', purge: () => 99 });
    await r2.addPolicy({ sourceId: 'y', days: 1, basis: 'b' });
    expect(await codeOf(() => r2.purge({ now: NOW, batchSize: 10 }))).toBe(ErrorCodes.RETENTION_PURGE_FAILED);
    expect((await log.query({ action: 'retention.purged', outcome: 'failure' })).entries).toHaveLength(1);
    // the failed run is the source's last purge: retention evidence shows it failed
    expect((await retention.sources())[0]!.lastPurge).toEqual({
      at: NOW.toISOString(),
      purged: 0,
      outcome: 'failure',
    });
    expect((await r2.sources())[0]!.lastPurge).toMatchObject({ outcome: 'failure' });
    await log.close();
  });

  it('validates policies, sources and holds', async () => {
    const r = new DataRetention();
    expect(await codeOf(() => r.addPolicy({ days: 1, basis: 'b' }))).toBe(
      ErrorCodes.PRIVACY_INVALID_ARGUMENT,
    );
    expect(await codeOf(() => r.addPolicy({ category: 'a', sourceId: 'b', days: 1, basis: 'b' }))).toBe(
      ErrorCodes.PRIVACY_INVALID_ARGUMENT,
    );
    expect(await codeOf(() => r.addPolicy({ category: 'a', days: 0, basis: 'b' }))).toBe(
      ErrorCodes.PRIVACY_INVALID_ARGUMENT,
    );
    await r.addPolicy({ category: 'a', days: 1, basis: 'b' });
    expect(await codeOf(() => r.addPolicy({ id: 'other', category: 'a', days: 2, basis: 'b' }))).toBe(
      ErrorCodes.PRIVACY_INVALID_ARGUMENT,
    );
    expect(() => r.registerSource({ id: 's', category: 'a' } as never)).toThrow(
      expect.objectContaining({ code: ErrorCodes.PRIVACY_INVALID_ARGUMENT }),
    );
    expect(await codeOf(() => r.addHold({ id: 'h', reason: 'r' }))).toBe(ErrorCodes.PRIVACY_INVALID_ARGUMENT);
    expect(await codeOf(() => r.purge({ batchSize: -1 }))).toBe(ErrorCodes.PRIVACY_INVALID_ARGUMENT);
  });
});
