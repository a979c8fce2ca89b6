import type { AuthenticationFactor } from '@bulwark/core';

/**
 * RFC 8176 authentication method references to Bulwark's factor names. Values not listed keep
 * their RFC 8176 name (`hwk`, `face`, `mfa`...), so nothing the provider reported is lost.
 */
export const AMR_FACTORS: Readonly<Record<string, AuthenticationFactor>> = Object.freeze({
  pwd: 'password',
  otp: 'totp',
  sms: 'sms-otp',
});

const AMR_VALUE = /^[A-Za-z0-9._:-]{1,64}$/;
const MAX_AMR = 16;

/**
 * The factors an ID token's `amr` claim reports, mapped through `table` (default AMR_FACTORS).
 * Anything that is not a short token-like string is dropped: the claim comes from the provider and
 * ends up in principals and audit events.
 */
export function factorsFromAmr(
  amr: unknown,
  table: Readonly<Record<string, AuthenticationFactor>> = AMR_FACTORS,
): readonly AuthenticationFactor[] {
  if (!Array.isArray(amr)) return [];
  const out: AuthenticationFactor[] = [];
  for (const value of amr.slice(0, MAX_AMR)) {
    if (typeof value !== 'string' || !AMR_VALUE.test(value)) continue;
    const factor = Object.hasOwn(table, value) ? table[value]! : value;
    if (!out.includes(factor)) out.push(factor);
  }
  return out;
}

/** RFC 8176 values by kind of factor: something known, something held, something one is. */
const AMR_KINDS: Readonly<Record<string, 'knowledge' | 'possession' | 'inherence'>> = Object.freeze({
  pwd: 'knowledge',
  pin: 'knowledge',
  kba: 'knowledge',
  otp: 'possession',
  sms: 'possession',
  tel: 'possession',
  hwk: 'possession',
  swk: 'possession',
  sc: 'possession',
  fpt: 'inherence',
  face: 'inherence',
  iris: 'inherence',
  retina: 'inherence',
  vbm: 'inherence',
});

/**
 * Whether `amr` reports multi-factor authentication: the `mfa` value, or factors of two different
 * kinds (a password and a one-time code; a hardware key and a fingerprint). Two passwords, or a
 * value Bulwark does not know, do not count.
 */
export function amrShowsMultiFactor(amr: unknown): boolean {
  if (!Array.isArray(amr)) return false;
  if (amr.includes('mfa')) return true;
  const kinds = new Set(amr.map((v) => (typeof v === 'string' ? AMR_KINDS[v] : undefined)));
  kinds.delete(undefined);
  return kinds.size >= 2;
}
