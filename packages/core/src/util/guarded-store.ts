import { BulwarkError } from '../errors';

/**
 * The store as an engine calls it: each of `methods` the store has is wrapped so that a failure
 * which is not already a Bulwark error (a driver's ECONNREFUSED, a custom store's bug) becomes
 * `storeError(method, cause)`, so a request is refused with a 503 that names nothing, never a 500
 * carrying the driver's message. Methods the store lacks stay absent (the caller validated the
 * required ones).
 */
export function guardedStore<T extends object>(
  store: T,
  methods: readonly (keyof T & string)[],
  storeError: (method: string, cause: unknown) => BulwarkError,
): T {
  const out = {} as Record<string, unknown>;
  for (const m of methods) {
    if (typeof store[m] !== 'function') continue;
    const method = (store[m] as (...args: unknown[]) => Promise<unknown>).bind(store);
    out[m] = async (...args: unknown[]) => {
      try {
        return await method(...args);
      } catch (error) {
        if (error instanceof BulwarkError) throw error;
        throw storeError(m, error);
      }
    };
  }
  return out as T;
}
