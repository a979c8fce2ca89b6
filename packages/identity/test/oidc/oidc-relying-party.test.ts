import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import {
  BruteForceGuard,
  BulwarkError,
  ComplianceKit,
  MfaPolicy,
  type AuditEvent,
  type HttpPrincipal,
} from '@bulwark/core';
import { problemFor, readBoundedBody } from '@bulwark/core/http';
import { MemoryOneTimeStore, SignInMapper } from '@bulwark/identity';
import { OidcRelyingParty, type OidcBackchannelLogout, type OidcSignIn } from '@bulwark/identity/oidc';
import {
  startOidcProvider,
  testClient,
  TestBrowser,
  type TestOidcProvider,
} from '../../../../test/support/oidc-test-provider';

// The engine over real HTTP, framework free: a bare node:http app, a real oidc-provider, a browser.
let op: TestOidcProvider;
let app: Server;
let origin: string;
let rp: OidcRelyingParty;
const events: AuditEvent[] = [];
const signIns: OidcSignIn[] = [];
const logouts: OidcBackchannelLogout[] = [];

function send(
  res: ServerResponse,
  status: number,
  headers: Record<string, string | string[]>,
  body?: unknown,
): void {
  res.writeHead(status, headers).end(body === undefined ? undefined : JSON.stringify(body));
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url!, origin);
  const request = { cookie: req.headers.cookie, ip: '203.0.113.7' };
  try {
    if (url.pathname === '/auth/oidc/login') {
      const out = await rp.login({
        returnTo: url.searchParams.get('returnTo') ?? undefined,
        loginHint: url.searchParams.get('login_hint') ?? undefined,
      });
      return send(res, 302, { location: out.location, 'set-cookie': out.setCookie });
    }
    if (url.pathname === '/auth/oidc/callback') {
      try {
        const signIn = await rp.callback(url.search.slice(1), request);
        signIns.push(signIn);
        return send(res, 200, { 'set-cookie': signIn.clearCookie }, signIn.principal);
      } catch (error) {
        const p = problemFor(error);
        return send(
          res,
          p.status,
          { 'set-cookie': rp.clearCookie() },
          { ...p.body, reason: (error as BulwarkError).details?.reason },
        );
      }
    }
    if (url.pathname === '/auth/oidc/backchannel-logout' && req.method === 'POST') {
      const body = new URLSearchParams((await readBoundedBody(req, 65536)).toString());
      await rp.backchannelLogout(body.get('logout_token') ?? undefined);
      return send(res, 200, { 'cache-control': 'no-store' });
    }
    send(res, 404, {});
  } catch (error) {
    const p = problemFor(error);
    send(res, p.status, {}, { ...p.body, reason: (error as BulwarkError).details?.reason });
  }
}

/** A client registered without require_auth_time: its ID tokens carry no auth_time. */
const NO_AUTH_TIME = 'bulwark-app-no-auth-time';

function newRp(overrides: Partial<ConstructorParameters<typeof OidcRelyingParty>[0]> = {}): OidcRelyingParty {
  const client = testClient(origin);
  return new OidcRelyingParty({
    issuer: op.issuer,
    clientId: client.client_id,
    clientSecret: client.client_secret!,
    redirectUri: client.redirect_uris[0]!,
    postLogoutRedirectUri: client.post_logout_redirect_uris![0]!,
    scopes: ['email', 'profile', 'groups', 'offline_access'],
    cookie: { name: 'bulwark-oidc', secure: false },
    allowInsecureHttp: true,
    userinfo: true,
    signIn: new SignInMapper({
      roles: { 'hr-staff': ['hr'], admins: ['admin'] },
      audit: { append: async (e) => void events.push(e) },
    }),
    onBackchannelLogout: (l) => void logouts.push(l),
    ...overrides,
  });
}

beforeAll(async () => {
  app = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
  op = await startOidcProvider({
    clients: [testClient(origin), { ...testClient(origin, NO_AUTH_TIME), require_auth_time: false }],
  });
  rp = newRp();
});

