import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AlertRouter, type Alert } from '../../src/alerts';
import { SpoolPendingQueue } from '../../src/alerts/pending-queue';
import { AuditLog } from '../../src/audit/audit-log';
import { MemoryAuditStore } from '../../src/audit/memory-audit-store';
import { ErrorCodes } from '../../src/errors';

// The retry queue of a channel: a record that is not an alert must not block it, and the audit
// trail says whether a failed alert really waits in it.

describe('AlertRouter retry queue', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'bw-alert-queue-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('drops an unreadable queued record, reports it through onError and delivers the next', async () => {
    const seeded = await SpoolPendingQueue.open(dir, 'pager', 1024 * 1024);
    await seeded.append('{"id":"alrt_1","rule":'); // cut short by a crash
    await seeded.append('null');
    await seeded.append(JSON.stringify({ id: 'alrt_2', rule: 'r', severity: 'high', message: 'm' }));
    await seeded.close();
    const sent: Alert[] = [];
    const errors: unknown[] = [];
    const router = await AlertRouter.open({
      channels: [{ name: 'pager', kind: 'memory', send: async (a) => void sent.push(a) }],
      spool: { dir },
      retry: { intervalMs: 0 },
      onError: (e) => errors.push(e),
    });
    try {
      expect(await router.retryPending()).toEqual({ delivered: 1, pending: 0 });
      expect(sent.map((a) => a.id)).toEqual(['alrt_2']);
      expect(errors).toEqual([
        expect.objectContaining({
          code: ErrorCodes.ALERT_DELIVERY_FAILED,
          details: expect.objectContaining({ channel: 'pager' }),
        }),
        expect.objectContaining({ code: ErrorCodes.ALERT_DELIVERY_FAILED }),
      ]);
      // What onError reports names no record content.
      expect(JSON.stringify(errors)).not.toContain('alrt_1');
    } finally {
      await router.close();
    }
  });

  it('records queued: false for an alert that failed after close() (nothing waits for a retry)', async () => {
    const log = await AuditLog.open({ store: new MemoryAuditStore() });
    const router: AlertRouter = await AlertRouter.open({
      channels: [
        {
          name: 'pager',
          kind: 'memory',
          send: async () => {
            await router.close(); // the app shuts down while the delivery is failing
            throw new Error('down');
          },
        },
      ],
      spool: { dir },
      retry: { attempts: 1, intervalMs: 0 },
      auditLog: log,
    });
    await router.notify({ rule: 'r', severity: 'high', category: 'detection', message: 'm' });
    await log.flush();
    const failed = (await log.query({ action: 'alert.failed' })).entries;
    expect(failed).toHaveLength(1);
    expect(failed[0]!.details).toMatchObject({ queued: false });
    const reopened = await AlertRouter.open({
      channels: [{ name: 'pager', kind: 'memory', send: async () => undefined }],
      spool: { dir },
      retry: { intervalMs: 0 },
    });
    expect(reopened.pending()).toBe(0);
    await reopened.close();
    await log.close();
  });
});
