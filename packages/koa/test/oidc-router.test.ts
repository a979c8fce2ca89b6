import { BulwarkHttpError, ErrorCodes } from '@bulwark/core';
import Koa from 'koa';
import { oidcRouter, problemDetails } from '../src';
import { oidcAdapterScenarios } from '../../../test/support/oidc-adapter-scenarios';

oidcAdapterScenarios('Koa', (rp, sessions) => {
  const app = new Koa();
  app.use(problemDetails({ log: () => undefined }));
  app.use(
    oidcRouter(rp, {
      onSignIn: (_principal, { ctx, signIn }) => {
        ctx.append('Set-Cookie', sessions.create(signIn));
      },
      onLogout: ({ ctx }) => sessions.end(ctx.get('cookie')),
    }),
  );
  app.use(async (ctx, next) => {
    if (ctx.path !== '/me') return next();
    const principal = sessions.principal(ctx.get('cookie'));
    if (principal === undefined)
      throw new BulwarkHttpError(ErrorCodes.HTTP_AUTH_REQUIRED, 401, 'Sign in first.');
    ctx.body = principal;
  });
  return app.callback();
});
