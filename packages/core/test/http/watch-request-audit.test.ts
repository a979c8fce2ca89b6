import { createServer, IncomingMessage, ServerResponse, type Server } from 'node:http';
import { Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { AuditEvent } from '../../src/audit/audit-event';
import { ErrorCodes } from '../../src/errors';
import type { HttpPrincipal } from '../../src/http/http-principal';
import { RequestAuditor } from '../../src/http/request-auditor';
import {
  addRouteAuditMarks,
  watchRequestAudit,
  type AuditedRequestState,
} from '../../src/http/watch-request-audit';

// The audit step the Express and Koa adapters share, on Node's own http server.

async function serve(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((r) => server.close(() => r())) };
}

const arrival = {
  requestId: 'req-arrival',
  clientRequestId: 'client-1',
  ip: '203.0.113.9',
  userAgent: 'ua/1',
};

describe('watchRequestAudit', () => {
  it("records the status of a response that emitted 'finish' but is not a socket's (Fastify's inject)", async () => {
    const events: AuditEvent[] = [];
    const auditor = new RequestAuditor({ log: { append: async (e) => void events.push(e) } });
    const req = new IncomingMessage(new Socket());
    const res = new ServerResponse(req);
    // What light-my-request's response does on end(): 'finish' then 'close', while
    // `writableFinished` stays false (no socket ever drained it).
    res.end = function (this: ServerResponse) {
      process.nextTick(() => {
        this.emit('finish');
        this.emit('close');
      });
      return this;
    } as ServerResponse['end'];
    watchRequestAudit(auditor, res, {
      method: 'GET',
      arrival,
      route: () => '/docs/:id',
      requestId: () => undefined,
      principal: () => undefined,
      state: () => ({}),
    });
    res.statusCode = 401;
    res.end();
    await new Promise((r) => setImmediate(r));
    expect(res.writableFinished).toBe(false);
    await auditor.close();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ outcome: 'denied' });
    expect(JSON.stringify(events[0])).toContain('"status":401');
  });

  it('records one event per request, reading route, principal, request id and state when the response ends', async () => {
    const events: AuditEvent[] = [];
    const auditor = new RequestAuditor({ log: { append: async (e) => void events.push(e) } });
    let route = '/unmatched';
    let principal: HttpPrincipal | undefined;
    let requestId: string | undefined;
    const state: AuditedRequestState = {};
    const s = await serve((req, res) => {
      watchRequestAudit(auditor, res, {
        method: req.method!,
        arrival,
        route: () => route,
        requestId: () => requestId,
        principal: () => principal,
        state: () => state,
      });
      // What later steps learn, after the audit step started watching.
      route = '/patients/:id';
      principal = { id: 'u-1', type: 'user', roles: [], claims: {} };
      requestId = 'req-set-by-step';
      Object.assign(state, {
        resource: { type: 'patients', id: 'p-1' },
        reasonId: 'allow-own',
        audit: { action: 'patient.read' },
      });
      res.statusCode = 403;
      res.end('no');
    });
    try {
      expect((await fetch(`${s.url}/patients/p-1`)).status).toBe(403);
      await auditor.close();
    } finally {
      await s.close();
    }
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      actor: { id: 'u-1', type: 'user', ip: '203.0.113.9' },
      action: 'patient.read',
      outcome: 'denied',
      resource: { type: 'patients', id: 'p-1' },
    });
    expect(JSON.stringify(events[0])).toContain('req-set-by-step');
    expect(JSON.stringify(events[0])).toContain('/patients/:id');
  });

  it('withholds a fail-closed response whose event cannot be stored: 503, the error code noted in the state', async () => {
    const auditor = new RequestAuditor({
      log: { append: async () => Promise.reject(new Error('store down')) },
      onError: () => undefined,
    });
    const state: AuditedRequestState = { audit: { category: 'phi' } };
    const s = await serve((req, res) => {
      watchRequestAudit(auditor, res, {
        method: req.method!,
        arrival,
        route: () => '/records',
        requestId: () => undefined,
        principal: () => undefined,
        state: () => state,
      });
      res.end('classified data');
    });
    try {
      const r = await fetch(`${s.url}/records`);
      expect(r.status).toBe(503);
      expect(await r.text()).not.toContain('classified data');
      expect(r.headers.get('content-type')).toContain('application/problem+json');
    } finally {
      await s.close();
    }
    expect(state.errorCode).toBe(ErrorCodes.AUDIT_UNAVAILABLE);
    expect(auditor.refused).toBe(1);
  });
});

describe('addRouteAuditMarks', () => {
  it('lets later marks win but never clears classified', () => {
    expect(addRouteAuditMarks(undefined, { action: 'a' })).toEqual({ action: 'a', classified: false });
    expect(addRouteAuditMarks({ classified: true }, { action: 'b', classified: false })).toEqual({
      action: 'b',
      classified: true,
    });
    expect(
      addRouteAuditMarks({ action: 'a', category: 'http' }, { category: 'phi', classified: true }),
    ).toEqual({
      action: 'a',
      category: 'phi',
      classified: true,
    });
  });
});
