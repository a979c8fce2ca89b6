import { connect } from 'node:net';
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { BulwarkConfigError, ErrorCodes } from '../../src/errors';
import { BulwarkHttpError } from '../../src/http/bulwark-http-error';
import { InputGuard } from '../../src/http/input-guard';
import { planBulwarkBundle } from '../../src/http/plan-bulwark-bundle';
import { lingerOnUnreadBody } from '../../src/http/linger-on-unread-body';
import { readBoundedBody } from '../../src/http/read-bounded-body';
import { captureRequestArrival } from '../../src/http/request-arrival';
import { requestAuditEvent } from '../../src/http/request-audit';
import { RequestAuditor } from '../../src/http/request-auditor';
import { TrustedProxies, trustProxyFromEnv } from '../../src/http/trusted-proxies';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('TrustedProxies', () => {
  it('ignores X-Forwarded-For by default: the client is the socket peer', () => {
    const none = new TrustedProxies();
    expect(none.clientAddress('10.0.0.5', '203.0.113.7')).toBe('10.0.0.5');
    expect(none.clientAddress('::ffff:10.0.0.5', '203.0.113.7')).toBe('10.0.0.5');
    expect(none.clientAddress(undefined, '203.0.113.7')).toBeUndefined();
  });

  it('with a hop count peels exactly that many hops from the right, whatever the client prepends', () => {
    const one = new TrustedProxies(1);
    expect(one.clientAddress('10.0.0.5', '198.51.100.66, 203.0.113.7')).toBe('203.0.113.7');
    expect(one.clientAddress('10.0.0.5', undefined)).toBe('10.0.0.5');
    const two = new TrustedProxies(2);
    expect(two.clientAddress('10.0.0.5', '198.51.100.66, 203.0.113.7, 10.0.0.9')).toBe('203.0.113.7');
    // Fewer entries than hops: the farthest one there is.
    expect(two.clientAddress('10.0.0.5', '203.0.113.7')).toBe('203.0.113.7');
  });

  it('with CIDR ranges peels hops only while they are trusted proxies', () => {
    const lan = new TrustedProxies(['10.0.0.0/8', '::1']);
    expect(lan.clientAddress('10.0.0.5', '198.51.100.66, 203.0.113.7, 10.1.2.3')).toBe('203.0.113.7');
    // The peer is not a trusted proxy: its header is the client's own claim, ignored.
    expect(lan.clientAddress('192.0.2.1', '203.0.113.7')).toBe('192.0.2.1');
    expect(lan.clientAddress('::1', '2001:db8::1')).toBe('2001:db8::1');
    const named = new TrustedProxies(['loopback', 'uniquelocal']);
    expect(named.clientAddress('127.0.0.1', '192.168.1.1, 203.0.113.7')).toBe('203.0.113.7');
  });

  it('stops at the last trusted hop when an entry is not an address (fail closed)', () => {
    expect(new TrustedProxies(2).clientAddress('10.0.0.5', 'evil, not-an-ip')).toBe('10.0.0.5');
    expect(new TrustedProxies(['10.0.0.0/8']).clientAddress('10.0.0.5', '203.0.113.7, ')).toBe('10.0.0.5');
  });

  it('refuses true, bad counts and bad ranges at construction, naming the path', () => {
    for (const bad of [true, 0, -1, 1.5, 33, [], ['10.0.0.0/33'], ['nope'], 'loopback', {}]) {
      expect(() => new TrustedProxies(bad as never)).toThrow(BulwarkConfigError);
    }
    expect(() => new TrustedProxies(['10.0.0.1', 'x'])).toThrow(/trustProxy\[1\]/);
    expect(() => planBulwarkBundle({}, { trustProxy: true as never })).toThrow(/trustProxy/);
  });

  it('reads TRUST_PROXY-style settings', () => {
    expect(trustProxyFromEnv(undefined)).toBe(false);
    expect(trustProxyFromEnv('false')).toBe(false);
    expect(trustProxyFromEnv(' 2 ')).toBe(2);
    expect(trustProxyFromEnv('10.0.0.0/8, ::1')).toEqual(['10.0.0.0/8', '::1']);
  });
});

