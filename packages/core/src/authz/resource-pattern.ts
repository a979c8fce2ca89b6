/**
 * Resource patterns: `*` (anything), `records` (every resource of type `records`, with or without
 * an id), `records/*` (every `records` resource that has an id), `records/123` (that one).
 * Wildcards are whole segments only and matching is string comparison (no regular expressions
 * from policy text: no ReDoS, no accidental `.`).
 */
export type ResourcePattern =
  | { readonly kind: 'any' }
  | { readonly kind: 'type'; readonly type: string }
  | { readonly kind: 'anyId'; readonly type: string }
  | { readonly kind: 'id'; readonly type: string; readonly id: string };

const TYPE_RE = /^[A-Za-z0-9_.-]+$/;
const ID_RE = /^[A-Za-z0-9_.:@~+=-]+$/;
const MAX_PATTERN_LENGTH = 256;

/** Parses a resource pattern; `undefined` when it is not one (the caller names the path). */
export function parseResourcePattern(pattern: string): ResourcePattern | undefined {
  if (pattern.length === 0 || pattern.length > MAX_PATTERN_LENGTH) return undefined;
  if (pattern === '*') return { kind: 'any' };
  const slash = pattern.indexOf('/');
  if (slash === -1) return TYPE_RE.test(pattern) ? { kind: 'type', type: pattern } : undefined;
  const type = pattern.slice(0, slash);
  const id = pattern.slice(slash + 1);
  if (!TYPE_RE.test(type)) return undefined;
  if (id === '*') return { kind: 'anyId', type };
  return ID_RE.test(id) ? { kind: 'id', type, id } : undefined;
}

export function matchesResourcePattern(
  pattern: ResourcePattern,
  type: string,
  id: string | undefined,
): boolean {
  switch (pattern.kind) {
    case 'any':
      return true;
    case 'type':
      return type === pattern.type;
    case 'anyId':
      return type === pattern.type && typeof id === 'string' && id.length > 0;
    case 'id':
      return type === pattern.type && id === pattern.id;
  }
}
