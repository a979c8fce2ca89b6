import { BulwarkConfigError, ErrorCodes, type HttpPrincipal } from '@bulwark/core';
import type { Context, Middleware } from 'koa';
import { sendProblem } from './problem-details';
import { bulwarkState, requestArrival } from './request-state';
import type { LdapSignInProvider } from '@bulwark/core/http';
export type { LdapSignInProvider } from '@bulwark/core/http';

export interface LdapRouterOptions {
  readonly ldap: LdapSignInProvider;
  /** Issues the app's session or token; when it sets no body, the answer is 204. */
  readonly onSignIn: (principal: HttpPrincipal, context: { ctx: Context }) => unknown;
  /** Mount path. Default `/auth/ldap`. */
  readonly prefix?: string;
}

/** Checks a mount prefix like `/auth/ldap` (shared by the sign-in routers). */
export function routerPrefix(prefix: string, path: string): string {
  if (!/^\/[A-Za-z0-9._~/-]*[^/]$/.test(prefix)) {
    throw new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, `${path} must be a path like /auth/ldap`, {
      path,
    });
  }
  return prefix;
}

/** The request facts a sign-in records (never the credentials). */
export function signInRequest(ctx: Context): { ip?: string; userAgent?: string; requestId?: string } {
  const arrival = requestArrival(ctx);
  const userAgent = ctx.get('user-agent');
  return {
    ...(arrival.ip !== undefined ? { ip: arrival.ip } : {}),
    ...(userAgent !== '' ? { userAgent } : {}),
    requestId: bulwarkState(ctx).requestId ?? arrival.requestId,
  };
}

/**
 * `POST <prefix>/login` with `{ username, password }` (parsed by the app's body parser, e.g.
 * @koa/bodyparser): the directory checks the credentials, `onSignIn` issues the session.
 * Refusals answer problem+json (401 `ERR_SIGNIN_FAILED`, 429 while locked out, 503 when the
 * directory is down): `app.use(ldapRouter({ ldap, onSignIn }))`.
 */
export function ldapRouter(options: LdapRouterOptions): Middleware {
  if (typeof options?.ldap?.authenticate !== 'function' || typeof options.onSignIn !== 'function') {
    throw new TypeError('ldapRouter: ldap (an LdapAuthenticator) and onSignIn are required');
  }
  const login = `${routerPrefix(options.prefix ?? '/auth/ldap', 'ldapRouter.prefix')}/login`;
  return async (ctx, next) => {
    if (ctx.path !== login || ctx.method !== 'POST') return next();
    try {
      const body = ((ctx.request as { body?: unknown }).body ?? {}) as Record<string, unknown>;
      const principal = await options.ldap.authenticate(
        {
          username: typeof body.username === 'string' ? body.username : '',
          password: typeof body.password === 'string' ? body.password : '',
        },
        signInRequest(ctx),
      );
      bulwarkState(ctx).principal = principal;
      await options.onSignIn(principal, { ctx });
      if (ctx.body === undefined || ctx.body === null) ctx.status = 204;
    } catch (error) {
      sendProblem(ctx, error);
    }
  };
}
