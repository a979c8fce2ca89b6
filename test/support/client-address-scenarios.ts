/**
 * Issue 12, defect 9: the same spoofed-X-Forwarded-For scenarios against each adapter's bundle, so
 * Express, Koa (and NestJS, in its own suite) are held to one behaviour: the client address used
 * for audit events, brute-force counters and `ip` policy conditions follows `trustProxy` only.
 */
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { PolicyEngine, type AuditEntry, type TrustProxyOption } from '@bulwark/core';

/** `reader` may read `office` only from 203.0.113.0/24 (an `ip` condition on context.ip). */
export const officePolicy = () =>
  new PolicyEngine({
    policy: {
      version: 1,
      roles: { reader: {} },
      policies: [
        {
          id: 'office',
          rules: [
            {
              id: 'office-network',
              effect: 'allow',
              roles: ['reader'],
              actions: ['read'],
              resources: ['office'],
              when: { ip: '203.0.113.0/24' },
            },
          ],
        },
      ],
    },
  });

/**
 * What each adapter's test app serves (bundle with `trustProxy`, inputGuard.maxBodyBytes 4096):
 *   GET  /whoami  (public)       -> { ip: clientIp(req) }
 *   GET  /office  (authorize read office, needs a reader token)
 *   POST /login   (public, bruteForce, 401 unless password is "right")
 */
export interface ClientAddressApp {
  url: string;
  readerToken: string;
  entries(): Promise<AuditEntry[]>;
  close(): Promise<void>;
}

export const TRUST_CASES: ReadonlyArray<[string, TrustProxyOption | undefined, string]> = [
  ['unset (the header is ignored)', undefined, '127.0.0.1'],
  ['a hop count of 1 (the proxy-appended entry)', 1, '203.0.113.7'],
  ['the proxy address', ['127.0.0.1', '::1'], '203.0.113.7'],
  ['a range the peer is not in (the header is ignored)', ['10.0.0.0/8'], '127.0.0.1'],
];

/** The client prepended 198.51.100.66 itself; the (trusted) proxy appended 203.0.113.x. */
const xff = (last: string) => `198.51.100.66, ${last}`;

export function clientAddressScenarios(
  start: (trustProxy: TrustProxyOption | undefined) => Promise<ClientAddressApp>,
): void {
  describe.each(TRUST_CASES)('trustProxy %s', (_title, trustProxy, expected) => {
    const trusted = expected !== '127.0.0.1';
    let app: ClientAddressApp;
    beforeEach(async () => {
      app = await start(trustProxy);
    });
    afterEach(async () => {
      await app.close();
    });

    it('audits and exposes the client address decided by trustProxy alone', async () => {
      const res = await fetch(`${app.url}/whoami`, { headers: { 'x-forwarded-for': xff('203.0.113.7') } });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { ip: string }).ip).toBe(expected);
      const entry = (await app.entries()).find((e) => e.details?.route === '/whoami');
      expect(entry?.actor?.ip).toBe(expected);
    });

    it('evaluates ip policy conditions on that address', async () => {
      const res = await fetch(`${app.url}/office`, {
        headers: { 'x-forwarded-for': xff('203.0.113.7'), authorization: `Bearer ${app.readerToken}` },
      });
      await res.arrayBuffer();
      expect(res.status).toBe(trusted ? 200 : 403);
    });

    it('keys brute-force counters on that address', async () => {
      const login = (last: string) =>
        fetch(`${app.url}/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-forwarded-for': xff(last) },
          body: JSON.stringify({ username: 'victim', password: 'wrong' }),
        }).then(async (r) => (await r.arrayBuffer(), r.status));
      for (let i = 0; i < 3; i++) expect(await login('203.0.113.7')).toBe(401);
      expect(await login('203.0.113.7')).toBe(429);
      // Another client behind the proxy: its own counter when the proxy is trusted; otherwise every
      // client shares the proxy's address (and the header cannot be used to dodge the lockout).
      expect(await login('203.0.113.8')).toBe(trusted ? 401 : 429);
    });
  });
}

/**
 * Issue 12, defect 1, against each adapter's bundle (the same `start` as above, `trustProxy: 1`):
 * a chunked body over the limit is refused and audited with the address taken on arrival, and a
 * client that hangs up mid-body is audited as 499; the app keeps serving after both.
 */
export function bodyAbuseScenarios(
  start: (trustProxy: TrustProxyOption | undefined) => Promise<ClientAddressApp>,
): void {
  it('answers a chunked body over the limit with 413 and audits it with the address taken on arrival', async () => {
    const app = await start(1);
    try {
      expect(await postChunked(app.url, '/login', 512 * 1024)).toBe(413);
      const entry = (await app.entries()).find((e) => e.details?.route === '/login');
      expect(entry).toMatchObject({
        outcome: 'failure',
        details: { status: 413, errorCode: 'ERR_HTTP_BODY_TOO_LARGE' },
      });
      expect(entry?.actor?.ip).toBe('127.0.0.1');
      // Still serving.
      expect((await fetch(`${app.url}/whoami`)).status).toBe(200);
    } finally {
      await app.close();
    }
  });

  it('audits a client that hangs up mid-body as 499, with the address and user agent taken on arrival', async () => {
    const app = await start(1);
    try {
      await hangUpMidBody(app.url, '/login');
      const entry = (await app.entries()).find((e) => e.details?.route === '/login');
      expect(entry).toMatchObject({
        actor: { ip: '203.0.113.7', userAgent: 'hang-up-test' },
        details: { status: 499 },
      });
      expect((await fetch(`${app.url}/whoami`)).status).toBe(200);
    } finally {
      await app.close();
    }
  });
}

/** A chunked body of `bytes` to `path`; resolves with the status (the server may close after it). */
export function postChunked(url: string, path: string, bytes: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = httpRequest(
      {
        host: u.hostname,
        port: u.port,
        path,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
      },
      (res) => {
        res.resume();
        resolve(res.statusCode!);
        req.destroy();
      },
    );
    req.on('error', (err) => (req.destroyed ? undefined : reject(err)));
    req.write('{"username":"x","password":"');
    const piece = Buffer.alloc(16 * 1024, 'a');
    let sent = 0;
    const pump = (): void => {
      while (sent < bytes) {
        sent += piece.length;
        if (!req.write(piece)) return void req.once('drain', pump);
      }
      req.end('"}');
    };
    pump();
  });
}

/**
 * A JSON POST that announces 2000 bytes (under the limit), sends 100, then hangs up with a TCP reset: the response
 * can never be written, and the audit 'close' listener runs on a request whose socket is gone.
 */
export async function hangUpMidBody(url: string, path: string): Promise<void> {
  const u = new URL(url);
  const socket = connect(Number(u.port), u.hostname);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.on('error', () => undefined);
  socket.write(
    `POST ${path} HTTP/1.1\r\nHost: ${u.host}\r\nContent-Type: application/json\r\nContent-Length: 2000\r\n` +
      `X-Forwarded-For: 203.0.113.7\r\nUser-Agent: hang-up-test\r\n\r\n{"username":"${'x'.repeat(80)}`,
  );
  await new Promise((resolve) => setTimeout(resolve, 50));
  socket.resetAndDestroy();
  await new Promise((resolve) => setTimeout(resolve, 100));
}
