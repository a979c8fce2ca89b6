import { BulwarkConfigError, ErrorCodes, type HttpPrincipal } from '@bulwark/core';
import type { OidcRelyingParty, OidcSignIn } from '@bulwark/identity/oidc';
import type { Context, Middleware } from 'koa';
import { sendProblem } from './problem-details';
import { bulwarkState, requestArrival, requestState } from './request-state';

/** What the app does when a user signs in or out through OpenID Connect. */
export interface KoaOidcRouterOptions {
  /** Mount path of the routes. Default `/auth/oidc`. */
  prefix?: string;
  /**
   * Issue the app's session or token for `principal` (keep `signIn.tokens` and
   * `signIn.sessionId` server side for refresh and back-channel logout). Without a body set,
   * the browser is then redirected (303) to the login's `returnTo`.
   */
  onSignIn(principal: HttpPrincipal, context: { ctx: Context; signIn: OidcSignIn }): unknown;
  /**
   * `POST <prefix>/logout`: end the app's session; return the signed-out principal (audited as
   * `auth.logout`) and the ID token kept at sign-in, and the browser goes to the provider's
   * end-session endpoint. Without it the route answers 404.
   */
  onLogout?(context: {
    ctx: Context;
  }):
    | Promise<{ principal?: HttpPrincipal; idToken?: string } | undefined>
    | { principal?: HttpPrincipal; idToken?: string }
    | undefined;
}

/**
 * OpenID Connect sign-in routes under `prefix`: `app.use(oidcRouter(rp, { onSignIn }))` serves
 * `GET /login`, `GET /callback`, `POST /logout` and `POST /backchannel-logout` (see OidcEndpoint
 * in @bulwark/identity/oidc). Failures answer problem+json (ERR_SIGNIN_FAILED, 401; 429 when the
 * relying party's BruteForceGuard locks the client out).
 */
export function oidcRouter(rp: OidcRelyingParty, options: KoaOidcRouterOptions): Middleware {
  if (typeof options?.onSignIn !== 'function') throw new TypeError('oidcRouter: onSignIn must be a function');
  const prefix = options.prefix ?? '/auth/oidc';
  if (!/^\/[A-Za-z0-9._~/-]*[^/]$/.test(prefix)) {
    throw new BulwarkConfigError(
      ErrorCodes.CONFIG_INVALID,
      'oidcRouter.prefix must be a path like /auth/oidc',
      {
        path: 'oidcRouter.prefix',
      },
    );
  }
  // Loaded here, not at the top: @bulwark/identity is an optional peer of this package.
  const { OidcEndpoint } = require('@bulwark/identity/oidc') as typeof import('@bulwark/identity/oidc');
  const endpoint = new OidcEndpoint(rp);
  const onLogout = options.onLogout;
  return async (ctx, next) => {
    if (ctx.path !== prefix && !ctx.path.startsWith(`${prefix}/`)) return next();
    const arrival = requestArrival(ctx);
    await endpoint.serve(
      {
        method: ctx.method,
        path: ctx.path.slice(prefix.length),
        query: ctx.querystring,
        headers: ctx.req.headers,
        body: (ctx.request as { body?: unknown }).body,
        stream: ctx.req,
        ...(arrival.ip !== undefined ? { ip: arrival.ip } : {}),
        requestId: bulwarkState(ctx).requestId ?? arrival.requestId,
      },
      {
        signedIn: async (signIn) => {
          ctx.append('Set-Cookie', signIn.clearCookie);
          ctx.set('Cache-Control', 'no-store');
          // The request's audit event names the account that signed in, not `anonymous`.
          requestState(ctx).actor = { id: signIn.principal.id, type: signIn.principal.type };
          await options.onSignIn(signIn.principal, { ctx, signIn });
          return ctx.body != null || ctx.headerSent;
        },
        ...(onLogout !== undefined ? { signingOut: async () => onLogout({ ctx }) } : {}),
        respond: (answer) => {
          for (const [name, value] of Object.entries(answer.headers)) {
            if (name === 'set-cookie') ctx.append('Set-Cookie', value);
            else ctx.set(name, value);
          }
          ctx.status = answer.status;
          ctx.body = answer.body ?? '';
        },
        fail: (error, setCookie) => {
          if (setCookie !== undefined && !ctx.headerSent) ctx.append('Set-Cookie', setCookie);
          sendProblem(ctx, error);
        },
      },
    );
  };
}
