import { BulwarkHttpError, ErrorCodes, type HttpPrincipal } from '@bulwark/core';
import { safeRedirectPath } from '@bulwark/core/http';
import type { Context, Middleware } from 'koa';
import { routerPrefix, signInRequest } from './ldap-router';
import { sendProblem } from './problem-details';
import { bulwarkState } from './request-state';
import type { SamlSessionInfo, SamlSignInProvider } from '@bulwark/core/http';
export type { SamlSessionInfo, SamlSignInProvider } from '@bulwark/core/http';

export interface SamlRouterOptions {
  readonly saml: SamlSignInProvider;
  /** Issues the app's session; without a body or redirect of its own, 303 to the RelayState path. */
  readonly onSignIn: (
    principal: HttpPrincipal,
    context: { ctx: Context; session: SamlSessionInfo },
  ) => unknown;
  /** The signed-in user's SAML session, enabling `GET <prefix>/logout`. */
  readonly sessionOf?: (ctx: Context) => SamlSessionInfo | undefined;
  /**
   * Ends the app's session: at `GET /logout` before the redirect to the IdP (the user asked to
   * sign out; the IdP may never answer), and again when the IdP confirms (so keep it idempotent).
   */
  readonly onSignOut?: (context: { ctx: Context }) => unknown;
  /** IdP-initiated single logout: end the app sessions of this NameID / SessionIndex (see @bulwark/express). */
  readonly onIdpLogout?: (session: SamlSessionInfo, context: { ctx: Context }) => unknown;
  /** Mount path. Default `/auth/saml`. */
  readonly prefix?: string;
}

/**
 * SAML 2.0 endpoints under `prefix`: `GET /metadata`, `GET /login?relayState=/path`, `POST /acs`,
 * `GET /logout`, `POST /logout` (see @bulwark/express samlRouter). Form bodies come from the
 * app's body parser. Refusals answer problem+json (401 `ERR_SIGNIN_FAILED`).
 */
export function samlRouter(options: SamlRouterOptions): Middleware {
  if (typeof options?.saml?.acs !== 'function' || typeof options.onSignIn !== 'function') {
    throw new TypeError('samlRouter: saml (a SamlServiceProvider) and onSignIn are required');
  }
  const prefix = routerPrefix(options.prefix ?? '/auth/saml', 'samlRouter.prefix');
  const body = (ctx: Context): Record<string, unknown> =>
    ((ctx.request as { body?: unknown }).body ?? {}) as Record<string, unknown>;
  const routes: Record<string, (ctx: Context) => Promise<void>> = {
    'GET /metadata': async (ctx) => {
      ctx.type = 'application/samlmetadata+xml';
      ctx.body = options.saml.metadata();
    },
    'GET /login': async (ctx) => {
      ctx.redirect(await options.saml.loginUrl(safeRedirectPath(ctx.query.relayState)));
    },
    'POST /acs': async (ctx) => {
      const result = await options.saml.acs(body(ctx), signInRequest(ctx));
      bulwarkState(ctx).principal = result.principal;
      await options.onSignIn(result.principal, { ctx, session: result.session });
      if (ctx.body === undefined || ctx.body === null) {
        ctx.status = 303;
        ctx.redirect(safeRedirectPath(result.relayState));
      }
    },
    'GET /logout': async (ctx) => {
      const session = options.sessionOf?.(ctx);
      if (session === undefined) {
        ctx.status = 303;
        ctx.redirect('/');
        return;
      }
      const url = await options.saml.logoutUrl(session, safeRedirectPath(ctx.query.relayState));
      await options.onSignOut?.({ ctx });
      ctx.redirect(url);
    },
    'POST /logout': async (ctx) => {
      if (typeof body(ctx).SAMLRequest === 'string') {
        if (options.onIdpLogout === undefined) {
          throw new BulwarkHttpError(ErrorCodes.HTTP_NOT_FOUND, 404, 'No resource at this URL.');
        }
        const { session, responseUrl } = await options.saml.logoutRequest(body(ctx));
        await options.onIdpLogout(session, { ctx });
        if (ctx.body === undefined || ctx.body === null) ctx.redirect(responseUrl);
        return;
      }
      await options.saml.logoutResponse(body(ctx));
      await options.onSignOut?.({ ctx });
      if (ctx.body === undefined || ctx.body === null) {
        ctx.status = 303;
        ctx.redirect(safeRedirectPath(body(ctx).RelayState));
      }
    },
  };
  return async (ctx, next) => {
    if (!ctx.path.startsWith(`${prefix}/`)) return next();
    const route = routes[`${ctx.method} ${ctx.path.slice(prefix.length)}`];
    if (route === undefined) return next();
    try {
      await route(ctx);
    } catch (error) {
      sendProblem(ctx, error);
    }
  };
}
