import { BruteForceGate, type BruteForceGateOptions } from '@bulwark/core';
import type { RequestHandler } from 'express';
import { clientIp } from './request-state';

/**
 * For login routes (after the body is parsed): 429 + Retry-After while the IP, account or pair is
 * locked out; afterwards a 401/403 answer counts as a failure and a 2xx clears the pair's counter.
 */
export function bruteForce(options: BruteForceGateOptions): RequestHandler {
  const gate = new BruteForceGate(options);
  return (req, res, next) => {
    const attempt = gate.attempt(clientIp(req), req.body);
    gate.before(attempt).then(() => {
      res.once('finish', () => gate.after(attempt, res.statusCode));
      next();
    }, next);
  };
}
