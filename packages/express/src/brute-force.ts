import { BruteForceGate, type BruteForceGateOptions } from '@bulwark/core/http';
import type { RequestHandler } from 'express';
import { clientIp } from './request-state';

/**
 * For login routes (after the body is parsed): reserves the attempt before the handler checks the
 * credentials (429 + Retry-After when the IP, account or pair is full or locked), then settles it
 * from the final status: 401/403 stays counted, 2xx refunds it and clears the pair's counter.
 */
export function bruteForce(options: BruteForceGateOptions): RequestHandler {
  const gate = new BruteForceGate(options);
  return (req, res, next) => {
    const attempt = gate.attempt(clientIp(req), req.body);
    gate.before(attempt, { headers: req.headers, body: req.body }).then((ticket) => {
      res.once('finish', () => gate.after(ticket, res.statusCode));
      // 'close' without 'finish': the client went away, maybe after the check ran.
      res.once('close', () => gate.after(ticket, res.writableFinished ? res.statusCode : undefined));
      next();
    }, next);
  };
}
