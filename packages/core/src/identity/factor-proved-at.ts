import type { AuthenticationFactor, PrincipalAuthentication } from './authentication';

/** Factors that are second factors (`mfaAt` is the time of the latest of them). */
const SECOND_FACTORS: ReadonlySet<string> = new Set([
  'totp',
  'recovery-code',
  'webauthn',
  'email-otp',
  'sms-otp',
  // an identity provider's MFA (amr `mfa`, a SAML MFA context): timed by the provider's auth_time
  'federated-mfa',
]);

/** True for a second factor (TOTP, a recovery code, a passkey, an e-mail or SMS code, an identity provider's MFA). */
export function isSecondFactor(factor: AuthenticationFactor): boolean {
  return SECOND_FACTORS.has(factor);
}

/**
 * Epoch ms at which `factor` itself was last proved, or undefined when it was not proved or its
 * time cannot be told apart from another factor's (fail closed). Its own `factorTimes` entry wins;
 * without one, a second factor takes `mfaAt` only when that time can only be its own (it is the
 * sole second factor, or nothing was stepped up since a one-shot sign-in that recorded no
 * per-factor times), and a primary factor takes the sign-in time. So a fresh factor of one kind
 * never refreshes an old factor of another.
 */
export function factorProvedAt(
  auth: Pick<PrincipalAuthentication, 'at' | 'factors' | 'mfaAt' | 'factorTimes'> | undefined,
  factor: AuthenticationFactor,
): number | undefined {
  if (auth === undefined || !Array.isArray(auth.factors) || !auth.factors.includes(factor)) return undefined;
  const own =
    auth.factorTimes !== undefined && Object.hasOwn(auth.factorTimes, factor)
      ? auth.factorTimes[factor]
      : undefined;
  if (own !== undefined) return finite(own);
  if (!SECOND_FACTORS.has(factor)) return finite(auth.at);
  const seconds = auth.factors.filter((f) => SECOND_FACTORS.has(f));
  if (seconds.length === 1 || auth.factorTimes === undefined) return finite(auth.mfaAt ?? auth.at);
  return undefined;
}

function finite(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}
