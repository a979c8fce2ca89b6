import { AUTH_AUDIT_ACTIONS } from '../identity/authentication';
import type { AuditEntry } from './audit-event';
import { auditRisk, auditSeverity, type AuditSeverity } from './audit-severity';

// OCSF 1.2.0 (https://schema.ocsf.io/1.2.0): each audit entry becomes one event of the class that
// fits its action. Base event attributes every class requires: activity_id, category_uid,
// class_uid, type_uid (= class_uid * 100 + activity_id), time (epoch ms), severity_id, metadata
// (product.vendor_name, version). Redacted entries have no content and are not exported.

/** The OCSF classes Bulwark exports. */
export const OCSF_CLASSES = Object.freeze({
  detectionFinding: { uid: 2004, category: 2, name: 'Detection Finding' },
  accountChange: { uid: 3001, category: 3, name: 'Account Change' },
  authentication: { uid: 3002, category: 3, name: 'Authentication' },
  userAccess: { uid: 3005, category: 3, name: 'User Access Management' },
  apiActivity: { uid: 6003, category: 6, name: 'API Activity' },
} as const);

export const OCSF_VERSION = '1.2.0';

/** An OCSF event (JSON object). */
export type OcsfEvent = Record<string, unknown> & {
  class_uid: number;
  category_uid: number;
  activity_id: number;
  type_uid: number;
  time: number;
  severity_id: number;
};

export interface OcsfOptions {
  /** `metadata.product.version`. Default `0.0.0`. */
  productVersion?: string;
  /** `metadata.log_name`. Default `bulwark-audit`. */
  logName?: string;
}

const SEVERITY_ID: Readonly<Record<AuditSeverity, number>> = { low: 2, medium: 3, high: 4, critical: 5 };
const OTHER = 99;

const AUTH_ACTIVITY: Readonly<Record<string, [number, string]>> = {
  [AUTH_AUDIT_ACTIONS.login]: [1, 'Logon'],
  [AUTH_AUDIT_ACTIONS.logout]: [2, 'Logoff'],
};
const ACCOUNT_ACTIVITY: Readonly<Record<string, [number, string]>> = {
  'user.created': [1, 'Create'],
  [AUTH_AUDIT_ACTIONS.unlock]: [2, 'Enable'],
  [AUTH_AUDIT_ACTIONS.passwordChanged]: [3, 'Password Change'],
  [AUTH_AUDIT_ACTIONS.passwordReset]: [4, 'Password Reset'],
  [AUTH_AUDIT_ACTIONS.accountDisabled]: [5, 'Disable'],
  'user.deleted': [6, 'Delete'],
  [AUTH_AUDIT_ACTIONS.lockout]: [OTHER, 'Lock'],
};
const ACCESS_GRANT = /(\.granted|\.assigned|\.added)$/;
const ACCESS_REVOKE = /(\.revoked|\.removed|\.expired)$/;
const API_ACTIVITY: readonly [RegExp, number, string][] = [
  [/\.(create|created|insert|add)$/, 1, 'Create'],
  [/\.(read|list|get|view|export|search|query)$/, 2, 'Read'],
  [/\.(update|updated|change|changed|rectified|set)$/, 3, 'Update'],
  [/\.(delete|deleted|erase|erased|remove|removed|purged)$/, 4, 'Delete'],
];

/** Which OCSF class an entry maps to (by its action). */
export function ocsfClassOf(entry: AuditEntry): keyof typeof OCSF_CLASSES {
  const action = entry.action ?? '';
  if (action === 'security.violation') return 'detectionFinding';
  if (Object.hasOwn(ACCOUNT_ACTIVITY, action) || action.startsWith('auth.password.')) return 'accountChange';
  if (action.startsWith('auth.')) return 'authentication';
  if (
    /^(role|permission|user\.role|authz\.break_glass)\b/.test(action) &&
    (ACCESS_GRANT.test(action) || ACCESS_REVOKE.test(action))
  ) {
    return 'userAccess';
  }
  return 'apiActivity';
}

