import { createHash } from 'node:crypto';
import { BulwarkError, BulwarkPrivacyError, ErrorCodes } from '../errors';

/**
 * Input checks shared by the privacy services. Internal: not exported from the package entry.
 * Every failure is a typed error naming the offending path; values themselves never appear in
 * messages (they may be personal data).
 */

export type ErrorFactory = (path: string, message: string) => BulwarkError;

export const privacyError: ErrorFactory = (path, message) =>
  new BulwarkPrivacyError(ErrorCodes.PRIVACY_INVALID_ARGUMENT, `${path} ${message}`, { path });

/** Ids: letters, digits and `_ . : / -`, at most 128 characters (safe in Markdown, CSV, XML and URLs). */
const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,127}$/;

export function checkId(value: unknown, path: string, fail: ErrorFactory = privacyError): string {
  if (typeof value !== 'string' || !ID_RE.test(value)) {
    throw fail(path, 'must be an id of letters, digits and _ . : / - (1-128 characters)');
  }
  return value;
}

export function checkText(
  value: unknown,
  path: string,
  max = 1024,
  fail: ErrorFactory = privacyError,
): string {
  if (typeof value !== 'string' || value.trim() === '' || value.length > max) {
    throw fail(path, `must be a non-empty string of at most ${max} characters`);
  }
  return value;
}

export function checkOptionalText(
  value: unknown,
  path: string,
  max = 1024,
  fail: ErrorFactory = privacyError,
): string | undefined {
  return value === undefined ? undefined : checkText(value, path, max, fail);
}

export function checkTextList(
  value: unknown,
  path: string,
  options: { min?: number; max?: number } = {},
  fail: ErrorFactory = privacyError,
): string[] {
  const { min = 0, max = 256 } = options;
  if (!Array.isArray(value) || value.length < min || value.length > 1000) {
    throw fail(path, `must be an array of ${min > 0 ? 'at least ' + String(min) + ' ' : ''}strings`);
  }
  const out = value.map((v, i) => checkText(v, `${path}[${i}]`, max, fail));
  return [...new Set(out)];
}

export function checkPositiveInt(value: unknown, path: string, fail: ErrorFactory = privacyError): number {
  if (!Number.isSafeInteger(value) || (value as number) < 1) throw fail(path, 'must be a positive integer');
  return value as number;
}

export function checkNonNegativeInt(value: unknown, path: string, fail: ErrorFactory = privacyError): number {
  if (!Number.isSafeInteger(value) || (value as number) < 0)
    throw fail(path, 'must be a non-negative integer');
  return value as number;
}

/** A Date or ISO-8601 string -> Date; invalid -> typed error. */
export function checkDate(value: unknown, path: string, fail: ErrorFactory = privacyError): Date {
  const d =
    value instanceof Date ? new Date(value.getTime()) : typeof value === 'string' ? new Date(value) : null;
  if (d === null || !Number.isFinite(d.getTime())) throw fail(path, 'must be a valid Date or ISO-8601 time');
  return d;
}

export function checkObject(
  value: unknown,
  path: string,
  fail: ErrorFactory = privacyError,
): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw fail(path, 'must be an object');
  return value as Record<string, unknown>;
}

export function checkSubjectId(
  value: unknown,
  path = 'subjectId',
  fail: ErrorFactory = privacyError,
): string {
  if (typeof value !== 'string' || value === '' || value.length > 256) {
    throw fail(path, 'must be a non-empty string of at most 256 characters');
  }
  return value;
}

/**
 * The form a data subject id takes in error details and logs: SHA-256, first 16 hex characters.
 * A correlation handle for operators, not a secret: ids with little entropy (e-mail addresses,
 * sequential numbers) can be guessed and checked against it, so it is only ever used where the
 * reader already has access to the system, never published.
 */
export function subjectHash(subjectId: string): string {
  return createHash('sha256').update(`bulwark/subject:${subjectId}`, 'utf8').digest('hex').slice(0, 16);
}

export const DAY_MS = 86_400_000;
export const HOUR_MS = 3_600_000;

export function iso(d: Date): string {
  return d.toISOString();
}

export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Deep-frozen structured copy, so callers cannot mutate what a service holds. */
export function frozenCopy<T>(value: T): T {
  return deepFreeze(structuredClone(value));
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
