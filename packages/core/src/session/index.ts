export {
  SessionEngine,
  type SessionEngineOptions,
  type SessionEngineDescription,
  type SessionProbe,
  type SessionInfo,
  type SessionActor,
  type SessionAuditSink,
} from './session-engine';
export { HttpSession, type SessionRequest, type SessionLogin } from './http-session';
export { MemorySessionStore } from './memory-session-store';
export {
  RedisSessionStore,
  type RedisSessionStoreOptions,
  type SessionRedisClient,
} from './redis-session-store';
export type { SessionStore, StoredSession, StoredSessionPrincipal } from './session-store';
export { parseStoredSession } from './stored-session';
