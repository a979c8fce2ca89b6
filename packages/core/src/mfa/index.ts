// Multi-factor authentication: TOTP, recovery codes, the step-up policy.
export type { MfaStore, StoredTotp, StoredRecoveryCode, TotpAlgorithm, TotpDigits } from './mfa-store';
export { MemoryMfaStore } from './memory-mfa-store';
export {
  TotpFactor,
  type TotpFactorOptions,
  type TotpEnrollment,
  type TotpFactorDescription,
} from './totp-factor';
export { RecoveryCodes, type RecoveryCodesOptions, type RecoveryCodesDescription } from './recovery-codes';
export { mfaContext, type MfaContext, type MfaVerification, type MfaMethod } from './mfa-context';
export {
  MfaPolicy,
  type MfaPolicyOptions,
  type MfaPolicyDecision,
  type MfaPolicyDescription,
} from './mfa-policy';
export type { MfaAttemptGuard, MfaAttempt } from './mfa-attempt-guard';
