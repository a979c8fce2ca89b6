import express, { type Express } from 'express';
import { authenticate, problemDetails, session } from '../src';
import { gapsKit, gapsRoutes, gapsScenarios } from '../../../test/support/asvs-gaps-scenarios';

/** ASVS V16.3.1, V7.1.2, V7.4.5, V6.2.3, V6.6.2 over HTTP (Express): see test/support/asvs-gaps-scenarios.ts. */
describe('ASVS gaps closed, over HTTP (Express)', () => {
  const kit = gapsKit();

  function sessionApp(i: 0 | 1): Express {
    const app = express();
    app.use(express.json());
    app.use(session(kit.instances[i]!.sessions));
    for (const [route, handler] of Object.entries(gapsRoutes(kit))) {
      const [method, path] = route.split(' ') as ['GET' | 'POST', string];
      app[method === 'GET' ? 'get' : 'post'](path, (req, res, next) => {
        handler({ session: req.bulwarkSession!, body: req.body ?? {}, ...(req.ip ? { ip: req.ip } : {}) })
          .then((out) => res.status(out.status).json(out.body))
          .catch(next);
      });
    }
    app.use(problemDetails({ log: () => undefined }));
    return app;
  }

  function bearerApp(i: 0 | 1): Express {
    const app = express();
    app.use(authenticate({ tokens: kit.tokens, revocation: kit.instances[i]!.revocation }));
    app.get('/api/me', (req, res) => res.json({ user: req.principal?.id }));
    app.use(problemDetails({ log: () => undefined }));
    return app;
  }

  const servers: [Express, Express] = [sessionApp(0), sessionApp(1)];
  const bearer: [Express, Express] = [bearerApp(0), bearerApp(1)];
  gapsScenarios(
    kit,
    () => servers,
    () => bearer,
  );
});
