/**
 * Blind-index values Bulwark's lookup helpers returned in this process (blindIndex(),
 * blindIndexes(), findByBlindIndex / findOneByBlindIndex), each for the entity column it was
 * computed for. The query guard accepts a value for a blind-index column only if it is one of
 * these: a lower-case hex string of the right length is not proof enough, since digit-only
 * plaintext (dates, PINs, account or phone numbers) has exactly that shape and would otherwise be
 * compared with the index silently, matching nothing. A narrow index has few values (256 for 8
 * bits), so once most have been looked up, digit-only plaintext of that length passes: the guard
 * is a safety net there, not proof.
 *
 * Bounded: the most recently produced INDEX_VALUES_MAX values are kept (a value produced again
 * moves to the end), so a value computed long before it is used, after that many others, is
 * refused loudly; compute it right before the query. @internal
 */
const produced = new Set<string>();
export const INDEX_VALUES_MAX = 65_536;

/** Records index values a lookup helper returns. @internal */
export function rememberIndexValues(column: string, values: Iterable<string | null>): void {
  for (const index of values) {
    if (index === null) continue;
    const value = `${column}\u0000${index}`;
    if (produced.has(value)) produced.delete(value);
    else if (produced.size >= INDEX_VALUES_MAX) {
      const oldest = produced.values().next();
      if (oldest.done !== true) produced.delete(oldest.value);
    }
    produced.add(value);
  }
}

/**
 * Whether `value` was returned by a lookup helper of this process for `column` (`Entity.property`)
 * and not evicted since. @internal
 */
export function isProducedIndexValue(column: string, value: unknown): boolean {
  return typeof value === 'string' && produced.has(`${column}\u0000${value}`);
}
