import { BulwarkConfigError, ErrorCodes } from '@bulwark/core';
import { PrivacyEndpoint, type BulwarkHttpKit } from '@bulwark/core/http';
import type { Middleware } from 'koa';
import { sendProblem } from './problem-details';
import { bulwarkState, requestArrival, requestState } from './request-state';

/**
 * Consent and data-subject-request endpoints for the authenticated subject (see PrivacyApi in
 * @bulwark/core for the routes), answered under `prefix` (default `/privacy`):
 * `app.use(privacyRouter(kit))`. Authenticates with kit.tokens unless a principal is already set,
 * and audits every call (refused ones too) to kit.auditLog.
 */
export function privacyRouter(kit: BulwarkHttpKit, options: { prefix?: string } = {}): Middleware {
  const endpoint = new PrivacyEndpoint(kit);
  const prefix = options.prefix ?? '/privacy';
  if (!/^\/[A-Za-z0-9._~/-]*[^/]$/.test(prefix)) {
    throw new BulwarkConfigError(
      ErrorCodes.CONFIG_INVALID,
      'privacyRouter.prefix must be a path like /privacy',
      {
        path: 'privacyRouter.prefix',
      },
    );
  }
  return async (ctx, next) => {
    if (ctx.path !== prefix && !ctx.path.startsWith(`${prefix}/`)) return next();
    const shared = bulwarkState(ctx);
    const arrival = requestArrival(ctx);
    await endpoint.serve(
      {
        method: ctx.method,
        path: ctx.path.slice(prefix.length),
        route: ctx.path,
        headers: ctx.req.headers,
        stream: ctx.req,
        body: (ctx.request as { body?: unknown }).body,
        ...(shared.principal !== undefined ? { principal: shared.principal } : {}),
        ...(arrival.ip !== undefined ? { ip: arrival.ip } : {}),
        requestId: shared.requestId ?? arrival.requestId,
        ...(arrival.clientRequestId !== undefined ? { clientRequestId: arrival.clientRequestId } : {}),
      },
      {
        setPrincipal: (principal) => {
          shared.principal = principal;
        },
        respond: (out) => {
          requestState(ctx).resource = out.resource;
          ctx.status = out.status;
          ctx.set(out.headers);
          ctx.body = out.body;
          if (typeof out.body === 'string' && out.headers['content-type'] !== undefined)
            ctx.type = out.headers['content-type'];
        },
        fail: (err) => sendProblem(ctx, err),
        auditFacts: () => requestState(ctx),
      },
    );
  };
}
