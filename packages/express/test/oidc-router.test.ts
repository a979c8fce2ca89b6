import { BulwarkHttpError, ErrorCodes } from '@bulwark/core';
import express from 'express';
import { notFound, oidcRouter, problemDetails } from '../src';
import { oidcAdapterScenarios } from '../../../test/support/oidc-adapter-scenarios';

oidcAdapterScenarios('Express', (rp, sessions) => {
  const app = express();
  app.use(
    '/auth/oidc',
    oidcRouter(rp, {
      onSignIn: (_principal, { res, signIn }) => {
        res.append('Set-Cookie', sessions.create(signIn));
      },
      onLogout: ({ req }) => sessions.end(req.headers.cookie),
    }),
  );
  app.get('/me', (req, res, next) => {
    const principal = sessions.principal(req.headers.cookie);
    if (principal === undefined) {
      next(new BulwarkHttpError(ErrorCodes.HTTP_AUTH_REQUIRED, 401, 'Sign in first.'));
      return;
    }
    res.json(principal);
  });
  app.use(notFound());
  app.use(problemDetails({ log: () => undefined }));
  return app;
});
