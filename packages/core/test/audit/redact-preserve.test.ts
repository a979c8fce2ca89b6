import { AuditLog } from '../../src/audit/audit-log';
import { MemoryAuditStore } from '../../src/audit/memory-audit-store';
import { CheckpointSigner } from '../../src/audit/checkpoint-signer';
import { PRESERVED_FROM_KEY, SubjectPseudonymizer } from '../../src/audit/subject-pseudonymizer';
import { verifyAuditLog } from '../../src/audit/verify-audit-log';
import { ErrorCodes } from '../../src/errors';
import { event, steppingClock, storeFactories } from './audit-helpers';

const KEY = Buffer.alloc(32, 7);

describe.each(storeFactories)('AuditLog.redact with preserve (%s)', (_name, makeStore) => {
  it('appends pseudonymised copies of the kept entries, stubs every original, and the chain verifies', async () => {
    const store = await makeStore();
    const hmacKey = Buffer.alloc(32, 9);
    const signer = await CheckpointSigner.generate();
    const log = await AuditLog.open({ store, hmacKey, signer, clock: steppingClock() });
    await log.append(event({ outcome: 'success' }));
    await log.append(event({ outcome: 'denied', resource: { type: 'patient', id: 'p-2' } }));
    await log.append(event({ actor: { id: 'bob', type: 'user' } }));
    const denied = (await log.query({ outcome: 'denied' })).entries[0]!;
    const before = await log.checkpoint();
    const p = new SubjectPseudonymizer({ key: KEY });

    const report = await log.redact({ actorId: 'alice' }, 'GDPR Art. 17 erasure', {
      preserve: (e) => (e.outcome === 'denied' ? p.preserve(e, ['alice']) : undefined),
    });
    expect(report).toMatchObject({ removed: 2, ranges: [[1, 2]], preserved: 1 });

    const all = (await log.query({ limit: 100 })).entries;
    expect(JSON.stringify(all)).not.toContain('"alice"');
    expect(all.slice(0, 2).every((e) => e.redacted !== undefined)).toBe(true);
    const copy = (await log.query({ outcome: 'denied' })).entries;
    expect(copy).toHaveLength(1);
    expect(copy[0]).toMatchObject({
      actor: { id: p.pseudonym('alice'), type: 'user', ip: '203.0.113.7' },
      action: 'patient.read',
      resource: { type: 'patient', id: 'p-2' },
      outcome: 'denied',
      requestId: 'req-1',
      time: denied.time,
      details: { [PRESERVED_FROM_KEY]: { seq: denied.seq, leafHash: denied.leafHash } },
    });
    // The copy is an ordinary entry: its content is checked against its leaf hash.
    const report2 = await log.verify();
    expect(report2.ok).toBe(true);
    expect(report2.checkpointsVerified).toBeGreaterThanOrEqual(1);
    expect(
      (await verifyAuditLog(store, { hmacKey, checkpoints: [before], publicKey: signer.publicKey })).ok,
    ).toBe(true);
    await log.close();
  });

  it('refuses a copy that claims a reserved action, before anything is removed', async () => {
    const log = await AuditLog.open({ store: await makeStore() });
    await log.append(event());
    await expect(
      log.redact({ actorId: 'alice' }, 'erasure', {
        preserve: (e) => ({ ...p(e), action: 'audit.redacted' }),
      }),
    ).rejects.toMatchObject({ code: ErrorCodes.AUDIT_INVALID_ARGUMENT });
    expect((await log.query({ actorId: 'alice' })).entries).toHaveLength(1);
    await log.close();
  });
});

function p(e: Parameters<SubjectPseudonymizer['preserve']>[0]) {
  return new SubjectPseudonymizer({ key: KEY }).preserve(e, ['alice']);
}

describe('AuditLog.redact with preserve: details that outgrow the size limit', () => {
  it('keeps the copy without its details rather than failing the erasure', async () => {
    const log = await AuditLog.open({ store: storeFactoriesMemory() });
    // About 32 KiB of details, full of a short id that the (longer) pseudonym replaces.
    const big = Array.from({ length: 40 }, () => 'u1 '.repeat(266));
    await log.append(event({ actor: { id: 'u1', type: 'user' }, outcome: 'denied', details: { seen: big } }));
    const ps = new SubjectPseudonymizer({ key: KEY });
    const report = await log.redact({ actorId: 'u1' }, 'erasure', {
      preserve: (e) => ps.preserve(e, ['u1']),
    });
    expect(report.preserved).toBe(1);
    const [copy] = (await log.query({ outcome: 'denied' })).entries;
    expect(copy!.actor!.id).toBe(ps.pseudonym('u1'));
    expect(copy!.details).toEqual({
      [PRESERVED_FROM_KEY]: { seq: 1, leafHash: expect.any(String) },
      detailsOmitted: true,
    });
    expect((await log.verify()).ok).toBe(true);
    await log.close();
  });
});

function storeFactoriesMemory() {
  return new MemoryAuditStore();
}
