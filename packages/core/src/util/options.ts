import { BulwarkConfigError, ErrorCodes } from '../errors';

// The option-reading kit of every engine's constructor and of createBulwark. Each check throws a
// BulwarkConfigError (ERR_CONFIG_INVALID) whose message starts with the option's full path and
// whose `details.path` is that path (`audit.retention.days must be a positive integer, got -1`).
// Messages never echo a string value: an option may hold a secret (see describeValue).

export function configError(path: string, message: string, cause?: unknown): BulwarkConfigError {
  return new BulwarkConfigError(
    ErrorCodes.CONFIG_INVALID,
    `${path} ${message}`,
    { path },
    cause === undefined ? undefined : { cause },
  );
}

/** `<path> must be <expected>, got <what was given>`. */
export function invalid(path: string, expected: string, got: unknown): BulwarkConfigError {
  return configError(path, `must be ${expected}, got ${describeValue(got)}`);
}

/** Describes a bad value without echoing it (it may be a secret): numbers are shown, strings are not. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return value.length === 0 ? 'an empty string' : 'a string';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : 'a non-finite number';
  return typeof value === 'object' ? 'an object' : typeof value;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

export function isNonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value.trim().length > 0;
}

/** An object with these methods (a store, sink or client the app implements). */
export const hasMethods = (value: unknown, ...methods: string[]): boolean =>
  isObject(value) && methods.every((m) => typeof value[m] === 'function');

/** Throws for the first key of `obj` not in `known` (a typo must not silently drop a setting). */
export function rejectUnknown(obj: Record<string, unknown>, known: readonly string[], prefix: string): void {
  for (const key of Object.keys(obj)) {
    if (!known.includes(key)) {
      throw configError(`${prefix}${key}`, `is not a known option (expected one of ${known.join(', ')})`);
    }
  }
}

/** An optional section: undefined, or a plain object whose keys are all known. */
export function section(
  value: unknown,
  path: string,
  known: readonly string[],
): Record<string, unknown> | undefined {
  if (value === undefined) return undefined;
  if (!isPlainObject(value)) throw invalid(path, 'an object', value);
  rejectUnknown(value, known, `${path}.`);
  return value;
}

/** A positive safe integer; `fallback` when undefined (required when there is no fallback). */
export function positiveInt(value: unknown, path: string, fallback?: number): number {
  const v = value ?? fallback;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1)
    throw invalid(path, 'a positive integer', v);
  return v;
}

/** An integer from `min` to `max`; `fallback` when undefined. */
export function intInRange(
  value: unknown,
  path: string,
  min: number,
  max: number,
  fallback?: number,
): number {
  const v = value ?? fallback;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
    throw invalid(path, `an integer from ${min} to ${max}`, v);
  }
  return v;
}

/** A non-empty string of at most `maxLength` characters; `fallback` when undefined. */
export function nonEmptyString(value: unknown, path: string, maxLength = 1024, fallback?: string): string {
  const v = value ?? fallback;
  if (!isNonEmptyString(v) || v.length > maxLength) {
    throw invalid(path, `a non-empty string of at most ${maxLength} characters`, v);
  }
  return v;
}

/** One of `allowed`; `fallback` when undefined. */
export function oneOf<T extends string>(
  value: unknown,
  path: string,
  allowed: readonly T[],
  fallback?: T,
): T {
  const v = value ?? fallback;
  if (!allowed.includes(v as T)) {
    throw invalid(path, allowed.length === 1 ? `'${allowed[0]}'` : `one of ${allowed.join(', ')}`, v);
  }
  return v as T;
}

export function optionalFunction(value: unknown, path: string): void {
  if (value !== undefined && typeof value !== 'function') throw invalid(path, 'a function', value);
}

/** An optional array (undefined reads as empty). */
export function optionalArray(value: unknown, path: string): readonly unknown[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw invalid(path, 'an array', value);
  return value;
}

/**
 * The option names of `T`, for rejectUnknown / section, checked against `T` at compile time: the
 * object must name every option of `T` and nothing else, so the list cannot drift from the
 * engine's options type (`optionKeys<RetentionPolicyOptions>({ periods: true, holds: true })`).
 */
export function optionKeys<T extends object>(keys: {
  readonly [K in keyof Required<T>]: true;
}): readonly string[] {
  return Object.freeze(Object.keys(keys));
}
