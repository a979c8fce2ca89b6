import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  auditFailurePolicy,
  checkRouteAuditMarks,
  holdResponseUntilAudited,
  type AuditHoldOptions,
} from '../../src/http/request-audit-hold';
import { RequestAuditor } from '../../src/http/request-auditor';
import { BulwarkConfigError } from '../../src/errors';

// The fail-closed hold on Node's own http server (what every adapter's response is).

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

async function serve(handler: Handler): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

function held(res: ServerResponse, options: Partial<AuditHoldOptions>): void {
  holdResponseUntilAudited(res, {
    shouldHold: () => true,
    store: async () => true,
    requestId: 'req-1',
    ...options,
  });
}

describe('holdResponseUntilAudited', () => {
  it('replays writeHead headers, writes and end in order once the event is stored', async () => {
    const statuses: number[] = [];
    const s = await serve((_req, res) => {
      held(res, { store: async (status) => (statuses.push(status), true) });
      res.writeHead(201, { 'Content-Type': 'text/plain', 'X-Kept': 'yes' });
      res.write('a');
      res.write('b');
      res.end('c');
    });
    try {
      const r = await fetch(s.url);
      expect(r.status).toBe(201);
      expect(r.headers.get('x-kept')).toBe('yes');
      expect(await r.text()).toBe('abc');
      expect(statuses).toEqual([201]); // the status the response was about to carry
    } finally {
      await s.close();
    }
  });

  it('refuses with 503 problem+json, dropping every header set after it was installed', async () => {
    const s = await serve((_req, res) => {
      res.setHeader('X-Content-Type-Options', 'nosniff'); // an earlier step's header
      held(res, { store: async () => false });
      res.setHeader('Set-Cookie', 'session=secret');
      res.writeHead(200, { 'X-Patient': 'Jane' });
      res.end('Jane Roe, diagnosis');
    });
    try {
      const r = await fetch(s.url);
      expect(r.status).toBe(503);
      expect(r.headers.get('content-type')).toBe('application/problem+json');
      expect(r.headers.get('x-content-type-options')).toBe('nosniff');
      expect(r.headers.get('set-cookie')).toBeNull();
      expect(r.headers.get('x-patient')).toBeNull();
      const body = (await r.json()) as Record<string, unknown>;
      expect(body).toMatchObject({ status: 503, code: 'ERR_AUDIT_UNAVAILABLE', requestId: 'req-1' });
      expect(JSON.stringify(body)).not.toContain('Jane');
    } finally {
      await s.close();
    }
  });

  it('refuses when the store does not answer within timeoutMs, and when it throws', async () => {
    const s = await serve((req, res) => {
      held(res, {
        timeoutMs: 1,
        store:
          req.url === '/throw' ? () => Promise.reject(new Error('x')) : () => new Promise(() => undefined),
      });
      res.end('secret');
    });
    try {
      expect((await fetch(s.url)).status).toBe(503);
      expect((await fetch(`${s.url}/throw`)).status).toBe(503);
    } finally {
      await s.close();
    }
  });

  it('passes a response through untouched when shouldHold says no, and answers HEAD without a body', async () => {
    let stored = 0;
    const s = await serve((req, res) => {
      held(res, {
        shouldHold: () => req.method === 'HEAD',
        store: async () => (stored++, false),
      });
      res.end('plain');
    });
    try {
      expect(await (await fetch(s.url)).text()).toBe('plain');
      expect(stored).toBe(0);
      const head = await fetch(s.url, { method: 'HEAD' });
      expect(head.status).toBe(503);
      expect(await head.text()).toBe('');
    } finally {
      await s.close();
    }
  });

  it('keeps a wrapper installed after it (compression) working', async () => {
    const s = await serve((_req, res) => {
      held(res, {});
      const inner = res.end.bind(res) as (chunk?: unknown) => ServerResponse;
      (res as unknown as { end: (chunk?: unknown) => ServerResponse }).end = (chunk?: unknown) =>
        inner(typeof chunk === 'string' ? chunk.toUpperCase() : chunk);
      res.end('quiet');
    });
    try {
      expect(await (await fetch(s.url)).text()).toBe('QUIET');
    } finally {
      await s.close();
    }
  });
});

describe('auditFailurePolicy', () => {
  it('fails classified routes closed; only the route itself can downgrade them', () => {
    expect(auditFailurePolicy({})).toBe('report');
    expect(auditFailurePolicy({}, 'fail-closed')).toBe('fail-closed');
    for (const category of ['personal', 'sensitive', 'phi', 'cardholder']) {
      expect(auditFailurePolicy({ category }, 'report')).toBe('fail-closed');
    }
    expect(auditFailurePolicy({ category: 'http' })).toBe('report');
    expect(auditFailurePolicy({ classified: true }, 'report')).toBe('fail-closed');
    expect(auditFailurePolicy({ category: 'phi', onFailure: 'report' }, 'fail-closed')).toBe('report');
  });

  it("counts the auditor's own category when the route names none", () => {
    const auditor = new RequestAuditor({ log: { append: async () => undefined }, category: 'phi' });
    expect(auditor.policy({})).toBe('fail-closed');
    expect(auditor.policy({ category: 'http' })).toBe('report');
  });

  it('validates route markers', () => {
    expect(checkRouteAuditMarks({ category: 'phi' }, 'r')).toEqual({ category: 'phi', classified: true });
    for (const bad of [
      null,
      { onFailure: 'open' },
      { action: 'bad action' },
      { classified: 'yes' },
      { x: 1 },
    ]) {
      expect(() => checkRouteAuditMarks(bad, 'r')).toThrow(BulwarkConfigError);
    }
  });
});