describe('captureRequestArrival and the request id', () => {
  it('always mints the request id; the client id is kept apart, sanitised', () => {
    const a = captureRequestArrival(
      {
        headers: { 'x-request-id': 'attacker-chosen', 'user-agent': 'curl/8', 'x-forwarded-for': '1.2.3.4' },
        remoteAddress: '::ffff:127.0.0.1',
      },
      new TrustedProxies(false),
    );
    expect(a.requestId).toMatch(UUID);
    expect(a.clientRequestId).toBe('attacker-chosen');
    expect(a.ip).toBe('127.0.0.1');
    expect(a.userAgent).toBe('curl/8');
    const event = requestAuditEvent({ method: 'GET', route: '/', status: 200, latencyMs: 1, ...a });
    expect(event.requestId).toBe(a.requestId);
    expect(event.details?.clientRequestId).toBe('attacker-chosen');
  });

  it('does not throw when the socket is already gone', () => {
    const a = captureRequestArrival({ headers: {}, remoteAddress: undefined }, new TrustedProxies(1));
    expect(a.ip).toBeUndefined();
  });

  it('has only the facts it found, in a fixed order (no keys with undefined values)', () => {
    const none = captureRequestArrival({ headers: {}, remoteAddress: undefined }, new TrustedProxies(false));
    expect(Object.keys(none)).toEqual(['requestId']);
    const all = captureRequestArrival(
      { headers: { 'x-request-id': 'c-1', 'user-agent': 'ua' }, remoteAddress: '192.0.2.1' },
      new TrustedProxies(false),
    );
    expect(Object.keys(all)).toEqual(['requestId', 'clientRequestId', 'ip', 'userAgent']);
    const some = captureRequestArrival(
      { headers: { 'user-agent': ['a', 'b'] as unknown as string }, remoteAddress: '192.0.2.1' },
      new TrustedProxies(false),
    );
    expect(some).toEqual({ requestId: some.requestId, ip: '192.0.2.1' });
    expect(Object.keys(some)).toEqual(['requestId', 'ip']);
  });
});

describe('RequestAuditor.listener', () => {
  it('turns a throwing listener into a reported, counted error instead of an uncaught exception', () => {
    const errors: unknown[] = [];
    const auditor = new RequestAuditor({
      log: { append: async () => undefined },
      onError: (e) => errors.push(e),
    });
    const listener = auditor.listener(() => {
      throw new TypeError("Cannot read properties of null (reading 'remoteAddress')");
    });
    expect(() => listener()).not.toThrow();
    expect(errors).toHaveLength(1);
    expect(auditor.failed).toBe(1);
  });

  it('reports a throwing skip() instead of throwing from record()', () => {
    const errors: unknown[] = [];
    const auditor = new RequestAuditor({
      log: { append: async () => undefined },
      onError: (e) => errors.push(e),
      skip: () => {
        throw new Error('boom');
      },
    });
    expect(() => auditor.record({ method: 'GET', route: '/', status: 200, latencyMs: 1 })).not.toThrow();
    expect(errors).toHaveLength(1);
  });
});

