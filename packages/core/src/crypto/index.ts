// Field encryption: AEAD envelopes, the key ring, master-key providers, key stores, rotation,
// blind indexes, crypto-shredding; argon2id passwords. Every public name of the engine; the
// package entries (`@bulwark/core`, `@bulwark/core/store`) pick from here.
export {
  KeyRing,
  EnvKeyProvider,
  FileKeyProvider,
  type FileKeyProviderOptions,
  MemoryKeyStore,
  FileKeyStore,
  generateMasterKey,
  normalisers,
  type AeadAlgorithm,
  type KeyProvider,
  type KeyWrapContext,
  type KeyStore,
  type StoredKey,
  type StoredKeyVersion,
  type StoredRingSecret,
  type StoredSubjectKey,
  type WrappedKeyTarget,
  type MasterRotationOptions,
  type MasterRotationProgress,
  type MasterRotationReport,
  type Normaliser,
  type NormaliserName,
  type BlindIndexOptions,
  type KeyInfo,
  type KeyVersionInfo,
  type EncryptOptions,
  type DecryptOptions,
  type KeyRingOptions,
  type KeyRingAuditLog,
  type KeyIntegrityFailure,
  ROTATION_PRESETS,
  DEFAULT_ROTATE_EVERY_DAYS,
  type RotationPolicy,
  type RotationOptions,
  type RotationDue,
  type AutoRotateOptions,
  type EnvelopeFormat,
} from './key-ring';
export { encryptJson, decryptJson, type DecryptJsonOptions } from './json-envelope';
export {
  hkdf,
  scryptKey,
  pbkdf2Key,
  PBKDF2_MIN_ITERATIONS,
  type KdfHash,
  type HkdfOptions,
  type ScryptOptions,
  type Pbkdf2Options,
} from './key-derivation';
export {
  signMessage,
  verifyMessage,
  SIGNATURE_ALGORITHMS,
  type SignatureAlgorithm,
  type SignatureKey,
} from './signatures';
export {
  rewrap,
  type RewrapItem,
  type RewrapProgress,
  type RewrapReport,
  type RewrapOptions,
} from './rewrap';
export { aeadEncrypt, aeadDecrypt, type LowLevelAeadAlgorithm } from './aead';
export {
  PasswordHasher,
  OWASP_ARGON2ID_DEFAULTS,
  type PasswordHasherOptions,
  type PasswordHashParams,
  type PasswordVerification,
  type UnicodeNormalization,
} from './password-hasher';
export { envelopeKind, type EnvelopeKind } from './envelope';
export {
  PasswordPolicy,
  PASSWORD_REFUSAL_REASONS,
  passwordPolicyError,
  type PasswordPolicyOptions,
  type PasswordContext,
  type PasswordCheckResult,
  type PasswordRefusalReason,
  type PasswordPolicyDescription,
} from './password-policy';
