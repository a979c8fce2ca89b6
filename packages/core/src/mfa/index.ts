// Multi-factor authentication: TOTP, recovery codes, one-time codes, the step-up policy (WebAuthn: ./webauthn).
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
export { OtpFactor, type OtpFactorOptions, type OtpFactorDescription, type OtpChallenge } from './otp-factor';
export { MemoryOtpStore, type OtpStore, type StoredOtp } from './otp-store';
export type { OtpTransport, OtpMessage } from './otp-transport';
export {
  NodemailerOtpTransport,
  type NodemailerOtpTransportOptions,
  type MailTransporter,
} from './nodemailer-otp-transport';
export type { MfaAuditSink } from './mfa-audit';
