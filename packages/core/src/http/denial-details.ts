/** Denial explanations as they leave the engine: into a 403 body (development) or an audit entry. */
type Plain = Record<string, unknown>;
const isPlain = (v: unknown): v is Plain => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Copies the string members `keys` of `from` (clipped), and nothing else. */
function strings(from: Plain, keys: readonly string[]): Plain {
  const out: Plain = {};
  for (const k of keys) if (typeof from[k] === 'string') out[k] = (from[k] as string).slice(0, 512);
  return out;
}

/**
 * A DenialExplanation rebuilt member by member (ids, paths, policy text, type names: all strings),
 * so nothing else an error's details may hold reaches the body.
 */
export function copyDenialExplanation(value: unknown): Plain | undefined {
  if (!isPlain(value) || typeof value.reasonId !== 'string') return undefined;
  const out = strings(value, ['reasonId', 'summary']);
  if (isPlain(value.deniedBy)) out.deniedBy = strings(value.deniedBy, ['policyId', 'ruleId', 'condition']);
  if (isPlain(value.nearest)) {
    const nearest = strings(value.nearest, ['policyId', 'ruleId', 'path', 'failed']);
    if (isPlain(value.nearest.condition))
      nearest.condition = strings(value.nearest.condition, [
        'path',
        'summary',
        'why',
        'actualType',
        'expectedType',
      ]);
    out.nearest = nearest;
  }
  return out;
}
