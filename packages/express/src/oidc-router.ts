import type { HttpPrincipal } from '@bulwark/core';
import type { OidcRelyingParty, OidcSignIn } from '@bulwark/identity/oidc';
import { Router, type Request, type Response } from 'express';
import { sendProblem } from './problem-details';
import { requestArrival, requestState } from './request-state';

/** What the app does when a user signs in or out through OpenID Connect. */
export interface ExpressOidcRouterOptions {
  /**
   * Issue the app's session or token for `principal` (keep `signIn.tokens` and
   * `signIn.sessionId` server side for refresh and back-channel logout). Without a response
   * written, the browser is then redirected (303) to the login's `returnTo`.
   */
  onSignIn(principal: HttpPrincipal, context: { req: Request; res: Response; signIn: OidcSignIn }): unknown;
  /**
   * `POST <mount>/logout`: end the app's session; return the signed-out principal (audited as
   * `auth.logout`) and the ID token kept at sign-in, and the browser goes to the provider's
   * end-session endpoint. Without it the route answers 404.
   */
  onLogout?(context: {
    req: Request;
    res: Response;
  }):
    | Promise<{ principal?: HttpPrincipal; idToken?: string } | undefined>
    | { principal?: HttpPrincipal; idToken?: string }
    | undefined;
}

/**
 * OpenID Connect sign-in routes: `app.use('/auth/oidc', oidcRouter(rp, { onSignIn }))` serves
 * `GET /login`, `GET /callback`, `POST /logout` and `POST /backchannel-logout` (see OidcEndpoint
 * in @bulwark/identity/oidc). Failures answer problem+json (ERR_SIGNIN_FAILED, 401; 429 when the
 * relying party's BruteForceGuard locks the client out).
 */
export function oidcRouter(rp: OidcRelyingParty, options: ExpressOidcRouterOptions): Router {
  if (typeof options?.onSignIn !== 'function') throw new TypeError('oidcRouter: onSignIn must be a function');
  // Loaded here, not at the top: @bulwark/identity is an optional peer of this package.
  const { OidcEndpoint } = require('@bulwark/identity/oidc') as typeof import('@bulwark/identity/oidc');
  const endpoint = new OidcEndpoint(rp);
  const router = Router();
  router.use(async (req, res) => {
    const arrival = requestArrival(req);
    const onLogout = options.onLogout;
    await endpoint.serve(
      {
        method: req.method,
        path: req.path,
        query: req.originalUrl.includes('?') ? req.originalUrl.slice(req.originalUrl.indexOf('?') + 1) : '',
        headers: req.headers,
        body: req.body,
        stream: req,
        ...(arrival.ip !== undefined ? { ip: arrival.ip } : {}),
        requestId: req.requestId ?? arrival.requestId,
      },
      {
        signedIn: async (signIn) => {
          res.append('Set-Cookie', signIn.clearCookie);
          res.set('Cache-Control', 'no-store');
          // The request's audit event names the account that signed in, not `anonymous`.
          requestState(req).actor = { id: signIn.principal.id, type: signIn.principal.type };
          await options.onSignIn(signIn.principal, { req, res, signIn });
          return res.headersSent;
        },
        ...(onLogout !== undefined ? { signingOut: async () => onLogout({ req, res }) } : {}),
        respond: (answer) => {
          for (const [name, value] of Object.entries(answer.headers)) {
            if (name === 'set-cookie') res.append('Set-Cookie', value);
            else res.set(name, value);
          }
          res.status(answer.status);
          if (answer.body === undefined) res.end();
          else res.json(answer.body);
        },
        fail: (error, setCookie) => {
          if (setCookie !== undefined && !res.headersSent) res.append('Set-Cookie', setCookie);
          sendProblem(req, res, error);
        },
      },
    );
  });
  return router;
}
