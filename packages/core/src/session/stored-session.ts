import type { StoredSession } from './session-store';

const ID_RE = /^[A-Za-z0-9_-]{43}$/;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isTime(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/**
 * A stored session read back from a store, checked field by field; undefined when anything is off
 * (stores then throw ERR_SESSION_STORE: a record nobody wrote through the engine is never trusted).
 * For store implementers (`@bulwark/core/store`).
 */
export function parseStoredSession(value: unknown): StoredSession | undefined {
  if (!isRecord(value)) return undefined;
  const { id, userId, principal, authentication, createdAt, lastSeenAt, absoluteExpiresAt, expiresAt, data } =
    value;
  if (typeof id !== 'string' || !ID_RE.test(id)) return undefined;
  if (![createdAt, lastSeenAt, absoluteExpiresAt, expiresAt].every(isTime)) return undefined;
  if (!isRecord(data)) return undefined;
  if (userId !== undefined && (typeof userId !== 'string' || userId.length === 0)) return undefined;
  if ((userId === undefined) !== (principal === undefined)) return undefined;
  if (principal !== undefined) {
    if (!isRecord(principal)) return undefined;
    const { roles, type, attributes } = principal;
    if (!Array.isArray(roles) || !roles.every((r) => typeof r === 'string')) return undefined;
    if (type !== 'user' && type !== 'service') return undefined;
    if (attributes !== undefined && !isRecord(attributes)) return undefined;
  }
  if (authentication !== undefined) {
    if (!isRecord(authentication)) return undefined;
    const { method, at, factors, mfaAt, provider, factorTimes } = authentication;
    if (typeof method !== 'string' || !isTime(at)) return undefined;
    if (!Array.isArray(factors) || !factors.every((f) => typeof f === 'string')) return undefined;
    if (mfaAt !== undefined && !isTime(mfaAt)) return undefined;
    if (provider !== undefined && typeof provider !== 'string') return undefined;
    if (factorTimes !== undefined && (!isRecord(factorTimes) || !Object.values(factorTimes).every(isTime))) {
      return undefined;
    }
  }
  return value as unknown as StoredSession;
}
