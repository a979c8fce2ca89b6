import { AuditLog } from '../../src/audit/audit-log';
import type { AuditPrepare } from '../../src/audit/audit-store';
import { CheckpointSigner } from '../../src/audit/checkpoint-signer';
import { MemoryAuditStore } from '../../src/audit/memory-audit-store';
import { MemoryCheckpointStore } from '../../src/audit/memory-checkpoint-store';
import { BulwarkConfigError, BulwarkError, ErrorCodes } from '../../src/errors';
import type { AuditWriteHealth } from '../../src/compliance/evidence';
import { event } from './audit-helpers';

/** A real memory store whose appends can be made to fail (a disk or database that went away). */
class FlakyStore extends MemoryAuditStore {
  failing = false;
  override append(prepare: AuditPrepare) {
    if (this.failing) {
      // A driver error quoting a value: it must never reach the report.
      return Promise.reject(new Error('insert failed: value (jane@example.com) violates constraint'));
    }
    return super.append(prepare);
  }
}

describe('AuditLog write health', () => {
  it('counts stored and lost appends, and reports a failure burst once without event content', async () => {
    const store = new FlakyStore();
    const reports: [string, AuditWriteHealth][] = [];
    const log = await AuditLog.open({
      store,
      onWriteFailure: (error, health) => reports.push([error.code, health]),
    });
    await log.append(event());
    expect(log.describe().writes).toEqual({ failed: 0, succeeded: 1, failing: false });

    store.failing = true;
    const lost = await Promise.allSettled([
      log.append(event()),
      log.append(event()),
      log.append(event({ actor: { id: 'jane@example.com', type: 'user' } })),
    ]);
    expect(lost.every((r) => r.status === 'rejected')).toBe(true);
    // a second burst of requests while the store is still down
    await expect(log.append(event())).rejects.toMatchObject({ code: ErrorCodes.AUDIT_STORE });
    const writes = log.describe().writes;
    expect(writes).toMatchObject({
      failed: 4,
      succeeded: 1,
      failing: true,
      lastFailureCode: 'ERR_AUDIT_STORE',
    });
    expect(Number.isNaN(Date.parse(writes.lastFailureAt!))).toBe(false);
    // once per burst, not once per event
    expect(reports).toHaveLength(1);
    expect(reports[0]![0]).toBe('ERR_AUDIT_STORE');
    expect(JSON.stringify(reports)).not.toContain('jane');

    store.failing = false;
    await log.append(event());
    expect(log.writes).toMatchObject({ failed: 4, succeeded: 2, failing: false });
    store.failing = true;
    await expect(log.append(event())).rejects.toBeInstanceOf(BulwarkError);
    expect(reports).toHaveLength(2); // a new burst is reported again
    await log.close();
  });

  it('reports to console.error by default with the code, never the cause or the event', async () => {
    const store = new FlakyStore();
    const errors: string[] = [];
    const spy = jest.spyOn(console, 'error').mockImplementation((...args: unknown[]) => {
      errors.push(args.map(String).join(' '));
    });
    try {
      const log = await AuditLog.open({ store });
      store.failing = true;
      await Promise.allSettled([log.append(event()), log.append(event())]);
      await expect(log.append(event())).rejects.toThrow();
      expect(errors).toHaveLength(1);
      expect(errors[0]).toContain('ERR_AUDIT_STORE');
      expect(errors[0]).not.toContain('jane@example.com');
      store.failing = false;
      await log.append(event());
      expect(errors).toHaveLength(2);
      expect(errors[1]).toContain('recovered');
      await log.close();
    } finally {
      spy.mockRestore();
    }
  });
});

/** Polls (no timers: some tests fake them) until `cond` holds; the checkpoints are signed off the append path. */
async function until(cond: () => Promise<boolean> | boolean): Promise<void> {
  // Signing runs on the thread pool: under load it can take many event-loop turns.
  for (let i = 0; i < 200_000; i++) {
    if (await cond()) return;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error('condition not reached');
}

describe('AuditLog automatic checkpoints', () => {
  it('signs a checkpoint every N entries, so a cut tail is caught by verify', async () => {
    const store = new MemoryAuditStore();
    const checkpointStore = new MemoryCheckpointStore();
    const signer = await CheckpointSigner.generate();
    const log = await AuditLog.open({
      store,
      signer,
      checkpointStore,
      checkpoint: { every: { entries: 3 } },
      closeStore: false,
    });
    for (let i = 1; i <= 7; i++) {
      await log.append(event());
      if (i % 3 === 0) await until(async () => (await checkpointStore.latest())?.treeSize === i);
    }
    expect((await checkpointStore.list()).map((c) => c.treeSize)).toEqual([3, 6]);
    expect(log.describe().autoCheckpoint).toEqual({ entries: 3 });
    await log.close();

    // Someone with write access to the store deletes the newest entries.
    store.rawEntries.splice(4);
    const reopened = await AuditLog.open({ store, signer, checkpointStore });
    const report = await reopened.verify();
    expect(report.ok).toBe(false);
    await reopened.close();
  });

  it('signs on a timer only when entries were added', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] });
    try {
      const checkpointStore = new MemoryCheckpointStore();
      const log = await AuditLog.open({
        store: new MemoryAuditStore(),
        signer: await CheckpointSigner.generate(),
        checkpointStore,
        checkpoint: { every: { ms: 1000 } },
      });
      jest.advanceTimersByTime(1000);
      await new Promise((r) => setImmediate(r));
      expect(await checkpointStore.list()).toHaveLength(0);
      await log.append(event());
      jest.advanceTimersByTime(1000);
      await until(async () => (await checkpointStore.list()).length > 0);
      expect((await checkpointStore.list()).map((c) => c.treeSize)).toEqual([1]);
      await log.close();
    } finally {
      jest.useRealTimers();
    }
  });

  it('rejects bad options at open', async () => {
    const signer = await CheckpointSigner.generate();
    const store = new MemoryAuditStore();
    await expect(AuditLog.open({ store, checkpoint: { every: { entries: 10 } } })).rejects.toThrow(
      'audit.checkpoint needs a signer',
    );
    for (const bad of [
      {},
      { every: {} },
      { every: { entries: 0 } },
      { every: { ms: -1 } },
      { every: { n: 1 } },
    ]) {
      await expect(AuditLog.open({ store, signer, checkpoint: bad as never })).rejects.toBeInstanceOf(
        BulwarkConfigError,
      );
    }
  });

  it('reports a failing checkpoint without failing appends', async () => {
    const errors: unknown[] = [];
    const checkpointStore = new MemoryCheckpointStore();
    checkpointStore.save = () => Promise.reject(new Error('bucket unreachable'));
    const log = await AuditLog.open({
      store: new MemoryAuditStore(),
      signer: await CheckpointSigner.generate(),
      checkpointStore,
      checkpoint: { every: { entries: 1 } },
      onCheckpointError: (e) => errors.push(e),
    });
    await log.append(event());
    await until(() => errors.length > 0);
    expect(errors).toHaveLength(1);
    expect(log.writes).toMatchObject({ succeeded: 1, failed: 0 });
    await log.close();
  });
});
