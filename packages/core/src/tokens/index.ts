// Tokens: JWT signing and verification with an algorithm allow-list.
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
} from './token-service';
export { generateSigningKey, type GeneratedSigningKey } from './generate-signing-key';
export { JWS_ALGORITHMS, LEGACY_ALGORITHMS, type JwsAlgorithm, type LegacyAlgorithm } from './jws-algorithms';
export type { TokenKeyInput } from './token-key';
export { TokenRevocation, type TokenRevocationOptions, type RevokeOptions } from './token-revocation';
export { MemoryRevocationStore } from './memory-revocation-store';
export {
  RedisRevocationStore,
  type RedisRevocationStoreOptions,
  type RevocationRedisClient,
} from './redis-revocation-store';
export type { RevocationStore, RevocationStatus } from './revocation-store';
