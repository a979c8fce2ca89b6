// @bulwark/typeorm public API: the SQL audit store, its entities and migrations.
export { TypeOrmAuditStore, type TypeOrmAuditStoreOptions } from './typeorm-audit-store';
export { createAuditDataSource, type AuditDataSourceOptions } from './create-audit-data-source';
export {
  AuditEntrySchema,
  AuditHeadSchema,
  bulwarkEntities,
  type AuditEntryRow,
  type AuditHeadRow,
} from './audit-entities';
export { bulwarkMigrations } from './migrations/bulwark-migrations';
export { BulwarkAuditTables1735689600000 } from './migrations/bulwark-audit-tables-1735689600000';
export { BulwarkAuditBatchId1735690000000 } from './migrations/bulwark-audit-batch-id-1735690000000';
export { STORAGE_FAULT_FIELD } from './audit-row';

// Field-level encryption, blind indexes, classification, entity audit, key store (issue "TypeORM adapter").
export {
  registerBulwarkEncryption,
  type BulwarkEncryption,
  type BulwarkEncryptionOptions,
  activeEncryption,
  type ActiveEncryption,
} from './register-bulwark-encryption';
export { EncryptedField, type EncryptedFieldOptions } from './encrypted-field';
export { EncryptedColumnTransformer } from './encrypted-column-transformer';
export type { EncryptedValueType, ClassificationCategory } from './field-registry';
export {
  BlindIndex,
  blindIndex,
  blindIndexes,
  findByBlindIndex,
  findOneByBlindIndex,
  blindIndexBits,
  type BlindIndexColumnOptions,
} from './blind-index-column';
export { encryptedValue, encryptedValues } from './encrypted-value';
export {
  migrateBlindIndexes,
  type MigrateBlindIndexesOptions,
  type MigrateBlindIndexesProgress,
  type MigrateBlindIndexesReport,
} from './migrate-blind-indexes';
export {
  Classified,
  PersonalData,
  Sensitive,
  PHI,
  CardholderData,
  registerClassifications,
  type ClassificationSink,
} from './classification';
export { BulwarkEncryptionSubscriber } from './encryption-subscriber';
export { AuditedEntity, Audited, type AuditedOptions } from './audited';
export {
  BulwarkAuditSubscriber,
  registerBulwarkAudit,
  ENCRYPTED_MARKER,
  BLIND_INDEX_MARKER,
  type BulwarkAuditOptions,
  type AuditAppender,
} from './audit-subscriber';
export {
  rewrapEntities,
  type RewrapEntitiesOptions,
  type RewrapEntitiesProgress,
  type RewrapEntitiesReport,
} from './rewrap-entities';
export { TypeOrmKeyStore } from './typeorm-key-store';
export {
  KeyRecordSchema,
  KeyVersionSchema,
  RingSecretSchema,
  SubjectKeySchema,
  bulwarkKeyEntities,
} from './key-store-entities';
export { BulwarkKeyTables1735689700000 } from './migrations/bulwark-key-tables-1735689700000';
export { BulwarkTypeOrmError, TypeOrmErrorCodes, type TypeOrmErrorCode } from './bulwark-typeorm-error';

// Consent store (issue "Privacy and compliance engines").
export { TypeOrmConsentStore, type ConsentRecordShape } from './typeorm-consent-store';
export { ConsentRecordSchema, bulwarkConsentEntities, type ConsentRecordRow } from './consent-entities';
export { BulwarkConsentTables1735689800000 } from './migrations/consent-tables-1735689800000';

// Every register in SQL, shared across instances (issue "Production state and scale-out").
export {
  bulwarkStores,
  bulwarkStoreMigrations,
  bulwarkStoreEntities,
  type TypeOrmBulwarkStores,
} from './bulwark-stores';
export { TypeOrmDsrStore } from './typeorm-dsr-store';
export { TypeOrmMfaStore } from './typeorm-mfa-store';
export { TypeOrmWebAuthnStore } from './typeorm-webauthn-store';
export { TypeOrmOtpStore } from './typeorm-otp-store';
export { TypeOrmBreakGlassStore } from './typeorm-break-glass-store';
export { TypeOrmRegisterStore } from './typeorm-register-store';
export { BulwarkRegisterTables1735689900000 } from './migrations/register-tables-1735689900000';
export { TypeOrmAttestationStore } from './typeorm-attestation-store';
export { BulwarkAttestationTables1735690400000 } from './migrations/attestation-tables-1735690400000';
export { BulwarkRegisterKinds1735690500000 } from './migrations/register-kinds-1735690500000';
export { TypeOrmRevocationStore } from './typeorm-revocation-store';
export { BulwarkRevocationTables1735690300000 } from './migrations/revocation-tables-1735690300000';
export { scopeQuery, type ScopeQueryOptions } from './scope-query';
export { BulwarkMfaFactorTables1736100000000 } from './migrations/mfa-factor-tables-1736100000000';

// Server-side sessions shared by every instance (issue 18).
export { TypeOrmSessionStore } from './typeorm-session-store';
export { BulwarkSessionTables1735690100000 } from './migrations/session-tables-1735690100000';
export { TypeOrmAccountStore } from './typeorm-account-store';
export { BulwarkAccountTables1735690200000 } from './migrations/account-tables-1735690200000';

// Encrypting a populated database, and migrating from typeorm-encrypted (issue 20).
export {
  encryptExistingRows,
  type EncryptExistingRowsOptions,
  type EncryptExistingRowsReport,
  type EncryptProgress,
  type EncryptColumnReport,
  type EncryptBlindIndexReport,
  type EncryptVerification,
} from './encrypt-existing-rows';
export {
  migrateFromTypeormEncrypted,
  type MigrateFromTypeormEncryptedOptions,
} from './migrate-from-typeorm-encrypted';
export type { PlaintextReadCounts } from './register-bulwark-encryption';
export {
  scanStoredPlaintext,
  type StoredPlaintextScan,
  type StoredPlaintextScanOptions,
  type StoredPlaintextColumn,
} from './scan-stored-plaintext';