/** A real server whose handler reads the body with `read`; answers 413 / 400 / 200 accordingly. */
async function bodyServer(
  read: (req: IncomingMessage) => Promise<Buffer>,
  linger?: number,
): Promise<{ server: Server; port: number; seen: Array<number | string> }> {
  const seen: Array<number | string> = [];
  const server = createServer((req, res) => {
    read(req).then(
      (body) => {
        seen.push(body.length);
        res.end('ok');
      },
      (err: unknown) => {
        seen.push(err instanceof BulwarkHttpError ? err.status : String(err));
        lingerOnUnreadBody({ request: req, response: res }, linger);
        res.statusCode = err instanceof BulwarkHttpError ? err.status : 500;
        res.end();
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, seen };
}

describe('readBoundedBody', () => {
  it('reads a body under the limit', async () => {
    await expect(readBoundedBody(Readable.from([Buffer.from('abc'), 'de']), 10)).resolves.toEqual(
      Buffer.from('abcde'),
    );
  });

  it('refuses a chunked body over the limit with 413 without destroying the socket first', async () => {
    const { server, port, seen } = await bodyServer((req) => readBoundedBody(req, 1024));
    try {
      const status = await new Promise<number>((resolve, reject) => {
        const req = httpRequest({ port, host: '127.0.0.1', method: 'POST', path: '/' }, (res) => {
          res.resume();
          resolve(res.statusCode!);
        });
        req.on('error', reject);
        // No Content-Length: chunked. 64 KiB in 1 KiB writes, far past the limit.
        for (let i = 0; i < 64; i++) req.write(Buffer.alloc(1024, 'a'));
        req.end();
      });
      expect(status).toBe(413);
      expect(seen).toEqual([413]);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it('rejects with a 400 BulwarkHttpError when the client hangs up mid-body', async () => {
    const { server, port, seen } = await bodyServer((req) => readBoundedBody(req, 1 << 20));
    try {
      await new Promise<void>((resolve) => {
        const req = httpRequest({
          port,
          host: '127.0.0.1',
          method: 'POST',
          path: '/',
          headers: { 'content-length': '5000' },
        });
        req.on('error', () => resolve());
        req.write('x'.repeat(100), () => setTimeout(() => req.destroy(), 50));
      });
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(seen).toEqual([400]);
    } finally {
      server.close();
    }
  });

  it('delivers the 413 to a Connection: close client that sent its whole oversize body at once (lingering half-close)', async () => {
    const { server, port } = await bodyServer((req) => readBoundedBody(req, 1024));
    try {
      // Node closes a non-keep-alive connection right after the answer; with body bytes still
      // unread that close is a reset, which can discard the 413 before the client reads it.
      const answers = await Promise.all(
        Array.from(
          { length: 20 },
          () =>
            new Promise<string>((resolve) => {
              const socket = connect(port, '127.0.0.1');
              let data = '';
              socket.setEncoding('utf8');
              socket.on('data', (chunk: string) => (data += chunk));
              socket.on('error', () => resolve(data));
              socket.on('close', () => resolve(data));
              socket.on('connect', () => {
                socket.write(
                  'POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n',
                );
                for (let i = 0; i < 16; i++) socket.write(`4000\r\n${'x'.repeat(0x4000)}\r\n`);
                socket.write('0\r\n\r\n');
              });
            }),
        ),
      );
      for (const answer of answers) expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it('half-closes a Connection: close exchange after the 413 and reads the rest of the body before closing', async () => {
    const { server, port } = await bodyServer((req) => readBoundedBody(req, 1024));
    try {
      const outcome = await new Promise<{ answer: string; chunksBeforeClose: number; error?: string }>(
        (resolve) => {
          // allowHalfOpen: the client reads the FIN after the answer and still finishes its upload.
          const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
          let data = '';
          let sent = 0;
          socket.setEncoding('utf8');
          socket.on('data', (chunk: string) => (data += chunk));
          socket.on('error', (err: NodeJS.ErrnoException) =>
            resolve({ answer: data, chunksBeforeClose: sent, error: err.code ?? err.message }),
          );
          socket.on('close', () => resolve({ answer: data, chunksBeforeClose: sent }));
          socket.on('connect', () => {
            socket.write(
              'POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n',
            );
            socket.write(`800\r\n${'x'.repeat(0x800)}\r\n`);
            // The client goes on sending after the 413 (it has not looked yet), then ends the body.
            const timer = setInterval(() => {
              if (socket.destroyed || !socket.writable) return clearInterval(timer);
              if (++sent > 10) {
                clearInterval(timer);
                socket.end('0\r\n\r\n');
                return;
              }
              socket.write(`400\r\n${'y'.repeat(0x400)}\r\n`);
            }, 20);
          });
        },
      );
      expect(outcome.answer).toMatch(/^HTTP\/1\.1 413 /);
      expect(outcome.error).toBeUndefined();
      // Closed once the body ended, not while the client was still sending it.
      expect(outcome.chunksBeforeClose).toBe(11);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it('closes a connection whose refused body never ends, after the linger time', async () => {
    const { server, port } = await bodyServer((req) => readBoundedBody(req, 16), 200);
    try {
      const closed = await new Promise<boolean>((resolve) => {
        const req = httpRequest({ port, host: '127.0.0.1', method: 'POST', path: '/' }, (res) => {
          res.resume();
          expect(res.statusCode).toBe(413);
        });
        req.on('error', () => resolve(true));
        req.on('close', () => resolve(true));
        const timer = setInterval(() => req.write('y'.repeat(64)), 20);
        req.on('close', () => clearInterval(timer));
        setTimeout(() => {
          clearInterval(timer);
          resolve(false);
        }, 3000);
      });
      expect(closed).toBe(true);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it('is what InputGuard.readBody uses (413 as a BulwarkHttpError)', async () => {
    const guard = new InputGuard({ maxBodyBytes: 4 });
    await expect(
      guard.readBody(Readable.from([Buffer.from('{"a":'), Buffer.from('1}')]), {
        'content-type': 'application/json',
        'transfer-encoding': 'chunked',
      }),
    ).rejects.toMatchObject({ code: ErrorCodes.HTTP_BODY_TOO_LARGE, status: 413 });
  });

  it("reads under the lower of the guard's limit and a framework's own (options.maxBodyBytes)", async () => {
    const guard = new InputGuard({ maxBodyBytes: 100 });
    const body = () => Readable.from([Buffer.from('{"a":'), Buffer.from('"0123456789"}')]);
    const chunked = { 'content-type': 'application/json', 'transfer-encoding': 'chunked' };
    await expect(guard.readBody(body(), chunked, { maxBodyBytes: 10 })).rejects.toMatchObject({
      code: ErrorCodes.HTTP_BODY_TOO_LARGE,
      status: 413,
      message: 'The request body is larger than 10 bytes.',
    });
    // A declared length over the lower limit is refused before anything is read.
    await expect(
      guard.readBody(
        body(),
        { 'content-type': 'application/json', 'content-length': '18' },
        { maxBodyBytes: 10 },
      ),
    ).rejects.toMatchObject({ code: ErrorCodes.HTTP_BODY_TOO_LARGE, status: 413 });
    // A framework limit above the guard's does not raise it.
    await expect(
      new InputGuard({ maxBodyBytes: 4 }).readBody(body(), chunked, { maxBodyBytes: 1000 }),
    ).rejects.toMatchObject({ code: ErrorCodes.HTTP_BODY_TOO_LARGE });
    await expect(guard.readBody(body(), chunked, { maxBodyBytes: 50 })).resolves.toEqual({ a: '0123456789' });
    let bytes: Buffer | undefined;
    await guard.readBody(body(), chunked, { bytes: (raw) => (bytes = raw) });
    expect(bytes?.toString('utf8')).toBe('{"a":"0123456789"}');
  });
});
