import type { AuthenticationFactor } from './authentication';

/**
 * The factor a sign-in carries when its identity provider asserted multi-factor authentication
 * (OIDC `amr` with `mfa` or factors of two kinds, a SAML AuthnContextClassRef the app listed).
 * `MfaPolicy` accepts it by default (method `federated-mfa`), timed from the provider's
 * `auth_time` / `AuthnInstant`.
 */
export const FEDERATED_MFA_FACTOR = 'federated-mfa';

/**
 * RFC 8176 authentication method references to Bulwark's factor names, for OIDC ID tokens and
 * bearer tokens alike. A proof-of-possession key (`hwk`, `swk`: a passkey or security key) is
 * `webauthn`. A lone `otp` or `sms` is one factor and keeps its RFC 8176 name, which `MfaPolicy`
 * does not accept as a second factor; a multi-factor sign-in adds `FEDERATED_MFA_FACTOR` instead
 * (see `amrAuthentication`).
 */
export const AMR_FACTORS: Readonly<Record<string, AuthenticationFactor>> = Object.freeze({
  pwd: 'password',
  hwk: 'webauthn',
  swk: 'webauthn',
});

/** Factor names `MfaPolicy` accepts: an `amr` value spelled like one is dropped, not kept by name. */
const BULWARK_SECOND_FACTORS: ReadonlySet<string> = new Set([
  'totp',
  'recovery-code',
  'webauthn',
  'email-otp',
  'sms-otp',
  FEDERATED_MFA_FACTOR,
]);

const AMR_VALUE = /^[A-Za-z0-9._:-]{1,64}$/;
const MAX_AMR = 16;

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
 * The factors an `amr` claim reports, mapped through `table` (default AMR_FACTORS). Values not in
 * the table keep their name, except names of Bulwark's second factors (a provider cannot report
 * `totp` and have it count). Anything that is not a short token-like string is dropped: the claim
 * comes from the provider and ends up in principals and audit events.
 */
export function factorsFromAmr(
  amr: unknown,
  table: Readonly<Record<string, AuthenticationFactor>> = AMR_FACTORS,
): readonly AuthenticationFactor[] {
  if (!Array.isArray(amr)) return [];
  const out: AuthenticationFactor[] = [];
  for (const value of amr.slice(0, MAX_AMR)) {
    if (typeof value !== 'string' || !AMR_VALUE.test(value)) continue;
    const mapped = Object.hasOwn(table, value);
    if (!mapped && BULWARK_SECOND_FACTORS.has(value)) continue;
    const factor = mapped ? table[value]! : value;
    if (!out.includes(factor)) out.push(factor);
  }
  return out;
}

/**
 * Whether `amr` reports multi-factor authentication: the `mfa` value, or factors of two different
 * kinds (a password and a one-time code; a hardware key and a fingerprint). Two passwords, a lone
 * one-time code, or a value Bulwark does not know, do not count.
 */
export function amrShowsMultiFactor(amr: unknown): boolean {
  if (!Array.isArray(amr)) return false;
  if (amr.includes('mfa')) return true;
  const kinds = new Set(amr.slice(0, MAX_AMR).map((v) => (typeof v === 'string' ? AMR_KINDS[v] : undefined)));
  kinds.delete(undefined);
  return kinds.size >= 2;
}

/**
 * `factors` and `mfaAt` of a sign-in from its `amr` claim and `auth_time` (seconds). A provider's
 * multi-factor sign-in adds `FEDERATED_MFA_FACTOR` with `mfaAt` = `auth_time` — only when
 * `auth_time` is present: without it nobody knows when the factors were proved (`iat` says when
 * the token was issued, which an SSO session renews without asking again).
 */
export function amrAuthentication(
  amr: unknown,
  authTimeSec: unknown,
  table: Readonly<Record<string, AuthenticationFactor>> = AMR_FACTORS,
): { readonly factors: readonly AuthenticationFactor[]; readonly mfaAt?: number } {
  const factors = factorsFromAmr(amr, table).filter((f) => f !== FEDERATED_MFA_FACTOR);
  const timed = typeof authTimeSec === 'number' && Number.isSafeInteger(authTimeSec) && authTimeSec > 0;
  if (!timed || !amrShowsMultiFactor(amr)) return { factors };
  return { factors: [...factors, FEDERATED_MFA_FACTOR], mfaAt: authTimeSec * 1000 };
}
