/**
 * Issue 12, defects 7 and 8, replayed over real HTTP against the running examples.
 *
 * 7: the login gate used to check the lockout before the password check and count the failure
 *    after it, so 100 concurrent wrong guesses all reached the password check (200/200 in the
 *    attack review). Now each attempt is reserved atomically first: at most the limit is checked
 *    (answered 401), the rest get 429 without a password check.
 * 8: ten wrong passwords from anywhere used to lock the owner out for 30 minutes (doubling to
 *    24 h). Now the account lockout spares the addresses the owner signed in from.
 *
 * The apps do not trust X-Forwarded-For, so distinct clients are distinct source addresses:
 * every 127.0.0.0/8 address reaches a server listening on 127.0.0.1 (Linux loopback).
 */
import * as http from 'node:http';
import { startExample, stillServing, type ExampleName, type ExampleProcess } from './support/example-process';

jest.setTimeout(180_000);

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Record<string, unknown>;
}

/** One request on its own connection from `from` (a 127.x.y.z source address). */
function send(
  app: ExampleProcess,
  method: string,
  path: string,
  options: { from: string; body?: unknown; headers?: Record<string, string> },
): Promise<Reply> {
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port: app.port,
        method,
        path,
        localAddress: options.from,
        agent: false,
        headers: {
          ...(payload !== undefined
            ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) }
            : {}),
          ...options.headers,
        },
        timeout: 60_000,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (c: string) => (text += c));
        res.on('end', () => {
          let body: Record<string, unknown> = {};
          try {
            body = JSON.parse(text) as Record<string, unknown>;
          } catch {
            // an HTML or empty answer
          }
          resolve({ status: res.statusCode!, headers: res.headers, body });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end(payload);
  });
}

interface LoginApp {
  name: ExampleName;
  path: string;
  field: 'username' | 'email';
  /** Limits the app configures: ip+account and account failures. */
  ipAccountLimit: number;
  accountLimit: number;
  accounts: { name: string; password: string }[];
  /** Headers a login needs from this address (koa-shop's CSRF double submit). */
  prepare?: (app: ExampleProcess, from: string) => Promise<Record<string, string>>;
}

async function koaCsrf(app: ExampleProcess, from: string): Promise<Record<string, string>> {
  const res = await send(app, 'GET', '/api/csrf', { from });
  const cookies = ([] as string[]).concat(res.headers['set-cookie'] ?? []).map((c) => c.split(';')[0]!);
  return { cookie: cookies.join('; '), 'x-csrf-token': String(res.body.csrfToken) };
}

const APPS: LoginApp[] = [
  {
    name: 'express-clinic',
    path: '/auth/login',
    field: 'username',
    ipAccountLimit: 5,
    accountLimit: 10,
    accounts: [
      { name: 'dr.grey', password: 'grey-demo-password' },
      { name: 'dr.curie', password: 'curie-demo-password' },
      { name: 'nurse.joy', password: 'joy-demo-password' },
    ],
  },
  {
    name: 'koa-shop',
    path: '/api/login',
    field: 'email',
    ipAccountLimit: 5,
    accountLimit: 20,
    accounts: [
      { name: 'alice@shop.example', password: 'alice-demo-password' },
      { name: 'bob@shop.example', password: 'bob-demo-password' },
      { name: 'sam@shop.example', password: 'sam-demo-password' },
    ],
    prepare: koaCsrf,
  },
  {
    name: 'nestjs-hr',
    path: '/auth/login',
    field: 'email',
    ipAccountLimit: 5,
    accountLimit: 20,
    accounts: [
      { name: 'hana@hr.example', password: 'hana-demo-password' },
      { name: 'max@hr.example', password: 'max-demo-password' },
      { name: 'eve@hr.example', password: 'eve-demo-password' },
    ],
  },
];

describe.each(APPS)('$name login under concurrent brute force', (spec) => {
  let app: ExampleProcess;
  const headersFor = new Map<string, Record<string, string>>();

  beforeAll(async () => {
    app = await startExample(spec.name);
  });
  afterAll(async () => {
    await app?.stop();
  });

  async function login(from: string, account: string, password: string): Promise<Reply> {
    if (!headersFor.has(from)) headersFor.set(from, (await spec.prepare?.(app, from)) ?? {});
    return send(app, 'POST', spec.path, {
      from,
      body: { [spec.field]: account, password },
      headers: headersFor.get(from)!,
    });
  }

  function tally(replies: Reply[]) {
    const by = (s: number) => replies.filter((r) => r.status === s).length;
    return { wrong: by(401), limited: by(429), other: replies.length - by(401) - by(429) };
  }

  it('100 concurrent wrong passwords from one address: at most the ip+account limit reach the password check', async () => {
    const [victim] = spec.accounts;
    const from = '127.0.10.1';
    await login(from, 'warm-up@example.invalid', 'x'); // fetch CSRF headers first, outside the race
    const replies = await Promise.all(
      Array.from({ length: 100 }, (_, i) => login(from, victim!.name, `wrong-guess-${i}`)),
    );
    const t = tally(replies);
    expect(t.other).toBe(0);
    expect(t.wrong).toBeGreaterThan(0);
    expect(t.wrong).toBeLessThanOrEqual(spec.ipAccountLimit); // was 100 before the fix
    expect(t.limited).toBe(100 - t.wrong);
    const refused = replies.find((r) => r.status === 429)!;
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(await stillServing(app)).toBeLessThan(500);
  });

  it('100 concurrent wrong passwords from 25 addresses: at most the account limit reach the password check', async () => {
    const victim = spec.accounts[1]!;
    const addresses = Array.from({ length: 25 }, (_, i) => `127.0.20.${i + 1}`);
    for (const from of addresses) if (spec.prepare) headersFor.set(from, await spec.prepare(app, from));
    const replies = await Promise.all(
      Array.from({ length: 100 }, (_, i) => login(addresses[i % 25]!, victim.name, `wrong-guess-${i}`)),
    );
    const t = tally(replies);
    expect(t.other).toBe(0);
    expect(t.wrong).toBeGreaterThan(0);
    expect(t.wrong).toBeLessThanOrEqual(spec.accountLimit);
    expect(t.limited).toBe(100 - t.wrong);
    expect(await stillServing(app)).toBeLessThan(500);
  });

  it('strangers cannot lock the owner out: the address the owner signed in from still gets in', async () => {
    const owner = spec.accounts[2]!;
    const home = '127.0.30.1';
    expect((await login(home, owner.name, owner.password)).status).toBe(200);
    // Enough wrong passwords from other addresses (under their ip+account limit) to lock the account.
    for (let round = 0; round < spec.accountLimit + 2; round++) {
      await login(`127.0.31.${round + 1}`, owner.name, `wrong-guess-${round}`);
    }
    const stranger = await login('127.0.32.1', owner.name, owner.password);
    expect(stranger.status).toBe(429);
    expect(Number(stranger.headers['retry-after'])).toBeGreaterThan(0);
    // The owner, from home, is not locked out.
    const back = await login(home, owner.name, owner.password);
    expect(back.status).toBe(200);
    expect(back.body.token).toEqual(expect.any(String));
  });
});
