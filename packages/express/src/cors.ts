import { CorsPolicy, mergeVary, type CorsDecision, type CorsOptions } from '@bulwark/core/http';
import type { RequestHandler } from 'express';

/**
 * CORS by exact-match allowlist (core's CorsPolicy): an allowed Origin gets its CORS headers and
 * `Vary: Origin`; an allowed preflight is answered 204 here; a preflight from an origin, method or
 * header outside the lists is refused with 403 ERR_HTTP_CORS_REFUSED. Other origins get no CORS
 * header (the browser withholds the response).
 */
export function cors(options: CorsOptions): RequestHandler {
  const policy = new CorsPolicy(options);
  return (req, res, next) => {
    let decision: CorsDecision;
    try {
      decision = policy.decide({ method: req.method, headers: req.headers });
    } catch (err) {
      res.setHeader('Vary', mergeVary(res.getHeader('Vary') as string | undefined, ['Origin']));
      return next(err);
    }
    if (decision.vary.length > 0)
      res.setHeader('Vary', mergeVary(res.getHeader('Vary') as string | undefined, decision.vary));
    for (const [name, value] of Object.entries(decision.headers)) res.setHeader(name, value);
    if (!decision.preflight) return next();
    res.statusCode = 204;
    res.setHeader('Content-Length', '0');
    res.end();
  };
}
