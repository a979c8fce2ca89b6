import { BruteForceGate, type BruteForceGateOptions } from '@bulwark/core';
import type { Middleware } from 'koa';
import { clientIp } from './request-state';

/**
 * For login routes (after the body is parsed): 429 + Retry-After while the IP, account or pair is
 * locked out; afterwards a 401/403 answer counts as a failure and a 2xx clears the pair's counter.
 */
export function bruteForce(options: BruteForceGateOptions): Middleware {
  const gate = new BruteForceGate(options);
  return async (ctx, next) => {
    const attempt = gate.attempt(clientIp(ctx), (ctx.request as { body?: unknown }).body);
    await gate.before(attempt);
    ctx.res.once('finish', () => gate.after(attempt, ctx.res.statusCode));
    await next();
  };
}
