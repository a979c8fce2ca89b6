import { PrivacyEndpoint, type BulwarkHttpKit } from '@bulwark/core/http';
import { Router } from 'express';
import { sendProblem } from './problem-details';
import { requestArrival, requestState } from './request-state';

/**
 * Consent and data-subject-request endpoints for the authenticated subject (see PrivacyApi in
 * @bulwark/core for the routes): `app.use('/privacy', privacyRouter(kit))`. Authenticates with
 * kit.tokens unless a principal is already set, and audits every call (action
 * `privacy.consent.grant`, `privacy.dsr.export`...; refused calls too) to kit.auditLog.
 */
export function privacyRouter(kit: BulwarkHttpKit): Router {
  const endpoint = new PrivacyEndpoint(kit);
  const router = Router();
  router.use(async (req, res, _next) => {
    const arrival = requestArrival(req);
    await endpoint.serve(
      {
        method: req.method,
        path: req.path,
        route: `${req.baseUrl}${req.path}`,
        headers: req.headers,
        stream: req,
        body: req.body,
        ...(req.principal !== undefined ? { principal: req.principal } : {}),
        ...(arrival.ip !== undefined ? { ip: arrival.ip } : {}),
        requestId: req.requestId ?? arrival.requestId,
        ...(arrival.clientRequestId !== undefined ? { clientRequestId: arrival.clientRequestId } : {}),
      },
      {
        setPrincipal: (principal) => {
          req.principal = principal;
        },
        respond: (out) => {
          requestState(req).resource = out.resource;
          res.status(out.status).set(out.headers);
          if (typeof out.body === 'string') res.send(out.body);
          else res.json(out.body);
        },
        fail: (err) => sendProblem(req, res, err),
        auditFacts: () => requestState(req),
      },
    );
  });
  return router;
}
