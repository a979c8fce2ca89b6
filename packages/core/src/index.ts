import 'reflect-metadata';

// errors
export * from './errors';

// crypto: envelopes, key ring, providers, stores, rotation, blind indexes, crypto-shredding
export {
  KeyRing,
  EnvKeyProvider,
  FileKeyProvider,
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
  type Normaliser,
  type NormaliserName,
  type BlindIndexOptions,
  type KeyInfo,
  type KeyVersionInfo,
  type EncryptOptions,
  type DecryptOptions,
  type KeyRingOptions,
} from './crypto/key-ring';
export {
  rewrap,
  type RewrapItem,
  type RewrapProgress,
  type RewrapReport,
  type RewrapOptions,
} from './crypto/rewrap';
export { aeadEncrypt, aeadDecrypt, type LowLevelAeadAlgorithm } from './crypto/aead';

// passwords
export {
  PasswordHasher,
  OWASP_ARGON2ID_DEFAULTS,
  type PasswordHasherOptions,
  type PasswordHashParams,
  type PasswordVerification,
  type UnicodeNormalization,
} from './crypto/password-hasher';

// tokens
export {
  TokenService,
  type TokenServiceOptions,
  type TokenSigningKey,
  type TokenVerification,
  type SingleKeyVerification,
  type LocalJwksVerification,
  type RemoteJwksVerification,
  type SignOptions,
  type TokenClaims,
  type TokenHeader,
  type VerifiedToken,
} from './tokens/token-service';
export { generateSigningKey, type GeneratedSigningKey } from './tokens/generate-signing-key';
export { JWS_ALGORITHMS, type JwsAlgorithm } from './tokens/jws-algorithms';
export type { TokenKeyInput } from './tokens/token-key';

// composition
export {
  createBulwark,
  type Bulwark,
  type BulwarkConfig,
  type MasterKeyConfig,
  type KeyStoreConfig,
} from './bulwark';
export { bulwarkContainerModule, BULWARK_TYPES } from './container-module';

// CLI (programmatic entry, e.g. for embedding in another tool)
export { runCli } from './cli/main';
export { ExitCode, type CliIo } from './cli/cli-io';
