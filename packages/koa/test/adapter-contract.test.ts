import type { AddressInfo } from 'node:net';
import Router from '@koa/router';
import Koa, { type Middleware } from 'koa';
import { bulwark, privacyRouter, type BulwarkOptions, type BulwarkState } from '../src';
import {
  adapterContract,
  type AdapterDriver,
  type ContractBundle,
} from '../../../test/support/adapter-contract';

/** The contract's driver for Koa (the bundle answers unmatched URLs itself). */
const driver: AdapterDriver = {
  name: 'koa',
  bulwark: (kit, options) => bulwark(kit, options as BulwarkOptions) as unknown as ContractBundle,
  async start(kit, options, routes) {
    const bw = bulwark(kit, options as BulwarkOptions);
    const app = new Koa<BulwarkState>();
    app.silent = true;
    app.use(bw);
    const router = new Router<BulwarkState>();
    for (const route of routes) {
      const steps: Middleware<BulwarkState>[] = [];
      const { authorize } = route;
      if (authorize !== undefined) {
        const { resource } = authorize;
        steps.push(
          bw.authorize(
            authorize.action,
            typeof resource === 'string' ? resource : (ctx) => resource(ctx.params as Record<string, string>),
          ),
        );
      }
      if (route.consent !== undefined) steps.push(bw.requireConsent(route.consent));
      if (route.bruteForce === true) steps.push(bw.bruteForce());
      router[route.method](route.path, ...steps, async (ctx) => {
        const out = await route.handle({
          params: ctx.params as Record<string, string>,
          body: (ctx.request as { body?: unknown }).body,
          principal: ctx.state.principal,
          csrfToken: () => ctx.state.csrfToken!(),
        });
        ctx.status = out.status ?? 200;
        ctx.body = out.body;
      });
    }
    app.use(router.routes());
    if (kit.dsr !== undefined) app.use(privacyRouter(kit));
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
