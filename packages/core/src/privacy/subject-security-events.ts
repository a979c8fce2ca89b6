import type { AuditLog } from '../audit/audit-log';
import type { AuditOutcome } from '../audit/audit-event';
import type { SubjectSecurityEvents } from './erasure-evidence';
import { compareText } from './privacy-input';

/** What the officer's view counts, whatever erasure is configured to keep. */
const SECURITY_EVENT_OUTCOMES: ReadonlySet<AuditOutcome> = new Set(['denied', 'failure']);
/** Most entries one view scans. */
const MAX_SCANNED = 10_000;

/**
 * The subject's denied and failed audit entries since `since` (newest first): counted per action,
 * the newest `limit` listed without resource ids. Scans at most 10,000 entries (`truncated`).
 */
export async function readSecurityEvents(
  auditLog: Pick<AuditLog, 'query'>,
  subjectId: string,
  since: string,
  limit: number,
): Promise<SubjectSecurityEvents> {
  const out: SubjectSecurityEvents = { count: 0, since, byAction: [], recent: [], truncated: false };
  const counts = new Map<string, { action: string; outcome: AuditOutcome; count: number }>();
  let scanned = 0;
  let cursor: string | undefined;
  do {
    const page = await auditLog.query({
      actorId: subjectId,
      from: since,
      order: 'desc',
      limit: 1000,
      includeRedacted: false,
      ...(cursor === undefined ? {} : { cursor }),
    });
    for (const e of page.entries) {
      if (e.outcome === undefined || e.action === undefined || !SECURITY_EVENT_OUTCOMES.has(e.outcome))
        continue;
      out.count++;
      const key = `${e.action}\u0000${e.outcome}`;
      const c = counts.get(key) ?? { action: e.action, outcome: e.outcome, count: 0 };
      c.count++;
      counts.set(key, c);
      if (out.recent.length < limit) {
        out.recent.push({
          seq: e.seq,
          time: e.time,
          action: e.action,
          outcome: e.outcome,
          category: e.category,
          ...(e.resource === undefined ? {} : { resourceType: e.resource.type }),
        });
      }
    }
    scanned += page.entries.length;
    cursor = page.nextCursor;
  } while (cursor !== undefined && scanned < MAX_SCANNED);
  out.truncated = cursor !== undefined;
  out.byAction = [...counts.values()].sort(
    (a, b) => b.count - a.count || compareText(a.action, b.action) || compareText(a.outcome, b.outcome),
  );
  return out;
}
