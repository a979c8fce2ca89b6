import type { AddressInfo } from 'node:net';
import Router from '@koa/router';
import Koa, { type Middleware } from 'koa';
import {
  allowFields,
  bulwark,
  clearSiteData,
  rateLimit,
  type BulwarkOptions,
  type BulwarkState,
} from '../src';
import { asvsHttpContract, type AsvsDriver } from '../../../test/support/asvs-http-contract';

/** The ASVS request-path contract's driver for Koa. */
const driver: AsvsDriver = {
  name: 'koa',
  bulwark: (kit, options) => bulwark(kit, options as BulwarkOptions),
  async start(kit, options, routes) {
    const bw = bulwark(kit, options as BulwarkOptions);
    const app = new Koa<BulwarkState>();
    app.silent = true;
    app.use(bw);
    const router = new Router<BulwarkState>();
    for (const route of routes) {
      const steps: Middleware<BulwarkState>[] = [];
      if (route.clearSiteData === true) steps.push(clearSiteData());
      if (route.rateLimit !== undefined) steps.push(rateLimit(route.rateLimit));
      if (route.allowFields !== undefined)
        steps.push(allowFields(route.allowFields.fields, route.allowFields.options));
      router[route.method](route.path, ...steps, (ctx) => {
        const csrfToken = ctx.state.csrfToken;
        const out = route.handle({
          body: (ctx.request as { body?: unknown }).body,
          ...(ctx.state.principal !== undefined ? { principal: ctx.state.principal } : {}),
          ...(csrfToken !== undefined ? { csrfToken } : {}),
        });
        ctx.set(out.headers ?? {});
        ctx.status = out.status ?? 200;
        ctx.body = out.body ?? {};
      });
    }
    app.use(router.routes());
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      close: async () => {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
        await bw.close();
      },
    };
  },
};

asvsHttpContract(driver);
