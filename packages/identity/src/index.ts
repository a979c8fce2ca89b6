export { SignInMapper } from './sign-in';
export type { ProvisionedUser, SignInAuditSink, SignInMappingOptions, SignInRequestContext } from './sign-in';
export { MemoryOneTimeStore, RedisOneTimeStore } from './one-time-store';
export type { OneTimeStore, OneTimeRedisClient } from './one-time-store';
