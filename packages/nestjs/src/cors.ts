import { CorsPolicy, mergeVary, type CorsDecision, type CorsOptions } from '@bulwark/core/http';
import type { PlatformMiddleware } from './platform-middleware';

/**
 * CORS by exact-match allowlist (core's CorsPolicy), as @bulwark/express's `cors`: an allowed
 * preflight is answered 204 by the middleware; a refused one goes to BulwarkExceptionFilter (403
 * ERR_HTTP_CORS_REFUSED).
 */
export function cors(options: CorsOptions): PlatformMiddleware {
  const policy = new CorsPolicy({ configPath: 'BulwarkModule.cors', ...options });
  return (req, res, next) => {
    let decision: CorsDecision;
    try {
      decision = policy.decide({ method: req.method ?? 'GET', headers: req.headers });
    } catch (error) {
      res.setHeader('Vary', mergeVary(res.getHeader('Vary') as string | undefined, ['Origin']));
      return next(error);
    }
    if (decision.vary.length > 0) {
      res.setHeader('Vary', mergeVary(res.getHeader('Vary') as string | undefined, decision.vary));
    }
    for (const [name, value] of Object.entries(decision.headers)) res.setHeader(name, value);
    if (!decision.preflight) return next();
    res.statusCode = 204;
    res.setHeader('Content-Length', '0');
    res.end();
  };
}
