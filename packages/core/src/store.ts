// @bulwark/core/store: for writing an AuditStore, KeyStore, CheckpointStore, ConsentStore,
// DsrStore or MfaStore of your own (as @bulwark/typeorm does): the interfaces, the records they
// persist, and the helpers that keep every implementation's semantics identical (query
// normalization and cursors, append continuity, redaction, checkpoint order). An app that only
// uses the stores Bulwark ships needs none of this.

// key store: wrapped data keys, ring secrets and subject keys
export type {
  KeyStore,
  StoredKey,
  StoredKeyVersion,
  StoredRingSecret,
  StoredSubjectKey,
  WrappedKeyTarget,
} from './crypto';

// audit store: the chain's records and the shared query / append semantics
export {
  GENESIS_HASH,
  EMPTY_HEAD,
  MAX_QUERY_LIMIT,
  normalizeAuditQuery,
  matchesAuditQuery,
  encodeAuditCursor,
  redactedEntry,
  checkAppendContinuity,
  checkCheckpointOrder,
  type AuditStore,
  type AuditPrepare,
  type AuditQuery,
  type NormalizedAuditQuery,
  type AuditPage,
  type TornTail,
  type AuditEntry,
  type AuditEvent,
  type AuditHead,
  type AuditRedaction,
  type CheckpointStore,
  type Checkpoint,
} from './audit';

// consent, data-subject request and MFA stores
export type { ConsentStore, ConsentRecord, ConsentAction } from './privacy';
export type { DsrStore, DataSubjectRequest, DsrType, DsrStatus, DsrFilter, DsrHistoryEntry } from './privacy';
export { dsrFilterStatuses } from './util/dsr-filter-statuses';
export type { MfaStore, StoredTotp, StoredRecoveryCode, OtpStore, StoredOtp } from './mfa';
export type {
  WebAuthnStore,
  StoredWebAuthnCredential,
  StoredChallenge,
  WebAuthnTransport,
} from './mfa/webauthn/webauthn-store';

// the registers' versioned stores, shared break-glass grants and detection windows
export type { RegisterStore, StoredRecord, RegisterKind } from './privacy';
export type { BreakGlassStore, StoredBreakGlassGrant } from './authz';
export type { RevocationStore, RevocationStatus } from './tokens';
export type { DetectionWindowStore, BurstResult } from './threat';

// compliance attestations: the check every AttestationStore runs on a record on the way in and out
export { parseAttestationRecord } from './compliance/attestation-record';

// file-backed stores: replace a file atomically (temp file, fsync, rename) with a given mode
export { writeFileAtomic } from './util/write-file-atomic';

// sessions: the store contract and the record check every store applies on read
export { parseStoredSession } from './session';
export type { SessionStore, StoredSession, StoredSessionPrincipal } from './session';
export type { AccountStore, StoredAccount, StoredResetToken } from './account';
