import Fastify from 'fastify';
import { bulwark, privacyRoutes, type BulwarkHook, type BulwarkOptions } from '../src';
import {
  adapterContract,
  type AdapterDriver,
  type ContractBundle,
} from '../../../test/support/adapter-contract';
import { listen } from './support';

/** The contract's driver for Fastify 5: the bundle as a plugin, route steps as preHandlers. */
const driver: AdapterDriver = {
  name: 'fastify',
  bulwark: (kit, options) => bulwark(kit, options as BulwarkOptions) as unknown as ContractBundle,
  async start(kit, options, routes) {
    const bw = bulwark(kit, options as BulwarkOptions);
    const app = Fastify({ frameworkErrors: bw.frameworkErrors });
    await app.register(bw);
    for (const route of routes) {
      const preHandler: BulwarkHook[] = [];
      const { authorize } = route;
      if (authorize !== undefined) {
        const { resource } = authorize;
        preHandler.push(
          bw.authorize(
            authorize.action,
            typeof resource === 'string'
              ? resource
              : (request) => resource(request.params as Record<string, string>),
          ),
        );
      }
      if (route.consent !== undefined) preHandler.push(bw.requireConsent(route.consent));
      if (route.bruteForce === true) preHandler.push(bw.bruteForce());
      app[route.method](route.path, { preHandler }, async (request, reply) => {
        const out = await route.handle({
          params: request.params as Record<string, string>,
          body: request.body,
          ...(request.principal !== undefined ? { principal: request.principal } : {}),
          csrfToken: () => request.csrfToken!(),
        });
        return reply.code(out.status ?? 200).send(out.body);
      });
    }
    if (kit.dsr !== undefined) await app.register(privacyRoutes(kit));
    const server = await listen(app);
    return {
      url: server.url,
      bundle: bw as unknown as ContractBundle,
      close: async () => {
        await server.close();
        await bw.close();
      },
    };
  },
};

adapterContract(driver);
