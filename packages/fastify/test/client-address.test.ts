import type { TrustProxyOption } from '@bulwark/core';
import Fastify from 'fastify';
import { bulwark, clientIp } from '../src';
import { testKit } from '../../../test/support/http-test-kit';
import {
  bodyAbuseScenarios,
  clientAddressScenarios,
  officePolicy,
  type ClientAddressApp,
} from '../../../test/support/client-address-scenarios';
import { listen } from './support';

async function start(trustProxy: TrustProxyOption | undefined): Promise<ClientAddressApp> {
  const t = await testKit();
  const bw = bulwark(
    { ...t.kit, authorizer: officePolicy() },
    {
      authenticate: { publicPaths: ['/whoami', '/login'] },
      inputGuard: { maxBodyBytes: 4096 },
      problemDetails: { log: () => undefined },
      ...(trustProxy !== undefined ? { trustProxy } : {}),
    },
  );
  // Fastify's own setting says "trust the proxy headers": Bulwark must not follow it.
  const app = Fastify({ trustProxy: true, frameworkErrors: bw.frameworkErrors });
  await app.register(bw);
  app.get('/whoami', async (request) => ({ ip: clientIp(request) ?? null }));
  app.get('/office', { preHandler: bw.authorize('read', 'office') }, async () => ({ ok: true }));
  app.post('/login', { preHandler: bw.bruteForce() }, async (request, reply) =>
    reply
      .code((request.body as { password?: string } | undefined)?.password === 'right' ? 200 : 401)
      .send({}),
  );
  const server = await listen(app);
  return {
    url: server.url,
    readerToken: await t.sign('alice'),
    entries: async () => {
      await bw.close();
      return t.entries();
    },
    close: async () => {
      await server.close();
      await bw.close();
      await t.close();
    },
  };
}

describe('@bulwark/fastify client address', () => {
  clientAddressScenarios(start);
});

describe('@bulwark/fastify bodies and hang-ups', () => {
  bodyAbuseScenarios(start);
});
