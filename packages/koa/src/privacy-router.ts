import {
  BearerAuthenticator,
  BulwarkConfigError,
  ErrorCodes,
  InputGuard,
  PrivacyApi,
  RequestAuditor,
  problemFor,
  type BulwarkHttpKit,
} from '@bulwark/core';
import type { Middleware } from 'koa';
import { sendProblem } from './problem-details';
import { bulwarkState, requestState } from './request-state';

/**
 * Consent and data-subject-request endpoints for the authenticated subject (see PrivacyApi in
 * @bulwark/core for the routes), answered under `prefix` (default `/privacy`):
 * `app.use(privacyRouter(kit))`. Authenticates with kit.tokens unless a principal is already set,
 * and audits every call (refused ones too) to kit.auditLog.
 */
export function privacyRouter(kit: BulwarkHttpKit, options: { prefix?: string } = {}): Middleware {
  const api = new PrivacyApi({
    ...(kit?.consent !== undefined ? { consent: kit.consent as never } : {}),
    ...(kit?.dsr !== undefined ? { dsr: kit.dsr } : {}),
  });
  if (kit.auditLog === undefined) {
    throw new BulwarkConfigError(
      ErrorCodes.CONFIG_INVALID,
      'privacyRouter needs kit.auditLog: privacy calls are audited',
      {
        path: 'kit.auditLog',
      },
    );
  }
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
  const auditor = new RequestAuditor({ log: kit.auditLog, category: 'privacy' });
  const authenticator =
    kit.tokens !== undefined ? new BearerAuthenticator({ tokens: kit.tokens }) : undefined;
  const guard = new InputGuard({ maxBodyBytes: 16 * 1024 });
  return async (ctx, next) => {
    if (ctx.path !== prefix && !ctx.path.startsWith(`${prefix}/`)) return next();
    const start = performance.now();
    const shared = bulwarkState(ctx);
    let action = 'privacy.request';
    let status: number;
    let principal = shared.principal;
    try {
      principal ??= await authenticator?.authenticate(ctx.req.headers.authorization);
      if (principal !== undefined) shared.principal = principal;
      const request = ctx.request as typeof ctx.request & { body?: unknown };
      const body = request.body !== undefined ? request.body : await guard.readBody(ctx.req, ctx.req.headers);
      guard.checkValue(body, 'body');
      const out = await api.handle({
        method: ctx.method,
        path: ctx.path.slice(prefix.length),
        ...(principal !== undefined ? { principal } : {}),
        body,
        ...(ctx.ip ? { ip: ctx.ip } : {}),
        ...(ctx.req.headers['user-agent'] !== undefined ? { userAgent: ctx.req.headers['user-agent'] } : {}),
      });
      action = out.action;
      requestState(ctx).resource = out.resource;
      status = out.status;
      ctx.status = out.status;
      ctx.set(out.headers);
      ctx.body = out.body;
      if (typeof out.body === 'string' && out.headers['content-type'] !== undefined)
        ctx.type = out.headers['content-type'];
    } catch (err) {
      status = problemFor(err).status;
      sendProblem(ctx, err);
    }
    const state = requestState(ctx);
    auditor.record({
      method: ctx.method,
      route: ctx.path,
      action,
      status,
      latencyMs: performance.now() - start,
      ...(shared.requestId !== undefined ? { requestId: shared.requestId } : {}),
      ...(principal !== undefined ? { principal } : {}),
      ...(ctx.ip ? { ip: ctx.ip } : {}),
      ...(state.resource !== undefined ? { resource: state.resource } : {}),
      ...(state.errorCode !== undefined ? { errorCode: state.errorCode } : {}),
    });
  };
}
