import type { HttpPrincipal } from '@bulwark/core';
import express, { Router, type Request, type Response } from 'express';
import { sendProblem } from './problem-details';
import { requestArrival } from './request-state';
import type { LdapSignInProvider } from '@bulwark/core/http';
export type { LdapSignInProvider } from '@bulwark/core/http';

export interface LdapRouterOptions {
  readonly ldap: LdapSignInProvider;
  /**
   * Issues the app's session or token for the signed-in principal (set a cookie, send a JWT...).
   * When it sends no response, the router answers 204.
   */
  readonly onSignIn: (principal: HttpPrincipal, context: { req: Request; res: Response }) => unknown;
}

/**
 * `POST /login` with `{ username, password }` (JSON or a form): the directory checks the
 * credentials, `onSignIn` issues the session. Refusals answer problem+json (401
 * `ERR_SIGNIN_FAILED`, 429 while locked out, 503 when the directory is down):
 * `app.use('/auth/ldap', ldapRouter({ ldap, onSignIn }))`.
 */
export function ldapRouter(options: LdapRouterOptions): Router {
  if (typeof options?.ldap?.authenticate !== 'function' || typeof options.onSignIn !== 'function') {
    throw new TypeError('ldapRouter: ldap (an LdapAuthenticator) and onSignIn are required');
  }
  const router = Router();
  router.post(
    '/login',
    express.json({ limit: '8kb' }),
    express.urlencoded({ extended: false, limit: '8kb' }),
    async (req, res) => {
      try {
        const body = (req.body ?? {}) as Record<string, unknown>;
        const arrival = requestArrival(req);
        const principal = await options.ldap.authenticate(
          {
            username: typeof body.username === 'string' ? body.username : '',
            password: typeof body.password === 'string' ? body.password : '',
          },
          {
            ...(arrival.ip !== undefined ? { ip: arrival.ip } : {}),
            ...(req.get('user-agent') !== undefined ? { userAgent: req.get('user-agent')! } : {}),
            requestId: req.requestId ?? arrival.requestId,
          },
        );
        req.principal = principal;
        await options.onSignIn(principal, { req, res });
        if (!res.headersSent) res.status(204).end();
      } catch (error) {
        sendProblem(req, res, error);
      }
    },
  );
  return router;
}
