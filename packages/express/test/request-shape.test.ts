import type { AddressInfo } from 'node:net';
import express, { type Express } from 'express';
import { bulwark, requestId } from '../src';
import { testKit } from '../../../test/support/http-test-kit';
import { hasFastProperties } from '../../../test/support/v8-shape';

/**
 * The first Bulwark step to meet an Express request switches the request and its response to
 * dictionary properties (core's express-object-shape.ts: Express gives each request hidden classes
 * of its own, so every property added or read on them misses V8's caches). Checked over real HTTP,
 * in the route handler, with V8's own answer; an app without Bulwark is the control.
 */

interface Seen {
  reqFast: boolean;
  resFast: boolean;
  reqSymbols: string[];
  resSymbols: string[];
}

async function serve(app: Express, path: string, headers: Record<string, string> = {}) {
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  try {
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`, { headers });
    return { status: res.status, body: (await res.json()) as Seen & { requestId?: string } };
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

function report(req: express.Request, res: express.Response) {
  const symbols = (o: object) => Object.getOwnPropertySymbols(o).map((s) => String(s));
  res.json({
    reqFast: hasFastProperties(req),
    resFast: hasFastProperties(res),
    reqSymbols: symbols(req),
    resSymbols: symbols(res),
    requestId: req.requestId,
  });
}

describe('Express request shape', () => {
  it('control: without Bulwark, Express leaves the request and the response in fast mode', async () => {
    const app = express();
    app.get('/shape', report);
    const { status, body } = await serve(app, '/shape');
    expect(status).toBe(200);
    expect(body.reqFast).toBe(true);
    expect(body.resFast).toBe(true);
  });

  it('the bundle switches both to dictionary mode, leaving no key of its own behind', async () => {
    const t = await testKit();
    const bw = bulwark(t.kit, { problemDetails: { log: () => undefined } });
    try {
      const app = express();
      app.use(bw);
      app.get('/shape', bw.authorize('read', 'hello'), report);
      app.use(bw.problemDetails());
      const { status, body } = await serve(app, '/shape', {
        authorization: `Bearer ${await t.sign('alice')}`,
      });
      expect(status).toBe(200);
      expect(body.reqFast).toBe(false);
      expect(body.resFast).toBe(false);
      expect(
        [...body.reqSymbols, ...body.resSymbols].filter((s) => s.includes('bulwark.dictionary')),
      ).toEqual([]);
      expect(body.requestId).toMatch(/\S/);
    } finally {
      await bw.close();
      await t.close();
    }
  });

  it('a single step (requestId) does it too: whichever Bulwark step meets the request first', async () => {
    const app = express();
    app.use(requestId());
    app.get('/shape', report);
    const { body } = await serve(app, '/shape');
    expect(body.reqFast).toBe(false);
    expect(body.resFast).toBe(false);
  });
});
