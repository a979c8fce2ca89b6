import { createServer, IncomingMessage, ServerResponse, type Server } from 'node:http';
import { Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { AuditEvent } from '../../src/audit/audit-event';
import { ErrorCodes } from '../../src/errors';
import type { HttpPrincipal } from '../../src/http/http-principal';
import { RequestAuditor } from '../../src/http/request-auditor';
import {
  addRouteAuditMarks,
  markRouteAudit,
  watchRequestAudit,
  type AuditedRequest,
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

/** A request of `route` with nothing learned by later steps (no principal, no request id, no marks). */
function plainRequest(route: () => string, method = 'GET'): AuditedRequest {
  return {
    method,
    arrival,
    route,
    requestId: () => undefined,
    principal: () => undefined,
    state: () => ({}),
  };
}

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

  it('close() waits for every recorded event, however late its store settles, and counts each once', async () => {
    const settle: Array<(ok: boolean) => void> = [];
    const auditor = new RequestAuditor({
      log: {
        append: () =>
          new Promise((resolve, reject) =>
            settle.push((ok) => (ok ? resolve(undefined) : reject(new Error('store down')))),
          ),
      },
      onError: () => {},
    });
    const ends: ServerResponse[] = [];
    for (let i = 0; i < 3; i++) {
      const res = new ServerResponse(new IncomingMessage(new Socket()));
      watchRequestAudit(
        auditor,
        res,
        plainRequest(() => '/r'),
      );
      ends.push(res);
    }
    for (const res of ends) res.emit('close');
    expect(settle).toHaveLength(3);
    let closed = 0;
    // Two closers (an app's shutdown hook and the bundle's close) both wait.
    const closing = [auditor.close().then(() => closed++), auditor.close().then(() => closed++)];
    settle[0]!(true);
    settle[1]!(false);
    await new Promise((r) => setImmediate(r));
    expect(closed).toBe(0);
    settle[2]!(true);
    await Promise.all(closing);
    expect(closed).toBe(2);
    expect({ stored: auditor.stored, failed: auditor.failed }).toEqual({ stored: 2, failed: 1 });
    // A later close with nothing in flight does not wait.
    await auditor.close();
  });

  it("lets go of the request's audit state once the response closed (the response may outlive it)", async () => {
    const auditor = new RequestAuditor({ log: { append: async () => undefined } });
    const res = new ServerResponse(new IncomingMessage(new Socket()));
    watchRequestAudit(
      auditor,
      res,
      plainRequest(() => '/r'),
    );
    // What the response holds under symbols that reads the request when it closes.
    const watches = () =>
      Object.getOwnPropertySymbols(res)
        .map((key) => (res as unknown as Record<symbol, unknown>)[key])
        .filter((v) => typeof (v as { closed?: unknown } | null)?.closed === 'function');
    expect(watches()).toHaveLength(1);
    res.emit('close');
    expect(watches()).toHaveLength(0);
    await auditor.close();
    expect(auditor.stored).toBe(1);
  });

  it('a response watched by two audit steps is recorded by each, once', async () => {
    const first: AuditEvent[] = [];
    const second: AuditEvent[] = [];
    const auditors = [
      new RequestAuditor({ log: { append: async (e) => void first.push(e) } }),
      new RequestAuditor({ log: { append: async (e) => void second.push(e) } }),
    ];
    const s = await serve((req, res) => {
      for (const auditor of auditors) {
        watchRequestAudit(
          auditor,
          res,
          plainRequest(() => '/twice', req.method!),
        );
      }
      res.statusCode = 201;
      res.end('ok');
    });
    try {
      expect((await fetch(`${s.url}/twice`)).status).toBe(201);
      for (const auditor of auditors) await auditor.close();
    } finally {
      await s.close();
    }
    expect([first.length, second.length]).toEqual([1, 1]);
    expect(JSON.stringify(first[0])).toContain('"status":201');
    expect(JSON.stringify(second[0])).toContain('"status":201');
  });

  it("a request whose facts cannot be read is counted as lost and reported, never thrown into 'close'", () => {
    const errors: unknown[] = [];
    const auditor = new RequestAuditor({
      log: { append: async () => undefined },
      onError: (e) => errors.push(e),
    });
    const res = new ServerResponse(new IncomingMessage(new Socket()));
    watchRequestAudit(
      auditor,
      res,
      plainRequest(() => {
        throw new Error('router gone');
      }),
    );
    expect(() => res.emit('close')).not.toThrow();
    expect(auditor.failed).toBe(1);
    expect(errors).toHaveLength(1);
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

describe('watchRequestAudit: the fail-closed hold is installed only when a route needs it', () => {
  const failingAuditor = (onFailure?: 'fail-closed') =>
    new RequestAuditor({
      log: { append: async () => Promise.reject(new Error('store down')) },
      onError: () => undefined,
      ...(onFailure !== undefined ? { onFailure } : {}),
    });

  /** A server whose audit step runs first, then `route` (markers), then the handler. */
  async function serveRoute(
    auditor: RequestAuditor,
    route: (state: AuditedRequestState, res: ServerResponse) => void,
  ) {
    const seen: { wrapped: boolean; state: AuditedRequestState }[] = [];
    const s = await serve((req, res) => {
      const state: AuditedRequestState = {};
      watchRequestAudit(auditor, res, {
        method: req.method!,
        arrival,
        route: () => '/records',
        requestId: () => undefined,
        principal: () => undefined,
        state: () => state,
      });
      res.setHeader('X-Before', 'kept');
      route(state, res);
      seen.push({ wrapped: Object.hasOwn(res, 'end'), state });
      if (!res.headersSent) {
        res.setHeader('X-Handler', 'dropped on refusal');
        res.end('classified data');
      }
    });
    return { ...s, seen };
  }

  it('leaves an unmarked response untouched (no wrapped methods) and serves it when the store fails', async () => {
    const auditor = failingAuditor();
    const s = await serveRoute(auditor, () => undefined);
    try {
      const r = await fetch(`${s.url}/records`);
      expect(r.status).toBe(200);
      expect(await r.text()).toBe('classified data');
    } finally {
      await s.close();
    }
    expect(s.seen[0]!.wrapped).toBe(false);
    await auditor.close();
    expect(auditor.failed).toBe(1);
    expect(auditor.refused).toBe(0);
  });

  it('holds a response a later route marker makes fail-closed: 503, nothing the handler wrote', async () => {
    const auditor = failingAuditor();
    const s = await serveRoute(auditor, (state) => markRouteAudit(state, { category: 'phi' }));
    try {
      const r = await fetch(`${s.url}/records`);
      expect(r.status).toBe(503);
      expect(await r.text()).not.toContain('classified data');
      expect(r.headers.get('x-handler')).toBeNull();
      // Only headers present when the audit step ran survive a refusal (one set between the audit
      // step and the marker is dropped, as when the hold was installed by the audit step itself).
      expect(r.headers.get('x-before')).toBeNull();
    } finally {
      await s.close();
    }
    expect(s.seen[0]!.wrapped).toBe(true);
    expect(s.seen[0]!.state.errorCode).toBe(ErrorCodes.AUDIT_UNAVAILABLE);
    expect(auditor.refused).toBe(1);
  });

  it("holds for requireConsent's classified mark, not for a route that says onFailure: 'report'", async () => {
    for (const [marks, status] of [
      [[{ classified: true }], 503],
      [[{ category: 'phi' }, { onFailure: 'report' as const }], 200],
      [[{ onFailure: 'report' as const }, { classified: true }], 200],
      [[{ onFailure: 'fail-closed' as const }], 503],
    ] as const) {
      const auditor = failingAuditor();
      const s = await serveRoute(auditor, (state) => {
        for (const m of marks) markRouteAudit(state, m);
      });
      try {
        const r = await fetch(`${s.url}/records`);
        expect({ marks, status: r.status }).toEqual({ marks, status });
      } finally {
        await s.close();
      }
      await auditor.close();
    }
  });

  it("holds every response from the start under the auditor's onFailure: 'fail-closed'", async () => {
    const auditor = failingAuditor('fail-closed');
    expect(auditor.holdsEveryRequest).toBe(true);
    const s = await serveRoute(auditor, () => undefined);
    try {
      const r = await fetch(`${s.url}/records`);
      expect(r.status).toBe(503);
      expect(await r.text()).not.toContain('classified data');
    } finally {
      await s.close();
    }
    expect(s.seen[0]!.wrapped).toBe(true);
  });

  it('a marker that runs after the response started cannot hold it: served, the loss reported, nothing thrown', async () => {
    const auditor = failingAuditor();
    const s = await serveRoute(auditor, (state, res) => {
      res.end('classified data');
      markRouteAudit(state, { category: 'phi' });
    });
    try {
      const r = await fetch(`${s.url}/records`);
      expect(r.status).toBe(200);
    } finally {
      await s.close();
    }
    await auditor.close();
    expect(auditor.failed).toBe(1);
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
