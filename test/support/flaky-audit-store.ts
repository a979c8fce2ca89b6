import { AuditLog, MemoryAuditStore, type AuditEntry } from '@bulwark/core';
import type { AuditPrepare } from '@bulwark/core/store';
import { testKit } from './http-test-kit';

/**
 * A real memory store whose appends can be made to fail, as a full disk or a lost database
 * would: the failure is the store's own (the log's write path, group commit and counters all run).
 */
export class FlakyAuditStore extends MemoryAuditStore {
  failing = false;
  /** While set, appends wait for it (a slow disk), after calling `onAppend`. */
  gate?: Promise<void>;
  onAppend?: () => void;

  override async append(prepare: AuditPrepare): Promise<AuditEntry[]> {
    this.onAppend?.();
    if (this.gate !== undefined) await this.gate;
    if (this.failing) throw new Error('disk full while writing jane@example.com');
    return super.append(prepare);
  }
}

/** What the PHI routes of the fail-closed suites answer: none of it may leave on a 503. */
export const PATIENT = { name: 'Jane Roe', diagnosis: 'secret-diagnosis-qxz' };
// No fragment a request id can hold: '4711' was here, and a random UUID's third group is 4711
// once in 4,096 responses (a 503's requestId failed the Nest suite in CI that way).
export const LEAKS = /Jane|secret-diagnosis|qxz/;

/** The shared test kit with its audit log on a FlakyAuditStore; onError calls are collected. */
export async function flakyAuditKit() {
  const t = await testKit();
  await t.auditLog.close();
  const store = new FlakyAuditStore();
  const writeFailures: string[] = [];
  const auditLog = await AuditLog.open({
    store,
    onWriteFailure: (error) => writeFailures.push(error.code),
  });
  await t.consent.grant('alice', 'marketing');
  const reported: unknown[] = [];
  return {
    ...t,
    kit: { ...t.kit, auditLog },
    auditLog,
    store,
    /** Errors the request auditor reported (once per burst). */
    reported,
    onError: (error: unknown) => reported.push(error),
    writeFailures,
    close: () => auditLog.close(),
  };
}
