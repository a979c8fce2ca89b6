import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { handleClientErrors } from '../../src/http/handle-client-errors';

/** Sends raw bytes and collects the whole reply (the server closes the connection). */
function raw(port: number, payload: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.end(payload));
    let reply = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (reply += d));
    socket.on('end', () => resolve(reply));
    socket.on('error', reject);
  });
}

describe('handleClientErrors', () => {
  let server: Server;
  let port: number;
  const seen: string[] = [];

  beforeAll(async () => {
    server = handleClientErrors(
      createServer({ maxHeaderSize: 4096 }, (_req, res) => res.end('ok')),
      (code) => seen.push(code),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it('answers oversized headers with a 431 problem+json', async () => {
    const reply = await raw(port, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(8192)}\r\n\r\n`);
    expect(reply).toMatch(/^HTTP\/1\.1 431 /);
    expect(reply).toMatch(/Content-Type: application\/problem\+json/i);
    const body = JSON.parse(reply.slice(reply.indexOf('\r\n\r\n') + 4));
    expect(body).toMatchObject({ status: 431, code: 'ERR_HTTP_HEADERS_TOO_LARGE' });
    expect(seen).toContain('ERR_HTTP_HEADERS_TOO_LARGE');
  });

  it('answers a malformed request line with a 400 problem+json', async () => {
    const reply = await raw(port, 'THIS IS NOT HTTP\r\n\r\n');
    expect(reply).toMatch(/^HTTP\/1\.1 400 /);
    const body = JSON.parse(reply.slice(reply.indexOf('\r\n\r\n') + 4));
    expect(body).toMatchObject({ status: 400, code: 'ERR_HTTP_BAD_REQUEST' });
  });

  it('never writes a second answer on a connection that already got one', async () => {
    // A complete request, then bytes the parser refuses on the same connection.
    const reply = await raw(port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\nNOT HTTP AT ALL\r\n\r\n');
    expect(reply).toMatch(/^HTTP\/1\.1 200 /);
    expect(reply.match(/HTTP\/1\.1 /g)).toHaveLength(1);
    expect(reply).not.toContain('problem+json');
  });

  it('answers nothing of its own while a request on the connection is still being answered', async () => {
    // A HEAD request followed by a stray byte: a problem body here would be read as the HEAD's answer.
    const slow = handleClientErrors(createServer((_req, res) => setTimeout(() => res.end(), 50)));
    await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
    try {
      const reply = await raw(
        (slow.address() as AddressInfo).port,
        'HEAD / HTTP/1.1\r\nHost: x\r\n\r\n\u0000',
      );
      expect(reply).not.toContain('problem+json');
    } finally {
      slow.closeAllConnections();
      await new Promise((resolve) => slow.close(resolve));
    }
  });

  it('answers a refused HEAD request without a body', async () => {
    const reply = await raw(port, 'HEAD /\u00ff HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(reply).toMatch(/^HTTP\/1\.1 400 /);
    expect(reply).toMatch(/Content-Type: application\/problem\+json/i);
    expect(reply.endsWith('\r\n\r\n')).toBe(true);
  });

  it('leaves well-formed requests alone', async () => {
    const reply = await raw(port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(reply).toMatch(/^HTTP\/1\.1 200 /);
    expect(reply.endsWith('ok')).toBe(true);
  });
});
