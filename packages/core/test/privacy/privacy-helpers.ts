import { BulwarkError } from '../../src/errors';

/** The code of the BulwarkError `fn` rejects with; fails on success or on any other error. */
export async function codeOf(fn: () => unknown): Promise<string> {
  let result: unknown;
  try {
    result = await fn();
  } catch (error) {
    if (error instanceof BulwarkError) return error.code;
    throw new Error(`expected a BulwarkError, got ${String(error)}`, { cause: error });
  }
  throw new Error(`expected a BulwarkError, got a result: ${JSON.stringify(result)}`);
}

/** The BulwarkError `fn` rejects with. */
export async function errorOf(fn: () => unknown): Promise<BulwarkError> {
  try {
    await fn();
  } catch (error) {
    if (error instanceof BulwarkError) return error;
    throw new Error(`expected a BulwarkError, got ${String(error)}`, { cause: error });
  }
  throw new Error('expected a BulwarkError, got a result');
}

/** A settable clock. */
export function manualClock(start = '2025-03-01T09:00:00.000Z'): {
  now: () => Date;
  set(t: string): void;
  advance(ms: number): void;
} {
  let t = Date.parse(start);
  return {
    now: () => new Date(t),
    set: (iso: string) => {
      t = Date.parse(iso);
    },
    advance: (ms: number) => {
      t += ms;
    },
  };
}
