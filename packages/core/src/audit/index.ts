// Tamper-evident audit: RFC 8785 canonical JSON, RFC 6962 Merkle tree, signed checkpoints, stores
// and sinks. Every public name of the engine; the package entries pick from here.
export { toOcsf, OCSF_CLASSES, type OcsfEvent, type OcsfOptions } from './ocsf-event';
export { toSyslog, type SyslogOptions } from './syslog-message';
export type { AuditSinkFormat } from './json-lines-sink';
export { auditSeverity, auditRisk, auditSeverityRank, type AuditSeverity } from './audit-severity';
export {
  GENESIS_HASH,
  AUDIT_LIMITS,
  type AuditEvent,
  type AuditEntry,
  type AuditActor,
  type AuditActorType,
  type AuditOutcome,
  type AuditResource,
  type AuditRedaction,
  type AuditDetails,
  type AuditJsonValue,
  type AuditHead,
} from './audit-event';
export {
  normalizeAuditQuery,
  matchesAuditQuery,
  encodeAuditCursor,
  redactedEntry,
  checkAppendContinuity,
  EMPTY_HEAD,
  MAX_QUERY_LIMIT,
  type AuditStore,
  type AuditPrepare,
  type AuditQuery,
  type NormalizedAuditQuery,
  type AuditPage,
  type TornTail,
} from './audit-store';
export { MemoryAuditStore } from './memory-audit-store';
export {
  FileAuditStore,
  type FileAuditStoreOptions,
  type TornTailRepair,
  type FsyncPolicy,
  type InProgressTail,
} from './file-audit-store';
export { Redactor, type RedactorOptions, type DataClassification } from './redactor';
export {
  verifyCheckpoint,
  exportCheckpoint,
  importCheckpoint,
  decodeCheckpoint,
  CHECKPOINT_JWS_TYPE,
  type Checkpoint,
  type TreeHead,
  type CheckpointPublicKey,
} from './checkpoint';
export { CheckpointSigner } from './checkpoint-signer';
export { checkCheckpointOrder, type CheckpointStore } from './checkpoint-store';
export { MemoryCheckpointStore } from './memory-checkpoint-store';
export { FileCheckpointStore } from './file-checkpoint-store';
export {
  verifyAuditLog,
  type AuditVerificationReport,
  type AuditFault,
  type AuditFaultReason,
  type VerifyAuditLogOptions,
} from './verify-audit-log';
export type { AuditSink } from './audit-sink';
export { JsonLinesSink, type JsonLinesSinkOptions } from './json-lines-sink';
export {
  NatsAuditSink,
  type NatsAuditSinkOptions,
  type NatsAuditSinkStats,
  type NatsJetStreamPublisher,
  type NatsPublishOptions,
  type NatsPubAck,
  type NatsHeaders,
  type NatsAuditSinkDescription,
  type NatsAuditSpoolOptions,
  type NatsConnect,
  type NatsConnectOptions,
  type NatsConnectionLike,
  type AuditSpoolOnFull,
  type AuditSpoolFsync,
} from './nats-audit-sink';
export { JsonLinesLogReader } from './json-lines-log-reader';
export { MerkleNodeCache } from './merkle-node-cache';
export { detectAuditKeying, type AuditKeying, type AuditKeyingReport } from './audit-keying';
export { RetentionPolicy, type RetentionPolicyOptions, type LegalHold } from './retention-policy';
export {
  AuditLog,
  AUDIT_REVIEW_ACTION,
  verificationEvent,
  type AuditReview,
  type AuditLogOptions,
  type AuditLogQuery,
  type AutoCheckpointEvery,
  type AutoCheckpointOptions,
  type InclusionProof,
  type ConsistencyProof,
  type RemovalReport,
  type RedactOptions,
} from './audit-log';
export {
  SubjectPseudonymizer,
  PRESERVED_FROM_KEY,
  type SubjectPseudonymizerOptions,
} from './subject-pseudonymizer';
export { canonicalize, canonicalBytes } from './canonical-json';
export {
  MerkleTree,
  hashLeaf,
  hashChildren,
  EMPTY_ROOT,
  rootFromInclusionProof,
  verifyInclusion,
  verifyConsistency,
} from './merkle-tree';
