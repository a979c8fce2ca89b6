import type { AddressInfo } from 'node:net';
import express, { type RequestHandler } from 'express';
import { allowFields, bulwark, clearSiteData, notFound, rateLimit, type BulwarkOptions } from '../src';
import { asvsHttpContract, type AsvsDriver } from '../../../test/support/asvs-http-contract';

/** The ASVS request-path contract's driver for Express. */
const driver: AsvsDriver = {
  name: 'express',
  bulwark: (kit, options) => bulwark(kit, options as BulwarkOptions),
  async start(kit, options, routes) {
    const bw = bulwark(kit, options as BulwarkOptions);
    const app = express();
    app.use(bw);
    for (const route of routes) {
      const steps: RequestHandler[] = [];
      if (route.clearSiteData === true) steps.push(clearSiteData());
      if (route.rateLimit !== undefined) steps.push(rateLimit(route.rateLimit));
      if (route.allowFields !== undefined)
        steps.push(allowFields(route.allowFields.fields, route.allowFields.options));
      app[route.method](route.path, ...steps, (req, res) => {
        const out = route.handle({
          body: req.body,
          ...(req.principal !== undefined ? { principal: req.principal } : {}),
          ...(req.csrfToken !== undefined ? { csrfToken: req.csrfToken } : {}),
        });
        for (const [name, value] of Object.entries(out.headers ?? {})) res.setHeader(name, value);
        res.status(out.status ?? 200).json(out.body ?? {});
      });
    }
    app.use(notFound());
    app.use(bw.problemDetails());
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
