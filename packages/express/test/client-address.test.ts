import type { AddressInfo } from 'node:net';
import type { TrustProxyOption } from '@bulwark/core';
import express from 'express';
import { bulwark, clientIp } from '../src';
import { testKit } from '../../../test/support/http-test-kit';
import {
  bodyAbuseScenarios,
  clientAddressScenarios,
  officePolicy,
  type ClientAddressApp,
} from '../../../test/support/client-address-scenarios';

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
  const app = express();
  // Express's own setting says "trust everything": Bulwark must not follow it.
  app.set('trust proxy', true);
  app.use(bw);
  app.get('/whoami', (req, res) => res.json({ ip: clientIp(req) ?? null }));
  app.get('/office', bw.authorize('read', 'office'), (_req, res) => res.json({ ok: true }));
  app.post('/login', bw.bruteForce(), (req, res) =>
    res.status(req.body?.password === 'right' ? 200 : 401).json({}),
  );
  app.use(bw.problemDetails());
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    readerToken: await t.sign('alice'),
    entries: async () => {
      await bw.close();
      return t.entries();
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await bw.close();
      await t.close();
    },
  };
}

describe('@bulwark/express client address (issue 12, defect 9)', () => {
  clientAddressScenarios(start);
});

describe('@bulwark/express bodies and hang-ups (issue 12, defect 1)', () => {
  bodyAbuseScenarios(start);

  it("never reads the framework's req.ip from its response listeners (it throws once the socket is gone)", async () => {
    const t = await testKit();
    const bw = bulwark(t.kit, { authenticate: false, problemDetails: { log: () => undefined } });
    const app = express();
    app.use((req, _res, next) => {
      Object.defineProperty(req, 'ip', {
        get() {
          throw new TypeError("Cannot read properties of null (reading 'remoteAddress')");
        },
      });
      next();
    });
    app.use(bw);
    app.get('/ok', (_req, res) => res.json({ ok: true }));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/ok`);
      expect(res.status).toBe(200);
      await bw.close();
      const [entry] = await t.entries();
      expect(entry).toMatchObject({ actor: { ip: '127.0.0.1' }, details: { route: '/ok', status: 200 } });
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await t.close();
    }
  });
});
