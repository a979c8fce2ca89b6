/**
 * Requests Node's own HTTP parser refuses before any middleware runs: oversized headers (431) and
 * unparsable request lines or headers (400). Each example wires `handleClientErrors` on its server,
 * so these answer RFC 9457 problem+json like every other refusal (never a bare status line that
 * tells a scanner which server it is), and the process keeps serving.
 */
import { rawExchange } from './support/raw-http';
import { startExample, stillServing, type ExampleName, type ExampleProcess } from './support/example-process';

function raw(app: ExampleProcess, bytes: string): Promise<string> {
  return rawExchange(app, (socket) => socket.write(bytes), 3000);
}

function problemOf(answer: string): {
  status: number;
  type: string | undefined;
  body: Record<string, unknown>;
} {
  const [head = '', body = ''] = answer.split('\r\n\r\n');
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]);
  const type = /\r\ncontent-type: ([^\r]+)/i.exec(head)?.[1];
  return { status, type, body: JSON.parse(body) as Record<string, unknown> };
}

describe.each(['express-clinic', 'koa-shop', 'nestjs-hr'] as ExampleName[])(
  '%s: requests the parser refuses',
  (name) => {
    let app: ExampleProcess;

    beforeAll(async () => {
      app = await startExample(name);
    }, 90_000);

    afterAll(async () => {
      await app?.stop();
    });

    it('answers headers over the limit with a 431 problem+json', async () => {
      const answer = await raw(
        app,
        `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(20_000)}\r\n\r\n`,
      );
      const problem = problemOf(answer);
      expect(problem.status).toBe(431);
      expect(problem.type).toMatch(/^application\/problem\+json/);
      expect(problem.body).toMatchObject({ status: 431, code: 'ERR_HTTP_HEADERS_TOO_LARGE' });
      expect(await stillServing(app, '/health')).toBe(200);
    });

    it('answers an unparsable request with a 400 problem+json', async () => {
      const answer = await raw(app, 'GET / HTTP/1.1\r\nHost: x\r\nBad Header: no spaces allowed\r\n\r\n');
      const problem = problemOf(answer);
      expect(problem.status).toBe(400);
      expect(problem.type).toMatch(/^application\/problem\+json/);
      expect(problem.body).toMatchObject({ status: 400, code: 'ERR_HTTP_BAD_REQUEST' });
      expect(await stillServing(app, '/health')).toBe(200);
    });
  },
);
