import type { AddressInfo } from 'node:net';
import express, { type RequestHandler } from 'express';
import { bulwark, notFound, privacyRouter, type BulwarkOptions } from '../src';
import {
  adapterContract,
  type AdapterDriver,
  type ContractBundle,
} from '../../../test/support/adapter-contract';

/** The contract's driver for Express (run against Express 5 and, by jest.express4.config.js, Express 4). */
const driver: AdapterDriver = {
  name: 'express',
  bulwark: (kit, options) => bulwark(kit, options as BulwarkOptions) as unknown as ContractBundle,
  async start(kit, options, routes) {
    const bw = bulwark(kit, options as BulwarkOptions);
    const app = express();
    app.use(bw);
    for (const route of routes) {
      const steps: RequestHandler[] = [];
      const { authorize } = route;
      if (authorize !== undefined) {
        const { resource } = authorize;
        steps.push(
          bw.authorize(
            authorize.action,
            typeof resource === 'string' ? resource : (req) => resource(req.params as Record<string, string>),
          ),
        );
      }
      if (route.consent !== undefined) steps.push(bw.requireConsent(route.consent));
      if (route.bruteForce === true) steps.push(bw.bruteForce());
      app[route.method](route.path, ...steps, (req, res, next) => {
        // Express 4 does not catch a rejected handler: pass failures on explicitly.
        Promise.resolve()
          .then(() =>
            route.handle({
              params: req.params as Record<string, string>,
              body: req.body,
              principal: req.principal,
              csrfToken: () => req.csrfToken!(),
            }),
          )
          .then((out) => res.status(out.status ?? 200).json(out.body), next);
      });
    }
    if (kit.dsr !== undefined) app.use('/privacy', privacyRouter(kit));
    app.use(notFound());
    app.use(bw.problemDetails());
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      bundle: bw as unknown as ContractBundle,
      close: async () => {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
        await bw.close();
      },
    };
  },
};

adapterContract(driver);
