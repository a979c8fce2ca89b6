/**
 * Action patterns: `read` (exactly), `patient:*` (every action under `patient:`), `*` (any).
 * `*` is only allowed as a whole, final segment, and matching is string comparison, never a
 * regular expression built from policy text, so a policy cannot smuggle in a catastrophic
 * backtracking pattern (ReDoS) or an accidental `.` wildcard.
 */
export type ActionPattern =
  | { readonly kind: 'any' }
  | { readonly kind: 'exact'; readonly action: string }
  /** `prefix` includes the trailing `:`. */
  | { readonly kind: 'prefix'; readonly prefix: string };

const SEGMENT_RE = /^[A-Za-z0-9_.-]+$/;
export const MAX_PATTERN_LENGTH = 256;

/** Parses an action pattern; `undefined` when it is not one (the caller names the path). */
export function parseActionPattern(pattern: string): ActionPattern | undefined {
  if (pattern.length === 0 || pattern.length > MAX_PATTERN_LENGTH) return undefined;
  if (pattern === '*') return { kind: 'any' };
  const segments = pattern.split(':');
  const last = segments.length - 1;
  for (let i = 0; i < segments.length; i++) {
    if (i === last && segments[i] === '*' && i > 0) continue;
    if (!SEGMENT_RE.test(segments[i])) return undefined;
  }
  return segments[last] === '*'
    ? { kind: 'prefix', prefix: pattern.slice(0, -1) }
    : { kind: 'exact', action: pattern };
}

export function matchesActionPattern(pattern: ActionPattern, action: string): boolean {
  switch (pattern.kind) {
    case 'any':
      return true;
    case 'exact':
      return action === pattern.action;
    case 'prefix':
      return action.length > pattern.prefix.length && action.startsWith(pattern.prefix);
  }
}
