/**
 * The connection state of an ioredis or node-redis (v4+) client, read structurally (core never
 * imports a Redis driver). ioredis says `status` ('wait', 'connecting', 'connect', 'ready',
 * 'reconnecting', 'close', 'end'); node-redis says `isReady`. Both emit 'ready'.
 */
interface ReadinessSource {
  status?: unknown;
  isReady?: unknown;
  once?(event: 'ready' | 'end', listener: () => void): unknown;
  removeListener?(event: 'ready' | 'end', listener: () => void): unknown;
}

/** Whether the client says it can run commands now (`undefined`: it does not say). */
function redisReady(client: unknown): boolean | undefined {
  const c = client as ReadinessSource | null;
  if (c === null || typeof c !== 'object') return undefined;
  if (typeof c.isReady === 'boolean') return c.isReady;
  if (typeof c.status === 'string') return c.status === 'ready';
  return undefined;
}

/**
 * Resolves once the client is ready, or after `timeoutMs`, or when it ends for good, whichever
 * comes first (never rejects: the caller's next command then fails as it would have). A client
 * that does not report its state is taken as ready.
 */
export function whenRedisReady(client: unknown, timeoutMs: number): Promise<void> {
  if (redisReady(client) !== false) return Promise.resolve();
  const c = client as ReadinessSource;
  if (c.status === 'end' || typeof c.once !== 'function') return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      c.removeListener?.('ready', done);
      c.removeListener?.('end', done);
      resolve();
    };
    const timer = setTimeout(done, timeoutMs);
    timer.unref?.();
    c.once!('ready', done);
    c.once!('end', done);
  });
}
