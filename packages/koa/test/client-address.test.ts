import type { AddressInfo } from 'node:net';
import type { TrustProxyOption } from '@bulwark/core';
import Router from '@koa/router';
import Koa from 'koa';
import { bulwark, clientIp, type BulwarkState } from '../src';
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
  const koa = new Koa<BulwarkState>();
  koa.silent = true;
  // Koa's own setting says "trust the proxy headers": Bulwark must not follow it.
  koa.proxy = true;
  koa.use(bw);
  const router = new Router<BulwarkState>();
  router.get('/whoami', (ctx) => {
    ctx.body = { ip: clientIp(ctx) ?? null };
  });
  router.get('/office', bw.authorize('read', 'office'), (ctx) => {
    ctx.body = { ok: true };
  });
  router.post('/login', bw.bruteForce(), (ctx) => {
    ctx.status = (ctx.request as { body?: { password?: string } }).body?.password === 'right' ? 200 : 401;
    ctx.body = {};
  });
  koa.use(router.routes());
  const server = koa.listen(0, '127.0.0.1');
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

describe('@bulwark/koa client address (issue 12, defect 9)', () => {
  clientAddressScenarios(start);
});

describe('@bulwark/koa bodies and hang-ups (issue 12, defect 1)', () => {
  bodyAbuseScenarios(start);

  it("never reads Koa's ctx.ip from its response listeners (it throws once the socket is gone)", async () => {
    const t = await testKit();
    const bw = bulwark(t.kit, { authenticate: false, problemDetails: { log: () => undefined } });
    const koa = new Koa<BulwarkState>();
    koa.silent = true;
    koa.use((ctx, next) => {
      Object.defineProperty(ctx, 'ip', {
        get() {
          throw new TypeError("Cannot read properties of null (reading 'remoteAddress')");
        },
      });
      return next();
    });
    koa.use(bw);
    koa.use((ctx) => {
      ctx.body = { ok: true };
    });
    const server = koa.listen(0, '127.0.0.1');
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
