import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { AuditEntry, AuditEvent } from '../../src/audit/audit-event';
import type { AuditStore } from '../../src/audit/audit-store';
import { FileAuditStore } from '../../src/audit/file-audit-store';
import { MemoryAuditStore } from '../../src/audit/memory-audit-store';

const created: string[] = [];
afterAll(() => {
  for (const dir of created.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

export function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bulwark-audit-'));
  created.push(dir);
  return dir;
}

/** The two built-in stores, so one test table runs over both. */
export const storeFactories: [string, () => Promise<AuditStore>][] = [
  ['MemoryAuditStore', async () => new MemoryAuditStore()],
  [
    'FileAuditStore',
    async () => FileAuditStore.open({ path: path.join(tempDir(), 'audit.jsonl'), fsync: 'none' }),
  ],
];

/** A fixed clock that advances one second per call. */
export function steppingClock(start = '2025-01-01T00:00:00.000Z'): () => Date {
  let t = Date.parse(start);
  return () => {
    const d = new Date(t);
    t += 1000;
    return d;
  };
}

export function event(overrides: Partial<AuditEvent> = {}): AuditEvent {
  return {
    actor: { id: 'alice', type: 'user', ip: '203.0.113.7', userAgent: 'jest', sessionId: 's-1' },
    action: 'patient.read',
    resource: { type: 'patient', id: 'p-1' },
    outcome: 'success',
    requestId: 'req-1',
    ...overrides,
  };
}

/** Deep, unfrozen copy of stored entries (what an attacker with storage access can edit). */
export function copyEntries(entries: readonly AuditEntry[]): AuditEntry[] {
  return JSON.parse(JSON.stringify(entries)) as AuditEntry[];
}