afterAll(async () => {
  await op?.close();
  await new Promise((resolve) => app?.close(resolve));
});

beforeEach(() => {
  events.length = 0;
  signIns.length = 0;
  logouts.length = 0;
});

const isCallback = (location: string): boolean => location.startsWith(`${origin}/auth/oidc/callback`);

/** Logs in at the provider and stops at the redirect back to the app's callback. */
async function toCallback(browser: TestBrowser, query = ''): Promise<string> {
  const res = await browser.follow(`${origin}/auth/oidc/login${query}`, isCallback);
  expect(res.location).toBeDefined();
  expect(isCallback(res.location!)).toBe(true);
  return res.location!;
}

async function callback(
  browser: TestBrowser,
  url: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await browser.request(url);
  return { status: res.status, body: JSON.parse(res.body) as Record<string, unknown> };
}

function failures(): string[] {
  return events.filter((e) => e.action === 'auth.login' && e.outcome === 'failure').map((e) => e.reason!);
}

describe('OidcRelyingParty against a real oidc-provider', () => {
  it('signs a user in with code + PKCE S256, state and nonce, and maps groups and amr', async () => {
    const browser = new TestBrowser();
    const login = await browser.request(`${origin}/auth/oidc/login?returnTo=/dashboard`);
    const authz = new URL(login.location!);
    expect(authz.origin).toBe(new URL(op.issuer).origin);
    expect(authz.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authz.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(authz.searchParams.get('state')).toBeTruthy();
    expect(authz.searchParams.get('nonce')).toBeTruthy();
    expect(login.headers.get('set-cookie')).toMatch(
      /^bulwark-oidc=[A-Za-z0-9_-]{43}; Path=\/; Max-Age=600; HttpOnly; SameSite=Lax$/,
    );

    const back = await browser.follow(login.location!, isCallback);
    expect(new URL(back.location!).searchParams.get('iss')).toBe(op.issuer); // RFC 9207
    const res = await callback(browser, back.location!);
    expect(res.status).toBe(200);
    const principal = res.body as unknown as HttpPrincipal;
    expect(principal.id).toBe('oidc:alice');
    expect(principal.roles).toEqual(['hr', 'admin']);
    expect(principal.authentication).toMatchObject({
      method: 'oidc',
      provider: 'oidc',
      factors: ['federated', 'password', 'otp', 'federated-mfa'],
    });
    // pwd + otp: two kinds of factor, so the provider's sign-in counts as multi-factor.
    expect(principal.authentication!.mfaAt).toEqual(expect.any(Number));
    expect(principal.authentication!.mfaAt).toBeLessThanOrEqual(principal.authentication!.at);
    expect(new MfaPolicy({ requiredFor: ['*'] }).evaluatePrincipal(principal).reason).toBe('verified');
    expect(signIns[0]!.returnTo).toBe('/dashboard');
    expect(signIns[0]!.sessionId).toEqual(expect.any(String));
    expect(signIns[0]!.tokens.refreshToken).toEqual(expect.any(String));
    expect(events.map((e) => [e.action, e.outcome])).toEqual([['auth.login', 'success']]);
    expect(browser.cookies(origin).has('bulwark-oidc')).toBe(false);
  });

  it('gives a password-only sign-in no MFA time and no roles for no groups', async () => {
    const browser = new TestBrowser();
    const res = await callback(browser, await toCallback(browser, '?login_hint=bob'));
    const principal = res.body as unknown as HttpPrincipal;
    expect(principal).toMatchObject({ id: 'oidc:bob', roles: [] });
    expect(principal.authentication!.factors).toEqual(['federated', 'password']);
    expect(principal.authentication!.mfaAt).toBeUndefined();
  });

  it('accepts amr [pwd, mfa] (Entra ID, Okta) under MfaPolicy, timed from auth_time', async () => {
    const browser = new TestBrowser();
    const res = await callback(browser, await toCallback(browser, '?login_hint=erin'));
    const principal = res.body as unknown as HttpPrincipal;
    expect(principal.authentication!.factors).toEqual(['federated', 'password', 'mfa', 'federated-mfa']);
    expect(principal.authentication!.mfaAt).toEqual(expect.any(Number));
    expect(new MfaPolicy({ requiredFor: ['*'] }).evaluatePrincipal(principal).reason).toBe('verified');
    // An app that wants its own second factor after a federated sign-in leaves federated-mfa out.
    expect(new MfaPolicy({ requiredFor: ['*'], methods: ['totp'] }).evaluatePrincipal(principal).reason).toBe(
      'method-not-allowed',
    );
  });

  it('does not time the provider MFA from iat when the ID token has no auth_time', async () => {
    const saved = rp;
    const client = testClient(origin, NO_AUTH_TIME);
    rp = newRp({ clientId: client.client_id, clientSecret: client.client_secret! });
    try {
      const browser = new TestBrowser();
      const res = await callback(browser, await toCallback(browser, '?login_hint=erin'));
      expect(res.status).toBe(200);
      const principal = res.body as unknown as HttpPrincipal;
      expect(principal.authentication!.factors).toEqual(['federated', 'password', 'mfa']);
      expect(principal.authentication!.mfaAt).toBeUndefined();
      expect(new MfaPolicy({ requiredFor: ['*'] }).evaluatePrincipal(principal).reason).toBe('missing');
    } finally {
      rp = saved;
    }
  });

  it('does not take a lone amr otp (one factor) as MFA', async () => {
    const browser = new TestBrowser();
    const res = await callback(browser, await toCallback(browser, '?login_hint=otto'));
    const principal = res.body as unknown as HttpPrincipal;
    expect(principal.authentication!.factors).toEqual(['federated', 'otp']);
    expect(principal.authentication!.mfaAt).toBeUndefined();
    expect(new MfaPolicy({ requiredFor: ['*'] }).evaluatePrincipal(principal).reason).toBe('missing');
  });

  it('turns an absolute or protocol-relative returnTo into / (no open redirect)', async () => {
    for (const target of ['https://evil.example/', '//evil.example/x', '/\\evil.example']) {
      const browser = new TestBrowser();
      const res = await callback(
        browser,
        await toCallback(browser, `?returnTo=${encodeURIComponent(target)}`),
      );
      expect(res.status).toBe(200);
      expect(signIns.at(-1)!.returnTo).toBe('/');
    }
  });

  it('refreshes tokens and reads userinfo for the signed-in subject only', async () => {
    const browser = new TestBrowser();
    await callback(browser, await toCallback(browser));
    const { tokens, subject } = signIns[0]!;
    const info = await rp.userinfo(tokens.accessToken, subject);
    expect(info).toMatchObject({ sub: 'alice', email: 'alice@example.test', groups: ['hr-staff', 'admins'] });
    await expect(rp.userinfo(tokens.accessToken, 'bob')).rejects.toMatchObject({
      code: 'ERR_SIGNIN_FAILED',
      details: { reason: 'userinfo_mismatch' },
    });
    const refreshed = await rp.refresh(tokens.refreshToken!, subject);
    expect(refreshed.accessToken).not.toBe(tokens.accessToken);
    await expect(rp.refresh(tokens.refreshToken!, 'bob')).rejects.toMatchObject({
      code: 'ERR_SIGNIN_FAILED',
    });
  });

  it('refuses a replayed callback (state used once) and a code redeemed twice', async () => {
    const browser = new TestBrowser();
    const url = await toCallback(browser);
    const jar = new Map(browser.cookies(origin));
    expect((await callback(browser, url)).status).toBe(200);
    // Same cookie, same state, same code: the transaction is gone.
    for (const [k, v] of jar) browser.cookies(origin).set(k, v);
    const replay = await callback(browser, url);
    expect(replay).toMatchObject({
      status: 401,
      body: { code: 'ERR_SIGNIN_FAILED', reason: 'unknown_transaction' },
    });
    // A fresh login transaction, but the old code injected: the provider refuses the second use.
    const fresh = new URL(await toCallback(browser));
    fresh.searchParams.set('code', new URL(url).searchParams.get('code')!);
    const reused = await callback(browser, fresh.href);
    expect(reused).toMatchObject({ status: 401, body: { reason: 'code_rejected' } });
    expect(failures()).toEqual(['unknown_transaction', 'code_rejected']);
  });

  it('refuses a callback without the browser cookie, or with another login’s state', async () => {
    const victim = new TestBrowser();
    const url = await toCallback(victim);
    const attacker = new TestBrowser();
    expect(await callback(attacker, url)).toMatchObject({
      status: 401,
      body: { reason: 'missing_transaction' },
    });
    const other = new URL(await toCallback(victim));
    other.searchParams.set('state', new URL(url).searchParams.get('state')!);
    expect(await callback(victim, other.href)).toMatchObject({
      status: 401,
      body: { reason: 'state_mismatch' },
    });
  });

  it('refuses an injected code bound to another PKCE verifier (code injection)', async () => {
    const attacker = new TestBrowser();
    const attackerCode = new URL(await toCallback(attacker, '?login_hint=bob')).searchParams.get('code')!;
    const victim = new TestBrowser();
    const url = new URL(await toCallback(victim));
    url.searchParams.set('code', attackerCode);
    expect(await callback(victim, url.href)).toMatchObject({
      status: 401,
      body: { reason: 'code_rejected' },
    });
  });

  it('refuses a mix-up: an iss parameter of another issuer, or none (RFC 9207)', async () => {
    const browser = new TestBrowser();
    const url = new URL(await toCallback(browser));
    url.searchParams.set('iss', 'http://127.0.0.1:1/other-op');
    expect(await callback(browser, url.href)).toMatchObject({
      status: 401,
      body: { reason: 'issuer_mismatch' },
    });
    const url2 = new URL(await toCallback(browser));
    url2.searchParams.delete('iss');
    expect((await callback(browser, url2.href)).status).toBe(401);
  });

  it.each([
    ['alg-none', 'algorithm_not_allowed'],
    ['hs256', 'algorithm_not_allowed'],
    ['other-key', 'bad_signature'],
    ['wrong-audience', 'audience_mismatch'],
    ['wrong-issuer', 'issuer_mismatch'],
    ['expired', 'token_expired'],
    ['replay', 'nonce_mismatch'],
  ] as const)('refuses an ID token forged as %s', async (mode, reason) => {
    const browser = new TestBrowser();
    await callback(browser, await toCallback(browser)); // gives the provider an ID token to replay
    const url = await toCallback(browser);
    await op.tamper(mode);
    const res = await callback(browser, url);
    expect(res).toMatchObject({
      status: 401,
      body: { code: 'ERR_SIGNIN_FAILED', detail: 'Sign-in failed.' },
    });
    expect(res.body.reason).toBe(reason);
    expect(failures()).toEqual([reason]);
    expect(JSON.stringify(events)).not.toContain('alice@example.test');
  });

  it('refuses the provider’s error answer (access_denied) without a token request', async () => {
    const browser = new TestBrowser();
    const url = new URL(await toCallback(browser));
    url.searchParams.delete('code');
    url.searchParams.set('error', 'access_denied');
    expect(await callback(browser, url.href)).toMatchObject({
      status: 401,
      body: { reason: 'provider_error' },
    });
  });

  it('counts failed callbacks per IP through the BruteForceGuard and locks out', async () => {
    const guard = new BruteForceGuard({
      ip: { maxFailures: 2, windowSec: 600, lockoutSec: 600 },
      account: false,
      ipAccount: false,
    });
    const strict = newRp({ bruteForce: guard });
    const request = { ip: '198.51.100.9' };
    for (let i = 0; i < 2; i++) {
      await expect(strict.callback('state=x&code=y', request)).rejects.toMatchObject({
        code: 'ERR_SIGNIN_FAILED',
      });
    }
    await expect(strict.callback('state=x&code=y', request)).rejects.toMatchObject({
      code: 'ERR_HTTP_TOO_MANY_REQUESTS',
      status: 429,
    });
    // Another address is not locked.
    await expect(strict.callback('state=x&code=y', { ip: '198.51.100.10' })).rejects.toMatchObject({
      details: { reason: 'missing_transaction' },
    });
  });

  it('ends the sessions of a back-channel logout and refuses forged or replayed logout tokens', async () => {
    const browser = new TestBrowser();
    await callback(browser, await toCallback(browser));
    const { sessionId, tokens } = signIns[0]!;
    // RP-initiated logout at the provider; it then calls the back-channel endpoint itself.
    const end = await browser.request(await rp.logoutUrl(tokens.idToken));
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(end.body)?.[1];
    const action = /action="([^"]+)"/.exec(end.body)?.[1];
    expect(xsrf).toBeDefined();
    const done = await browser.follow(new URL(action!, op.issuer).href, (l) => l.startsWith(origin), {
      form: { xsrf: xsrf!, logout: 'yes' },
    });
    expect(done.location).toBe(`${origin}/signed-out`);
    expect(logouts).toEqual([{ provider: 'oidc', issuer: op.issuer, subject: 'alice', sessionId }]);

    const post = (token: string): Promise<Response> =>
      fetch(`${origin}/auth/oidc/backchannel-logout`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ logout_token: token }).toString(),
      });
    const now = Math.floor(Date.now() / 1000);
    const valid = {
      iss: op.issuer,
      aud: 'bulwark-app',
      iat: now,
      exp: now + 120,
      jti: `jti-${now}-${Math.random()}`,
      sub: 'alice',
      events: { 'http://schemas.openid.net/event/backchannel-logout': {} },
    };
    const token = await op.logoutToken(valid);
    expect((await post(token)).status).toBe(200);
    expect((await post(token)).status).toBe(401); // replayed jti
    const forged: [Record<string, unknown>, { key?: 'other'; header?: Record<string, unknown> }][] = [
      [{ ...valid, jti: 'a1' }, { key: 'other' }],
      [{ ...valid, jti: 'a2', aud: 'another-client' }, {}],
      [{ ...valid, jti: 'a3', nonce: 'n' }, {}],
      [{ ...valid, jti: 'a4', events: {} }, {}],
      [{ ...valid, jti: 'a5', sub: undefined }, {}],
      [{ ...valid, jti: 'a6', iat: now - 3600, exp: now + 60 }, {}],
      [{ ...valid, jti: 'a7' }, { header: { typ: 'JWT' } }],
    ];
    for (const [claims, opts] of forged) {
      expect((await post(await op.logoutToken(claims, opts))).status).toBe(401);
    }
    const b64 = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');
    expect((await post(`${b64({ alg: 'none' })}.${b64({ ...valid, jti: 'a8' })}.`)).status).toBe(401);
    expect(logouts).toHaveLength(2);
  });

  it('describes itself as compliance evidence, which the report cites', async () => {
    expect(rp.describe()).toMatchObject({
      method: 'oidc',
      issuer: op.issuer,
      pkce: 'S256',
      responseType: 'code',
      idTokenAlgorithms: ['RS256'],
      clientAuthentication: 'client_secret_basic',
      transactionStore: 'memory',
      backchannelLogout: true,
    });
    expect(JSON.stringify(rp.describe())).not.toContain(testClient(origin).client_secret);
    const kit = new ComplianceKit().register({ bruteForceGuard: new BruteForceGuard() }).registerSignIn(rp);
    const report = await kit.report('soc2');
    const control = report.controls.find((c) => c.check === 'threat.brute-force')!;
    expect(control.summary).toContain(
      `OIDC sign-in configured (oidc), issuer ${op.issuer}, authorization code with PKCE S256, ID tokens RS256`,
    );
  });

  it('answers 503 (not a user failure) when the provider is down; a full store makes room', async () => {
    const down = newRp({ issuer: 'http://127.0.0.1:9' });
    await expect(down.login()).rejects.toMatchObject({
      code: 'ERR_SIGNIN_UNAVAILABLE',
      details: { reason: 'provider_unavailable' },
    });
    expect(problemFor(await down.login().catch((e: unknown) => e)).status).toBe(503);
    // A flood of abandoned logins evicts the oldest transaction: new users can still sign in.
    const full = newRp({ store: new MemoryOneTimeStore({ maxEntries: 1 }) });
    await full.login();
    await expect(full.login()).resolves.toMatchObject({ location: expect.any(String) });
  });

  it('answers 503 while the transaction store fails, without counting it as a failed sign-in', async () => {
    const broken = { put: async () => true, take: async () => Promise.reject(new Error('ECONNRESET')) };
    const guard = new BruteForceGuard({
      ip: { maxFailures: 1, windowSec: 600, lockoutSec: 600 },
      account: false,
      ipAccount: false,
    });
    const rpWithBrokenStore = newRp({ store: broken, bruteForce: guard });
    const { setCookie } = await rpWithBrokenStore.login();
    const request = { ip: '192.0.2.44', cookie: setCookie.split(';')[0]! };
    for (let i = 0; i < 3; i++) {
      const error = await rpWithBrokenStore.callback('state=s&code=c', request).catch((e: unknown) => e);
      expect(error).toMatchObject({
        code: 'ERR_SIGNIN_UNAVAILABLE',
        details: { reason: 'provider_unavailable' },
      });
      expect(problemFor(error).status).toBe(503);
    }
  });

  it('refuses at discovery a provider without PKCE S256 or without the allowed ID-token algorithm', async () => {
    // A provider whose metadata we choose: a tiny discovery server.
    let metadata: Record<string, unknown> = {};
    const fake = createServer(
      (_req, res) =>
        void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(metadata)),
    );
    await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
    const issuer = `http://127.0.0.1:${(fake.address() as AddressInfo).port}`;
    const base = {
      issuer,
      authorization_endpoint: `${issuer}/auth`,
      token_endpoint: `${issuer}/token`,
      jwks_uri: `${issuer}/jwks`,
      response_types_supported: ['code'],
    };
    try {
      metadata = { ...base, code_challenge_methods_supported: ['plain'] };
      await expect(newRp({ issuer }).login()).rejects.toMatchObject({
        details: { reason: 'invalid_response' },
      });
      metadata = {
        ...base,
        code_challenge_methods_supported: ['S256'],
        id_token_signing_alg_values_supported: ['HS256', 'none'],
      };
      await expect(newRp({ issuer }).login()).rejects.toMatchObject({
        details: { reason: 'algorithm_not_allowed' },
      });
      metadata = {
        ...base,
        code_challenge_methods_supported: ['S256'],
        id_token_signing_alg_values_supported: ['RS256'],
      };
      const login = new URL((await newRp({ issuer }).login()).location);
      expect(login.searchParams.get('code_challenge_method')).toBe('S256');
    } finally {
      await new Promise((resolve) => fake.close(resolve));
    }
  });

  it('refuses unsafe options at construction', () => {
    const base = { issuer: 'https://op.example', clientId: 'c', redirectUri: 'https://app.example/cb' };
    expect(() => new OidcRelyingParty({ ...base, issuer: 'http://op.example' })).toThrow(
      /oidc.issuer must be an https: URL/,
    );
    expect(() => new OidcRelyingParty({ ...base, idTokenAlgorithm: 'none' as 'RS256' })).toThrow(
      /idTokenAlgorithm/,
    );
    expect(() => new OidcRelyingParty({ ...base, idTokenAlgorithm: 'HS256' as 'RS256' })).toThrow(
      /idTokenAlgorithm/,
    );
    expect(() => new OidcRelyingParty({ ...base, cookie: { name: '__Host-x', secure: false } })).toThrow(
      /secure/,
    );
  });
});
