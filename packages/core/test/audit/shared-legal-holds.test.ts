import { AuditLog } from '../../src/audit/audit-log';
import { MemoryAuditStore } from '../../src/audit/memory-audit-store';
import type { LegalHold } from '../../src/audit/retention-policy';
import { ErrorCodes } from '../../src/errors';
import { MemoryRegisterStore } from '../../src/privacy/register-store';

const OLD = '2024-01-01T00:00:00.000Z';
const NOW = new Date('2026-06-01T00:00:00.000Z');

/** Two instances of one application: one audit store, one hold store, their own AuditLog each. */
async function twoInstances() {
  const store = new MemoryAuditStore();
  const holdStore = new MemoryRegisterStore<LegalHold>();
  const open = () =>
    AuditLog.open({
      store,
      closeStore: false,
      retention: {
        periods: { default: 30 },
        holds: [{ id: 'configured', reason: 'policy', actorId: 'auditor' }],
        holdStore,
      },
    });
  const a = await open();
  for (const actor of ['erin', 'frank', 'auditor']) {
    await a.append({
      actor: { id: actor, type: 'user' },
      action: 'record.read',
      outcome: 'success',
      time: OLD,
    });
  }
  await a.flush();
  const b = await open();
  return { a, b, holdStore };
}

describe('legal holds shared through a hold store', () => {
  it('a hold placed on one instance stops the purge run on another', async () => {
    const { a, b } = await twoInstances();
    await a.addLegalHold({ id: 'case-7', reason: 'litigation', actorId: 'erin' });
    const report = await b.purge({ now: NOW });
    expect(report.held).toEqual({ count: 2, holdIds: ['case-7', 'configured'] });
    expect(report.removed).toBe(1); // frank's entry only
    expect((await b.get(1))?.actor?.id).toBe('erin');
    expect((await b.legalHolds()).map((h) => h.id).sort()).toEqual(['case-7', 'configured']);
  });

  it('a hold lifted on one instance no longer holds on the other; ids are never reused silently', async () => {
    const { a, b } = await twoInstances();
    await a.addLegalHold({ id: 'case-8', reason: 'litigation', actorId: 'erin' });
    await expect(b.addLegalHold({ id: 'case-8', reason: 'other', actorId: 'frank' })).rejects.toMatchObject({
      code: ErrorCodes.AUDIT_INVALID_ARGUMENT,
    });
    // A configured hold is configuration: neither replaced nor lifted at run time.
    await expect(b.addLegalHold({ id: 'configured', reason: 'x', actorId: 'erin' })).rejects.toMatchObject({
      code: ErrorCodes.AUDIT_INVALID_ARGUMENT,
    });
    expect(await b.removeLegalHold('configured')).toBe(false);
    expect(await b.removeLegalHold('case-8')).toBe(true);
    const report = await a.purge({ now: NOW });
    expect(report.held).toEqual({ count: 1, holdIds: ['configured'] });
    expect(report.removed).toBe(2);
  });

  it('survives a restart: a new instance finds the holds in the store', async () => {
    const { a, holdStore } = await twoInstances();
    await a.addLegalHold({ id: 'case-9', reason: 'litigation', resourceId: 'r-1' });
    expect((await holdStore.list()).map((r) => r.value.id)).toEqual(['case-9']);
    const restarted = await AuditLog.open({ store: new MemoryAuditStore(), retention: { holdStore } });
    expect(restarted.retention.describe().legalHolds).toBe(1);
  });

  it('refuses a hold store that is not one, naming the option', async () => {
    await expect(
      AuditLog.open({ store: new MemoryAuditStore(), retention: { holdStore: {} as never } }),
    ).rejects.toMatchObject({
      code: ErrorCodes.CONFIG_INVALID,
      details: { path: 'audit.retention.holdStore' },
    });
  });
});
