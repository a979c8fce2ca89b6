/**
 * Reads a running example's audit trail straight from its store (every example keeps it with
 * @bulwark/typeorm's TypeOrmAuditStore: `audit.sqlite` in its data folder, or the
 * `bulwark_audit_entry` table of its PostgreSQL database), so a test can check what an attack
 * left behind without going through the app's own (authorized) API.
 */
import * as path from 'node:path';
import { DataSource } from 'typeorm';
import type { ExampleProcess } from './example-process';

export interface StoredAuditEntry {
  seq: number;
  action: string | null;
  outcome: string | null;
  requestId: string | null;
  details: Record<string, unknown> | null;
}

interface Row {
  seq: number | string;
  action: string | null;
  outcome: string | null;
  request_id: string | null;
  details: string | null;
}

const SQL = 'SELECT seq, action, outcome, request_id, details FROM bulwark_audit_entry WHERE request_id = ';

async function rowsFor(app: ExampleProcess, requestId: string): Promise<Row[]> {
  const postgres = app.databaseUrl !== undefined;
  const db = new DataSource(
    postgres
      ? { type: 'postgres', url: app.databaseUrl, extra: { max: 1 } }
      : // WAL mode: a read-only connection reads committed entries while the app keeps writing.
        { type: 'better-sqlite3', database: path.join(app.dataDir, 'audit.sqlite'), readonly: true },
  );
  await db.initialize();
  try {
    return (await db.query(`${SQL}${postgres ? '$1' : '?'} ORDER BY seq`, [requestId])) as Row[];
  } finally {
    await db.destroy();
  }
}

/**
 * The audit entries of one request. Request events are written when the response closes and
 * group-committed off the response path, so this polls until at least one is stored.
 */
export async function auditEntriesOf(
  app: ExampleProcess,
  requestId: string,
  timeoutMs = 10_000,
): Promise<StoredAuditEntry[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows = await rowsFor(app, requestId);
    if (rows.length > 0 || Date.now() > deadline) {
      return rows.map((r) => ({
        seq: Number(r.seq),
        action: r.action,
        outcome: r.outcome,
        requestId: r.request_id,
        details: r.details === null ? null : (JSON.parse(r.details) as Record<string, unknown>),
      }));
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
