import type { AuditLog } from '../audit/audit-log';
import { MemoryRevocationStore } from '../tokens/memory-revocation-store';
import { RedisRevocationStore, type RevocationRedisClient } from '../tokens/redis-revocation-store';
import { REVOCATION_STORE_METHODS, type RevocationStore } from '../tokens/revocation-store';
import { TokenRevocation } from '../tokens/token-revocation';
import type { TokenService } from '../tokens/token-service';
import {
  configError,
  hasMethods,
  invalid,
  isPlainObject,
  optionKeys,
  positiveInt,
  section,
} from '../util/options';
import type { RevocationConfig } from './bulwark-config';
import { withClock, type Opened } from './opened';

// The `revocation` section: a jti deny-list and per-subject "not before" times in a shared store.

const KNOWN = optionKeys<RevocationConfig>({
  store: true,
  maxTokenLifetimeSec: true,
  allowTokensWithoutJti: true,
});

/** The checked section, with its store built. */
export interface RevocationPlan {
  store: RevocationStore;
  maxTokenLifetimeSec?: number;
  allowTokensWithoutJti?: boolean;
}

/** Checks the section (it needs `tokens`) and builds its store; nothing is opened. */
export function planRevocation(
  value: unknown,
  hasTokens: boolean,
  given: RevocationStore | undefined,
): RevocationPlan | undefined {
  const config = section(value, 'revocation', KNOWN) as RevocationConfig | undefined;
  if (config === undefined) return undefined;
  if (config.maxTokenLifetimeSec !== undefined) {
    positiveInt(config.maxTokenLifetimeSec, 'revocation.maxTokenLifetimeSec');
  }
  if (!hasTokens)
    throw configError('revocation', 'requires the tokens section: it revokes the tokens it verifies');
  const raw = config.store ?? given;
  let store: RevocationStore;
  if (raw === 'memory') store = new MemoryRevocationStore();
  else if (isPlainObject(raw) && 'redis' in raw && !hasMethods(raw, ...REVOCATION_STORE_METHODS)) {
    const { redis, keyPrefix } = raw as { redis: RevocationRedisClient; keyPrefix?: string };
    store = new RedisRevocationStore({ client: redis, keyPrefix, configPath: 'revocation.store' });
  } else if (hasMethods(raw, ...REVOCATION_STORE_METHODS)) store = raw as RevocationStore;
  else if (raw === undefined) {
    throw configError(
      'revocation.store',
      'is required: a RevocationStore, { redis: client }, or "memory" (one process only: revocations are lost on restart)',
    );
  } else throw invalid('revocation.store', 'a RevocationStore, { redis: client } or "memory"', raw);
  return {
    store,
    maxTokenLifetimeSec: config.maxTokenLifetimeSec,
    allowTokensWithoutJti: config.allowTokensWithoutJti,
  };
}

export function openRevocation(
  plan: RevocationPlan,
  tokens: TokenService,
  auditLog: AuditLog | undefined,
  clock: (() => Date) | undefined,
  opened: Opened[],
): TokenRevocation {
  const revocation = new TokenRevocation({
    store: plan.store,
    tokens,
    ...(plan.maxTokenLifetimeSec !== undefined ? { maxTokenLifetimeSec: plan.maxTokenLifetimeSec } : {}),
    ...(plan.allowTokensWithoutJti !== undefined
      ? { allowTokensWithoutJti: plan.allowTokensWithoutJti }
      : {}),
    ...(auditLog !== undefined ? { auditLog } : {}),
    ...withClock(clock),
    configPath: 'revocation',
  });
  const store = plan.store;
  opened.push({ name: 'revocation.store', close: () => store.close?.() });
  return revocation;
}
