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
