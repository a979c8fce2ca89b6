import type { HttpSession } from '@bulwark/core';
import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import Koa from 'koa';
import { authenticate, problemDetails, session } from '../src';
import { gapsKit, gapsRoutes, gapsScenarios } from '../../../test/support/asvs-gaps-scenarios';

/** ASVS V16.3.1, V7.1.2, V7.4.5, V6.2.3, V6.6.2 over HTTP (Koa): see test/support/asvs-gaps-scenarios.ts. */
describe('ASVS gaps closed, over HTTP (Koa)', () => {
  const kit = gapsKit();

  function sessionApp(i: 0 | 1) {
    const app = new Koa();
    app.use(problemDetails({ log: () => undefined }));
    app.use(bodyParser());
    app.use(session(kit.instances[i]!.sessions));
    const router = new Router();
    for (const [route, handler] of Object.entries(gapsRoutes(kit))) {
      const [method, path] = route.split(' ') as ['GET' | 'POST', string];
      router[method === 'GET' ? 'get' : 'post'](path, async (ctx) => {
        const out = await handler({
          session: ctx.state.session as HttpSession,
          body: ((ctx.request as { body?: Record<string, unknown> }).body ?? {}) as Record<string, unknown>,
          ip: ctx.ip,
        });
        ctx.status = out.status;
        ctx.body = out.body;
      });
    }
    app.use(router.routes());
    return app.callback();
  }

  function bearerApp(i: 0 | 1) {
    const app = new Koa();
    app.use(problemDetails({ log: () => undefined }));
    app.use(authenticate({ tokens: kit.tokens, revocation: kit.instances[i]!.revocation }));
    app.use((ctx) => {
      ctx.body = { user: ctx.state.principal?.id };
    });
    return app.callback();
  }

  const servers = [sessionApp(0), sessionApp(1)] as const;
  const bearer = [bearerApp(0), bearerApp(1)] as const;
  gapsScenarios(
    kit,
    () => [...servers],
    () => [...bearer],
  );
});
