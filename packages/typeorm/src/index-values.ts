/**
 * Blind-index values Bulwark's lookup helpers returned in this process (blindIndex(),
 * blindIndexes(), findByBlindIndex / findOneByBlindIndex). The query guard accepts a value for a
 * blind-index column only if it is one of these: a lower-case hex string of the right length is
 * not proof enough, since digit-only plaintext (dates, PINs, account or phone numbers) has exactly
 * that shape and would otherwise be compared with the index silently, matching nothing.
 *
 * Bounded: the most recently produced INDEX_VALUES_MAX values are kept (a value produced again
 * moves to the end), so a value computed long before it is used, after that many others, is
 * refused loudly; compute it right before the query. @internal
 */
const produced = new Set<string>();
export const INDEX_VALUES_MAX = 65_536;

/** Records index values a lookup helper returns. @internal */
export function rememberIndexValues(values: Iterable<string | null>): void {
  for (const value of values) {
    if (value === null) continue;
    if (produced.has(value)) produced.delete(value);
    else if (produced.size >= INDEX_VALUES_MAX) {
      const oldest = produced.values().next();
      if (oldest.done !== true) produced.delete(oldest.value);
    }
    produced.add(value);
  }
}

/** Whether `value` was returned by a lookup helper of this process (and not evicted since). @internal */
export function isProducedIndexValue(value: unknown): boolean {
  return typeof value === 'string' && produced.has(value);
}
