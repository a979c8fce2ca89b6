import Fastify from 'fastify';
import {
  allowFields,
  bulwark,
  clearSiteData,
  rateLimit,
  type BulwarkHook,
  type BulwarkOptions,
} from '../src';
import { asvsHttpContract, type AsvsDriver } from '../../../test/support/asvs-http-contract';
import { listen } from './support';

/** The ASVS request-path contract's driver for Fastify. */
const driver: AsvsDriver = {
  name: 'fastify',
  bulwark: (kit, options) => bulwark(kit, options as BulwarkOptions),
  async start(kit, options, routes) {
    const bw = bulwark(kit, options as BulwarkOptions);
    const app = Fastify({ frameworkErrors: bw.frameworkErrors });
    await app.register(bw);
    for (const route of routes) {
      const preHandler: BulwarkHook[] = [];
      if (route.clearSiteData === true) preHandler.push(clearSiteData());
      if (route.rateLimit !== undefined) preHandler.push(rateLimit(route.rateLimit));
      if (route.allowFields !== undefined)
        preHandler.push(allowFields(route.allowFields.fields, route.allowFields.options));
      app[route.method](route.path, { preHandler }, async (request, reply) => {
        const csrfToken = request.csrfToken;
        const out = route.handle({
          body: request.body,
          ...(request.principal !== undefined ? { principal: request.principal } : {}),
          ...(csrfToken !== undefined ? { csrfToken } : {}),
        });
        return reply
          .headers(out.headers ?? {})
          .code(out.status ?? 200)
          .send(out.body ?? {});
      });
    }
    const server = await listen(app);
    return {
      url: server.url,
      close: async () => {
        await server.close();
        await bw.close();
      },
    };
  },
};

asvsHttpContract(driver);
