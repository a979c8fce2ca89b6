import type { BreakGlassStore } from '../authz/break-glass-store';
import type { AuthzConfig } from './bulwark-config';
import type { AuditLog } from '../audit/audit-log';
import { checkBreakGlassLimits, type BreakGlassOptions } from '../authz/break-glass-registry';
import { parsePolicyText } from '../authz/parse-policy-text';
import type { PolicyDocument } from '../authz/policy-document';
import { PolicyEngine } from '../authz/policy-engine';
import { validatePolicyDocument } from '../authz/validate-policy-document';
import { fileRef, readTextFile, underPath } from './config-input';
import { configError, invalid, isPlainObject, section, optionKeys } from '../util/options';
import { withClock } from './opened';

// The `authz` section: the policy (inline, as text or from a file) and break-glass limits.

const KNOWN_AUTHZ = optionKeys<AuthzConfig>({ policy: true, breakGlass: true, onWarning: true });
const KNOWN_BREAK_GLASS = optionKeys<BreakGlassOptions>({
  maxDurationMs: true,
  maxReasonLength: true,
  minReasonLength: true,
});

/** A policy given inline, already validated; a file is read when opening. */
export interface AuthzPlan {
  document?: PolicyDocument;
  file?: string;
  format?: 'json' | 'yaml';
  breakGlass?: BreakGlassOptions;
  onWarning?: AuthzConfig['onWarning'];
}

export function planAuthz(value: unknown, hasAudit: boolean): AuthzPlan | undefined {
  const authz = section(value, 'authz', KNOWN_AUTHZ);
  if (authz === undefined) return undefined;
  const breakGlass = section(authz.breakGlass, 'authz.breakGlass', KNOWN_BREAK_GLASS) as
    BreakGlassOptions | undefined;
  if (breakGlass !== undefined) {
    if (!hasAudit) {
      throw configError(
        'authz.breakGlass',
        'requires the audit section: break-glass access is always audited (HIPAA 164.312(a)(2)(ii))',
      );
    }
    checkBreakGlassLimits(breakGlass, 'authz.breakGlass');
  }
  const onWarning = authz.onWarning;
  if (onWarning !== undefined && typeof onWarning !== 'function') {
    throw invalid('authz.onWarning', 'a function', onWarning);
  }
  const extra = onWarning !== undefined ? { onWarning: onWarning as AuthzConfig['onWarning'] } : {};
  const policy = authz.policy;
  if (policy === undefined) {
    throw configError(
      'authz.policy',
      'is required: a policy document, its JSON / YAML text, or { file: "path" }',
    );
  }
  const file = fileRef(policy, 'authz.policy', ['format']);
  if (file !== undefined) {
    const format = (policy as { format?: unknown }).format;
    if (format !== undefined && format !== 'json' && format !== 'yaml') {
      throw invalid('authz.policy.format', "'json' or 'yaml'", format);
    }
    return {
      file: file.file,
      format: (format as 'json' | 'yaml' | undefined) ?? formatOf(file.file),
      breakGlass,
      ...extra,
    };
  }
  if (typeof policy === 'string' && !/[\n:{]/.test(policy) && formatOf(policy.trim()) !== undefined) {
    // A one-line string ending in .json / .yaml would otherwise be parsed as a YAML scalar.
    throw configError('authz.policy', 'looks like a file path: write { file: "path" } to load a policy file');
  }
  if (typeof policy !== 'string' && !isPlainObject(policy)) {
    throw invalid('authz.policy', 'a policy document, its JSON / YAML text, or { file: "path" }', policy);
  }
  const document = underPath(
    'authz.policy',
    () => (typeof policy === 'string' ? parsePolicyText(policy) : validatePolicyDocument(policy)),
    { nest: true },
  );
  return { document, breakGlass, ...extra };
}

function formatOf(file: string): 'json' | 'yaml' | undefined {
  const lower = file.toLowerCase();
  if (lower.endsWith('.json')) return 'json';
  if (lower.endsWith('.yaml') || lower.endsWith('.yml')) return 'yaml';
  return undefined;
}

/** Reads the policy file (when the policy is one) and builds the engine, auditing to `auditLog`. */
export async function openAuthz(
  a: AuthzPlan,
  auditLog: AuditLog | undefined,
  clock: (() => Date) | undefined,
  breakGlassStore?: BreakGlassStore,
): Promise<PolicyEngine> {
  let document = a.document;
  if (a.file !== undefined) {
    const text = await readTextFile(a.file, 'authz.policy');
    document = underPath('authz.policy', () => parsePolicyText(text, { format: a.format ?? 'auto' }), {
      nest: true,
    });
  }
  return underPath(
    'authz',
    () =>
      new PolicyEngine({
        policy: document!,
        ...(auditLog ? { auditLog } : {}),
        ...(a.breakGlass ? { breakGlass: a.breakGlass } : {}),
        ...(a.onWarning ? { onWarning: a.onWarning } : {}),
        ...(breakGlassStore ? { breakGlassStore } : {}),
        ...withClock(clock),
      }),
  );
}
