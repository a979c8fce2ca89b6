import {
  BearerAuthenticator,
  BulwarkConfigError,
  ErrorCodes,
  InputGuard,
  PrivacyApi,
  RequestAuditor,
  problemFor,
  type BulwarkHttpKit,
  type HttpPrincipal,
} from '@bulwark/core';
import { Router, type Request } from 'express';
import { sendProblem } from './problem-details';
import { requestState } from './request-state';

/**
 * Consent and data-subject-request endpoints for the authenticated subject (see PrivacyApi in
 * @bulwark/core for the routes): `app.use('/privacy', privacyRouter(kit))`. Authenticates with
 * kit.tokens unless a principal is already set, and audits every call (action
 * `privacy.consent.grant`, `privacy.dsr.export`...; refused calls too) to kit.auditLog.
 */
export function privacyRouter(kit: BulwarkHttpKit): Router {
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
  const auditor = new RequestAuditor({ log: kit.auditLog, category: 'privacy' });
  const authenticator =
    kit.tokens !== undefined ? new BearerAuthenticator({ tokens: kit.tokens }) : undefined;
  const guard = new InputGuard({ maxBodyBytes: 16 * 1024 });
  const router = Router();
  router.use(async (req: Request, res, _next) => {
    const start = performance.now();
    let action = 'privacy.request';
    let status: number;
    let principal: HttpPrincipal | undefined = req.principal;
    try {
      principal ??= await authenticator?.authenticate(req.headers.authorization);
      if (principal !== undefined) req.principal = principal;
      const body = req.body !== undefined ? req.body : await guard.readBody(req, req.headers);
      guard.checkValue(body, 'body');
      const out = await api.handle({
        method: req.method,
        path: req.path,
        ...(principal !== undefined ? { principal } : {}),
        body,
        ...(req.ip !== undefined ? { ip: req.ip } : {}),
        ...(req.headers['user-agent'] !== undefined ? { userAgent: req.headers['user-agent'] } : {}),
      });
      action = out.action;
      requestState(req).resource = out.resource;
      status = out.status;
      res.status(out.status).set(out.headers);
      if (typeof out.body === 'string') res.send(out.body);
      else res.json(out.body);
    } catch (err) {
      status = problemFor(err).status;
      sendProblem(req, res, err);
    }
    const state = requestState(req);
    auditor.record({
      method: req.method,
      route: `${req.baseUrl}${req.path}`,
      action,
      status,
      latencyMs: performance.now() - start,
      ...(req.requestId !== undefined ? { requestId: req.requestId } : {}),
      ...(principal !== undefined ? { principal } : {}),
      ...(req.ip !== undefined ? { ip: req.ip } : {}),
      ...(state.resource !== undefined ? { resource: state.resource } : {}),
      ...(state.errorCode !== undefined ? { errorCode: state.errorCode } : {}),
    });
  });
  return router;
}
