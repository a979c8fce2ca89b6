import { CorsPolicy, type CorsDecision, type CorsOptions } from '@bulwark/core/http';
import type { Middleware } from 'koa';

/**
 * CORS by exact-match allowlist (core's CorsPolicy): an allowed Origin gets its CORS headers and
 * `Vary: Origin`; an allowed preflight is answered 204 here; a preflight from an origin, method or
 * header outside the lists is refused with 403 ERR_HTTP_CORS_REFUSED. Other origins get no CORS
 * header (the browser withholds the response).
 */
export function cors(options: CorsOptions): Middleware {
  const policy = new CorsPolicy(options);
  return async (ctx, next) => {
    let decision: CorsDecision;
    try {
      decision = policy.decide({ method: ctx.method, headers: ctx.req.headers });
    } catch (err) {
      ctx.vary('Origin');
      throw err;
    }
    for (const field of decision.vary) ctx.vary(field);
    ctx.set(decision.headers);
    if (!decision.preflight) return next();
    ctx.status = 204;
  };
}
