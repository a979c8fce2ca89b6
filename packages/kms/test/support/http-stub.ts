/**
 * A local HTTP server standing in for a cloud service at its SDK's HTTP boundary: it records each
 * request the SDK sent (method, path, headers, body) and answers with what `handle` returns, in
 * the service's documented shapes. `hang` answers nothing (for the SDK's timeouts).
 */
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';

export interface StubRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** body parsed as JSON (undefined when it is not JSON). */
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export interface StubResponse {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
  /** Do not answer (the client's timeout must fire). */
  hang?: boolean;
}

export interface HttpStub {
  url: string;
  requests: StubRequest[];
  /** Replaces the handler; requests already recorded stay. */
  handle(fn: (req: StubRequest) => StubResponse | Promise<StubResponse>): void;
  close(): Promise<void>;
}

export async function startHttpStub(
  handler: (req: StubRequest) => StubResponse | Promise<StubResponse>,
  tls?: { key: string; cert: string },
): Promise<HttpStub> {
  let current = handler;
  const requests: StubRequest[] = [];
  const hanging = new Set<ServerResponse>();
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let json: unknown;
      try {
        json = body === '' ? undefined : JSON.parse(body);
      } catch {
        json = undefined;
      }
      const request: StubRequest = { method: req.method!, path: req.url!, headers: req.headers, body, json };
      requests.push(request);
      Promise.resolve(current(request)).then(
        (answer) => {
          if (answer.hang) {
            hanging.add(res);
            return;
          }
          const text =
            answer.body === undefined
              ? ''
              : typeof answer.body === 'string'
                ? answer.body
                : JSON.stringify(answer.body);
          res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
          res.end(text);
        },
        () => {
          res.writeHead(599);
          res.end();
        },
      );
    });
  };
  const server: Server = tls === undefined ? createServer(listener) : createTlsServer(tls, listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${tls === undefined ? 'http' : 'https'}://127.0.0.1:${port}`,
    requests,
    handle: (fn) => (current = fn),
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of hanging) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
