import type { HttpPrincipal } from '@bulwark/core';
import { safeRedirectPath } from '@bulwark/core/http';
import express, { Router, type Request, type Response } from 'express';
import { sendProblem } from './problem-details';
import { requestArrival } from './request-state';
import type { SamlSessionInfo, SamlSignInProvider } from '@bulwark/core/http';
export type { SamlSessionInfo, SamlSignInProvider } from '@bulwark/core/http';

export interface SamlRouterOptions {
  readonly saml: SamlSignInProvider;
  /**
   * Issues the app's session or token; keep `session` with it for single logout. When it sends
   * no response, the browser is redirected (303) to the RelayState if it is a same-site path, else `/`.
   */
  readonly onSignIn: (
    principal: HttpPrincipal,
    context: { req: Request; res: Response; session: SamlSessionInfo },
  ) => unknown;
  /** The signed-in user's SAML session (from the app's session), enabling `GET /logout`. */
  readonly sessionOf?: (req: Request) => SamlSessionInfo | undefined;
  /**
   * Ends the app's session: at `GET /logout` before the redirect to the IdP (the user asked to
   * sign out; the IdP may never answer), and again when the IdP confirms (so keep it idempotent).
   */
  readonly onSignOut?: (context: { req: Request; res: Response }) => unknown;
  /**
   * IdP-initiated single logout: end every app session of this NameID / SessionIndex (found
   * server-side: the IdP's cross-site POST may come without the session cookie). Without it, the
   * IdP's LogoutRequests are not accepted.
   */
  readonly onIdpLogout?: (session: SamlSessionInfo, context: { req: Request; res: Response }) => unknown;
}

/**
 * SAML 2.0 endpoints: `GET /metadata` (SP metadata XML), `GET /login?relayState=/path` (redirect
 * to the IdP), `POST /acs` (the IdP's response; `onSignIn` issues the session), `GET /logout`
 * (SP-initiated single logout, with `sessionOf`) and `POST /logout` (the IdP's LogoutResponse, or
 * its LogoutRequest with `onIdpLogout`).
 * Refusals answer problem+json (401 `ERR_SIGNIN_FAILED`): `app.use('/auth/saml', samlRouter(...))`.
 */
export function samlRouter(options: SamlRouterOptions): Router {
  if (typeof options?.saml?.acs !== 'function' || typeof options.onSignIn !== 'function') {
    throw new TypeError('samlRouter: saml (a SamlServiceProvider) and onSignIn are required');
  }
  const router = Router();
  const form = express.urlencoded({ extended: false, limit: '1mb' });
  const handle =
    (work: (req: Request, res: Response, next: () => void) => Promise<void>) =>
    (req: Request, res: Response, next: () => void): void => {
      work(req, res, next).catch((error: unknown) => sendProblem(req, res, error));
    };

  router.get('/metadata', (_req, res) => {
    res.type('application/samlmetadata+xml').send(options.saml.metadata());
  });
  router.get(
    '/login',
    handle(async (req, res) => {
      res.redirect(302, await options.saml.loginUrl(safeRedirectPath(req.query.relayState)));
    }),
  );
  router.post(
    '/acs',
    form,
    handle(async (req, res) => {
      const arrival = requestArrival(req);
      const result = await options.saml.acs(req.body, {
        ...(arrival.ip !== undefined ? { ip: arrival.ip } : {}),
        ...(req.get('user-agent') !== undefined ? { userAgent: req.get('user-agent')! } : {}),
        requestId: req.requestId ?? arrival.requestId,
      });
      req.principal = result.principal;
      await options.onSignIn(result.principal, { req, res, session: result.session });
      if (!res.headersSent) res.redirect(303, safeRedirectPath(result.relayState));
    }),
  );
  router.get(
    '/logout',
    handle(async (req, res) => {
      const session = options.sessionOf?.(req);
      if (session === undefined) {
        res.redirect(303, '/');
        return;
      }
      const url = await options.saml.logoutUrl(session, safeRedirectPath(req.query.relayState));
      await options.onSignOut?.({ req, res });
      if (!res.headersSent) res.redirect(302, url);
    }),
  );
  router.post(
    '/logout',
    form,
    handle(async (req, res, next) => {
      if (typeof (req.body as { SAMLRequest?: unknown }).SAMLRequest === 'string') {
        if (options.onIdpLogout === undefined) return next?.();
        const { session, responseUrl } = await options.saml.logoutRequest(req.body);
        await options.onIdpLogout(session, { req, res });
        if (!res.headersSent) res.redirect(302, responseUrl);
        return;
      }
      await options.saml.logoutResponse(req.body);
      await options.onSignOut?.({ req, res });
      if (!res.headersSent)
        res.redirect(303, safeRedirectPath((req.body as { RelayState?: unknown }).RelayState));
    }),
  );
  return router;
}
