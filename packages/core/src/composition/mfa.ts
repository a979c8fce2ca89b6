import type { KeyRing } from '../crypto/key-ring';
import type { PasswordHasher } from '../crypto/password-hasher';
import { MemoryMfaStore } from '../mfa/memory-mfa-store';
import { MfaPolicy, type MfaPolicyOptions } from '../mfa/mfa-policy';
import type { MfaAuditSink } from '../mfa/mfa-audit';
import type { MfaStore } from '../mfa/mfa-store';
import { RecoveryCodes, type RecoveryCodesOptions } from '../mfa/recovery-codes';
import { TotpFactor, type TotpFactorOptions } from '../mfa/totp-factor';
import type { BruteForceGuard } from '../threat/brute-force-guard';
import type { MfaConfig } from './bulwark-config';
import { requireStore } from './config-input';
import { configError, section, optionKeys } from '../util/options';
import { withClock, type Opened } from './opened';

// The `mfa` section: who needs a second factor, and the TOTP and recovery-code factors.

const KNOWN_MFA = optionKeys<MfaConfig>({ policy: true, store: true, totp: true, recoveryCodes: true });
const KNOWN_MFA_POLICY = optionKeys<MfaConfig['policy']>({
  requiredFor: true,
  maxAgeSec: true,
  methods: true,
});
const KNOWN_TOTP = optionKeys<NonNullable<MfaConfig['totp']>>({
  issuer: true,
  keyId: true,
  allowPlaintextSecrets: true,
  algorithm: true,
  digits: true,
  period: true,
  window: true,
  secretBytes: true,
});
const KNOWN_RECOVERY = optionKeys<NonNullable<MfaConfig['recoveryCodes']>>({ count: true, length: true });

export interface MfaPlan {
  policy: MfaPolicy;
  config: MfaConfig;
}

export function planMfa(
  value: unknown,
  hasKeys: boolean,
  clock: (() => Date) | undefined,
): MfaPlan | undefined {
  const mfa = section(value, 'mfa', KNOWN_MFA);
  if (mfa === undefined) return undefined;
  if (mfa.policy === undefined) {
    throw configError('mfa.policy', "is required: { requiredFor: ['admin', ...] } (or ['*'] for everyone)");
  }
  const policyOptions = section(mfa.policy, 'mfa.policy', KNOWN_MFA_POLICY);
  const policy = new MfaPolicy({
    ...(policyOptions as unknown as MfaPolicyOptions),
    configPath: 'mfa.policy',
    ...(clock ? { clock } : {}),
  });
  const totp = section(mfa.totp, 'mfa.totp', KNOWN_TOTP);
  const recovery = section(mfa.recoveryCodes, 'mfa.recoveryCodes', KNOWN_RECOVERY);
  if (totp !== undefined || recovery !== undefined || mfa.store !== undefined) {
    requireStore(mfa.store, 'mfa.store', ['getTotp', 'getRecoveryCodes'], 'MfaStore');
  }
  if (totp !== undefined && !hasKeys && totp.allowPlaintextSecrets !== true) {
    throw configError(
      'mfa.totp',
      'needs the keys section: TOTP secrets are encrypted at rest with the key ring (allowPlaintextSecrets: true only for tests)',
    );
  }
  // The factors validate their options on construction: do it now, on a throwaway store.
  if (totp !== undefined) {
    new TotpFactor({
      ...(totp as unknown as TotpFactorOptions),
      store: new MemoryMfaStore(),
      allowPlaintextSecrets: true,
      configPath: 'mfa.totp',
    });
  }
  if (recovery !== undefined) {
    new RecoveryCodes({
      ...(recovery as unknown as RecoveryCodesOptions),
      store: new MemoryMfaStore(),
      configPath: 'mfa.recoveryCodes',
    });
  }
  return { policy, config: mfa as unknown as MfaConfig };
}

/** Builds the factors over the MFA store (closed by close()); failed codes count on `guard`. */
export function openMfa(
  mfa: MfaConfig,
  wired: {
    keyRing?: KeyRing;
    hasher: PasswordHasher;
    guard?: BruteForceGuard;
    clock?: () => Date;
    audit?: MfaAuditSink;
  },
  opened: Opened[],
): { totp?: TotpFactor; recoveryCodes?: RecoveryCodes } {
  if (mfa.store === undefined) return {};
  const { keyRing, guard, clock, audit } = wired;
  // planMfa() demands a store whenever a factor is configured.
  const store: MfaStore = mfa.store === 'memory' ? new MemoryMfaStore() : mfa.store;
  opened.push({ name: 'mfa.store', close: () => store.close?.() });
  // Every failed code counts against the same guard as failed passwords (RFC 6238 §5.2 throttling).
  const out: { totp?: TotpFactor; recoveryCodes?: RecoveryCodes } = {};
  if (mfa.totp !== undefined) {
    out.totp = new TotpFactor({
      ...mfa.totp,
      store,
      ...(keyRing ? { keyRing } : {}),
      ...(guard ? { guard } : {}),
      ...(audit ? { audit } : {}),
      ...withClock(clock),
      configPath: 'mfa.totp',
    });
  }
  if (mfa.recoveryCodes !== undefined) {
    out.recoveryCodes = new RecoveryCodes({
      ...mfa.recoveryCodes,
      store,
      hasher: wired.hasher,
      ...(guard ? { guard } : {}),
      ...(audit ? { audit } : {}),
      ...withClock(clock),
      configPath: 'mfa.recoveryCodes',
    });
  }
  return out;
}
