/**
 * Issue 12, defect 1: a chunked POST over the input guard's limit got its 413, then the Express
 * and Koa processes died (leaving `for await` destroyed the request; the audit 'close' listener
 * then read `req.ip` / `ctx.ip` on a null socket). Each attack is replayed over a raw socket
 * against the built example, which must answer (or drop only that connection) and keep serving.
 */
import { chunk, LAST_CHUNK, rawConversation, type RawConversation } from './support/raw-http';
import { startExample, stillServing, type ExampleName, type ExampleProcess } from './support/example-process';

jest.setTimeout(120_000);

// `refusesDeclaredLength`: answers 413 on a Content-Length over the limit before any body byte is
// read (all three now: nestjs-hr turns Nest's body parser off and lets BulwarkModule's input guard read).
const EXAMPLES: ReadonlyArray<{ name: ExampleName; login: string; refusesDeclaredLength: boolean }> = [
  { name: 'express-clinic', login: '/auth/login', refusesDeclaredLength: true },
  { name: 'koa-shop', login: '/api/login', refusesDeclaredLength: true },
  { name: 'nestjs-hr', login: '/auth/login', refusesDeclaredLength: true },
];

const MiB = 1024 * 1024;
const JSON_START = '{"email":"a@example.com","password":"';

function head(app: ExampleProcess, path: string, extra: string): string {
  return `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${app.port}\r\nContent-Type: application/json\r\n${extra}`;
}

/** Sends `total` bytes of a chunked JSON body in 64 KiB chunks, stopping early if the server answers. */
async function sendChunked(conv: RawConversation, total: number): Promise<void> {
  await conv.write(chunk(JSON_START));
  const piece = Buffer.alloc(64 * 1024, 'a');
  for (let sent = 0; sent < total && conv.open(); sent += piece.length) {
    if (!(await conv.write(chunk(piece)))) return;
  }
  if (conv.open()) await conv.write(chunk('"}') + LAST_CHUNK);
}

async function settle(): Promise<void> {
  // An uncaught exception from a 'close' listener surfaces a tick or two after the connection ends.
  await new Promise((resolve) => setTimeout(resolve, 300));
}

async function expectServing(app: ExampleProcess): Promise<void> {
  await settle();
  expect(app.output()).not.toMatch(/TypeError|uncaught/i);
  expect(app.alive()).toBe(true);
  expect(await stillServing(app, '/health')).toBe(200);
}

describe.each(EXAMPLES)('request body abuse against $name', ({ name, login, refusesDeclaredLength }) => {
  let app: ExampleProcess;
  beforeAll(async () => {
    app = await startExample(name);
  });
  afterAll(async () => {
    await app?.stop();
  });

  it('answers a chunked body over the limit with 413 and keeps serving', async () => {
    const conv = await rawConversation(app.url, head(app, login, 'Transfer-Encoding: chunked'));
    await sendChunked(conv, 4 * MiB);
    const res = await conv.response();
    conv.socket.destroy();
    expect(res.status).toBe(413);
    expect(res.received).toMatch(/application\/problem\+json/i);
    await expectServing(app);
  });

  it('survives ten chunked oversize bodies in parallel', async () => {
    const convs = await Promise.all(
      Array.from({ length: 10 }, () =>
        rawConversation(app.url, head(app, login, 'Transfer-Encoding: chunked')),
      ),
    );
    await Promise.all(convs.map((c) => sendChunked(c, 2 * MiB)));
    const results = await Promise.all(convs.map((c) => c.response()));
    for (const c of convs) c.socket.destroy();
    expect(results.map((r) => r.status)).toEqual(Array(10).fill(413));
    await expectServing(app);
  });

  it('survives a client that hangs up (TCP reset) right after the 413 of a chunked oversize body', async () => {
    const conv = await rawConversation(app.url, head(app, login, 'Transfer-Encoding: chunked'));
    await conv.write(chunk(JSON_START));
    const piece = Buffer.alloc(64 * 1024, 'b');
    for (let i = 0; i < 64 && conv.open(); i++) await conv.write(chunk(piece));
    conv.reset();
    await expectServing(app);
  });

  it('answers a declared Content-Length over the limit with 413 without reading the body, and keeps serving', async () => {
    const conv = await rawConversation(app.url, head(app, login, `Content-Length: ${64 * MiB}`));
    await conv.write(JSON_START);
    const res = await conv.response(5_000);
    conv.socket.destroy();
    expect(res.status).toBe(refusesDeclaredLength ? 413 : undefined);
    await expectServing(app);
  });

  it('survives a client that hangs up mid-body (TCP reset, Content-Length body)', async () => {
    const conv = await rawConversation(app.url, head(app, login, 'Content-Length: 5000'));
    await conv.write(`${JSON_START}${'c'.repeat(1000)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    conv.reset();
    await expectServing(app);
  });

  it('survives a client that hangs up mid-body (TCP reset, chunked body)', async () => {
    const conv = await rawConversation(app.url, head(app, login, 'Transfer-Encoding: chunked'));
    await conv.write(chunk(JSON_START));
    await conv.write(chunk('d'.repeat(1000)));
    await new Promise((resolve) => setTimeout(resolve, 100));
    conv.reset();
    await expectServing(app);
  });

  it('survives a body shorter than its Content-Length whose client then closes', async () => {
    const conv = await rawConversation(app.url, head(app, login, 'Content-Length: 5000'));
    await conv.write(`${JSON_START}short"}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    conv.end();
    const res = await conv.response(5_000);
    conv.socket.destroy();
    // Node's parser answers 400 to a request cut off by the client's FIN, or just closes.
    expect(res.status === undefined || res.status === 400).toBe(true);
    await expectServing(app);
  });
});
