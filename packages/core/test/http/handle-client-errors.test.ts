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

  it('leaves well-formed requests alone', async () => {
    const reply = await raw(port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(reply).toMatch(/^HTTP\/1\.1 200 /);
    expect(reply.endsWith('ok')).toBe(true);
  });
});