/** One audit entry as an OCSF 1.2 event, or undefined for a redacted entry (no content to map). */
export function toOcsf(entry: AuditEntry, options: OcsfOptions = {}): OcsfEvent | undefined {
  if (entry.redacted !== undefined || typeof entry.action !== 'string') return undefined;
  const kind = ocsfClassOf(entry);
  const cls = OCSF_CLASSES[kind];
  const action = entry.action;
  const severity = auditSeverity(entry);
  const [activityId, activityName] = activityOf(kind, action);
  const user = {
    uid: entry.actor?.id ?? 'unknown',
    ...(entry.actor?.type ? { type: entry.actor.type } : {}),
  };
  const base: OcsfEvent = {
    class_uid: cls.uid,
    class_name: cls.name,
    category_uid: cls.category,
    activity_id: activityId,
    activity_name: activityName,
    type_uid: cls.uid * 100 + activityId,
    time: Date.parse(entry.time),
    severity_id: SEVERITY_ID[severity],
    severity: severity[0]!.toUpperCase() + severity.slice(1),
    status_id: entry.outcome === 'success' ? 1 : entry.outcome === undefined ? 0 : 2,
    status: entry.outcome === 'denied' ? 'Denied' : entry.outcome === 'failure' ? 'Failure' : 'Success',
    ...(entry.reason !== undefined
      ? { status_detail: entry.reason, message: entry.reason }
      : { message: action }),
    metadata: {
      version: OCSF_VERSION,
      uid: String(entry.seq),
      log_name: options.logName ?? 'bulwark-audit',
      original_time: entry.time,
      ...(entry.requestId !== undefined ? { correlation_uid: entry.requestId } : {}),
      product: { name: 'Bulwark', vendor_name: 'Bulwark', version: options.productVersion ?? '0.0.0' },
    },
    // What OCSF has no place for; the leaf hash lets a SIEM ask the log for an inclusion proof.
    unmapped: {
      bulwark: {
        seq: entry.seq,
        action,
        category: entry.category,
        leafHash: entry.leafHash,
        ...(entry.resource !== undefined ? { resource: entry.resource } : {}),
      },
    },
  };
  const src = entry.actor?.ip !== undefined ? { ip: entry.actor.ip } : undefined;
  switch (kind) {
    case 'authentication':
      return {
        ...base,
        user: { ...user, ...(accountOf(entry) !== undefined ? { name: accountOf(entry) } : {}) },
        ...(src ? { src_endpoint: src } : {}),
        is_mfa: action === AUTH_AUDIT_ACTIONS.mfa,
      };
    case 'accountChange':
      return { ...base, user: targetUser(entry, user), actor: { user } };
    case 'userAccess':
      return {
        ...base,
        user: targetUser(entry, user),
        actor: { user },
        privileges: [privilegeOf(entry)],
      };
    case 'detectionFinding': {
      const risk = auditRisk(entry);
      const d = entry.details ?? {};
      return {
        ...base,
        finding_info: {
          uid: `${entry.seq}`,
          title: typeof d.rule === 'string' ? d.rule : 'security violation',
          desc: entry.reason,
          ...(Array.isArray(d.entries) ? { related_events: d.entries.map((s) => ({ uid: String(s) })) } : {}),
        },
        ...(risk !== undefined ? { risk_score: risk } : {}),
      };
    }
    default:
      return {
        ...base,
        api: {
          operation: action,
          ...(entry.requestId !== undefined ? { request: { uid: entry.requestId } } : {}),
        },
        actor: { user },
        // OCSF requires a source endpoint: the client IP when the event has one, else the app as the source.
        src_endpoint: src ?? { name: 'bulwark' },
        ...(entry.resource !== undefined
          ? {
              resources: [
                {
                  type: entry.resource.type,
                  ...(entry.resource.id !== undefined ? { uid: entry.resource.id } : {}),
                },
              ],
            }
          : {}),
      };
  }
}

function activityOf(kind: keyof typeof OCSF_CLASSES, action: string): [number, string] {
  switch (kind) {
    case 'authentication':
      return AUTH_ACTIVITY[action] ?? [OTHER, 'Other'];
    case 'accountChange':
      return (
        ACCOUNT_ACTIVITY[action] ??
        (action.endsWith('.reset') ? [4, 'Password Reset'] : [3, 'Password Change'])
      );
    case 'userAccess':
      return ACCESS_REVOKE.test(action) ? [2, 'Revoke Privileges'] : [1, 'Assign Privileges'];
    case 'detectionFinding':
      return [1, 'Create'];
    default:
      for (const [re, id, name] of API_ACTIVITY) if (re.test(action)) return [id, name];
      return [OTHER, 'Other'];
  }
}

function accountOf(entry: AuditEntry): string | undefined {
  const a = entry.details?.account ?? entry.details?.username;
  return typeof a === 'string' ? a : undefined;
}

function targetUser(entry: AuditEntry, actorUser: { uid: string }): { uid: string } {
  const r = entry.resource;
  return r !== undefined && (r.type === 'user' || r.type === 'account') && r.id !== undefined
    ? { uid: r.id }
    : actorUser;
}

function privilegeOf(entry: AuditEntry): string {
  const d = entry.details ?? {};
  for (const k of ['role', 'permission', 'privilege', 'policy'])
    if (typeof d[k] === 'string') return d[k] as string;
  return entry.action!.startsWith('authz.break_glass')
    ? 'break-glass'
    : (entry.resource?.id ?? entry.action!);
}
