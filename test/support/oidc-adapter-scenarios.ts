/**
 * One end-to-end OIDC scenario list for the Express, Koa and NestJS adapters: a real
 * oidc-provider, the adapter's routes on a real HTTP server, a browser with a cookie jar. Each
 * adapter test supplies only `listener(rp, sessions)`: its app with the OIDC routes under
 * `/auth/oidc`, issuing an `app-session` cookie through `sessions` in its `onSignIn`, ending it in
 * `onLogout`, and answering `GET /me` with the session's principal (401 problem+json without one).
 */
import { randomBytes } from 'node:crypto';
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BruteForceGuard, type AuditEvent, type HttpPrincipal } from '@bulwark/core';
import { readCookie } from '@bulwark/core/http';
import { SignInMapper } from '@bulwark/identity';
import { OidcRelyingParty, type OidcSignIn } from '@bulwark/identity/oidc';
import { startOidcProvider, testClient, TestBrowser, type TestOidcProvider } from './oidc-test-provider';

/** The app's own sessions, as a test app keeps them (server side, an opaque cookie). */
export class TestSessions {
  readonly #sessions = new Map<string, { principal: HttpPrincipal; sessionId?: string; idToken?: string }>();

  /** Creates a session for a sign-in; returns the `Set-Cookie` value. */
  create(signIn: OidcSignIn): string {
    const id = randomBytes(24).toString('base64url');
    this.#sessions.set(id, {
      principal: signIn.principal,
      ...(signIn.sessionId !== undefined ? { sessionId: signIn.sessionId } : {}),
      ...(signIn.tokens.idToken !== undefined ? { idToken: signIn.tokens.idToken } : {}),
    });
    return `app-session=${id}; Path=/; HttpOnly; SameSite=Lax`;
  }

  principal(cookie: string | undefined): HttpPrincipal | undefined {
    const id = readCookie(cookie, 'app-session');
    return id === undefined ? undefined : this.#sessions.get(id)?.principal;
  }

  /** Ends the session of this cookie; returns what logout needs. */
  end(cookie: string | undefined): { principal?: HttpPrincipal; idToken?: string } | undefined {
    const id = readCookie(cookie, 'app-session');
    const session = id === undefined ? undefined : this.#sessions.get(id);
    if (id !== undefined) this.#sessions.delete(id);
    return session === undefined
      ? undefined
      : {
          principal: session.principal,
          ...(session.idToken !== undefined ? { idToken: session.idToken } : {}),
        };
  }

  /** Back-channel logout: ends every session of this provider session (or subject). */
  endProviderSession(sessionId?: string, subject?: string): void {
    for (const [id, s] of this.#sessions) {
      if (
        (sessionId !== undefined && s.sessionId === sessionId) ||
        (sessionId === undefined && s.principal.claims?.sub === subject)
      ) {
        this.#sessions.delete(id);
      }
    }
  }
}

const MAX_FAILURES = 8;

export type OidcAppFactory = (
  rp: OidcRelyingParty,
  sessions: TestSessions,
) => Promise<RequestListener> | RequestListener;

export function oidcAdapterScenarios(adapter: string, makeApp: OidcAppFactory): void {
  describe(`${adapter} OIDC routes against a real oidc-provider`, () => {
    let server: Server;
    let origin: string;
    let op: TestOidcProvider;
    let sessions: TestSessions;
    const events: AuditEvent[] = [];

    beforeAll(async () => {
      server = createServer();
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const client = testClient(origin);
      op = await startOidcProvider({ clients: [client] });
      sessions = new TestSessions();
      const rp = new OidcRelyingParty({
        provider: 'corp',
        issuer: op.issuer,
        clientId: client.client_id,
        clientSecret: client.client_secret!,
        redirectUri: client.redirect_uris[0]!,
        postLogoutRedirectUri: client.post_logout_redirect_uris![0]!,
        scopes: ['email', 'profile', 'groups'],
        userinfo: true,
        cookie: { name: 'bulwark-oidc', secure: false },
        allowInsecureHttp: true,
        signIn: new SignInMapper({
          roles: { 'hr-staff': ['hr'] },
          audit: { append: async (e) => void events.push(e) },
        }),
        bruteForce: new BruteForceGuard({
          ip: { maxFailures: MAX_FAILURES, windowSec: 600, lockoutSec: 600 },
          account: false,
          ipAccount: false,
        }),
        onBackchannelLogout: ({ sessionId, subject }) => sessions.endProviderSession(sessionId, subject),
      });
      await rp.discover();
      server.on('request', await makeApp(rp, sessions));
    });

    afterAll(async () => {
      await op?.close();
      server?.closeAllConnections();
      await new Promise((resolve) => server?.close(resolve));
    });

    const isCallback = (l: string): boolean => l.startsWith(`${origin}/auth/oidc/callback`);

    async function signIn(browser: TestBrowser): Promise<void> {
      const done = await browser.follow(`${origin}/auth/oidc/login?returnTo=/me`);
      expect(done.url).toBe(`${origin}/me`);
      expect(done.status).toBe(200);
    }

    it('signs in through the provider, issues the app session and redirects to returnTo', async () => {
      const browser = new TestBrowser();
      const login = await browser.request(`${origin}/auth/oidc/login?returnTo=/me`);
      expect(login.status).toBe(302);
      expect(login.headers.get('cache-control')).toBe('no-store');
      expect(new URL(login.location!).searchParams.get('code_challenge_method')).toBe('S256');
      const back = await browser.follow(login.location!, isCallback);
      const callback = await browser.request(back.location!);
      expect(callback.status).toBe(303);
      expect(callback.location).toBe(`${origin}/me`);
      expect(callback.headers.getSetCookie().some((c) => c.startsWith('app-session='))).toBe(true);
      expect(callback.headers.getSetCookie().some((c) => /^bulwark-oidc=;.*Max-Age=0/.test(c))).toBe(true);
      const me = await browser.request(`${origin}/me`);
      const principal = JSON.parse(me.body) as HttpPrincipal;
      expect(principal).toMatchObject({
        id: 'corp:alice',
        roles: ['hr'],
        authentication: { method: 'oidc', provider: 'corp' },
      });
      expect(principal.authentication!.factors).toEqual(['federated', 'password', 'otp', 'federated-mfa']);
    });

    it('answers a replayed callback and a mix-up with 401 problem+json, telling no reason', async () => {
      const browser = new TestBrowser();
      const back = await browser.follow(`${origin}/auth/oidc/login`, isCallback);
      const jar = new Map(browser.cookies(origin));
      expect((await browser.request(back.location!)).status).toBe(303);
      for (const [k, v] of jar) browser.cookies(origin).set(k, v);
      const replay = await browser.request(back.location!);
      expect(replay.status).toBe(401);
      expect(replay.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(JSON.parse(replay.body)).toMatchObject({
        code: 'ERR_SIGNIN_FAILED',
        status: 401,
        detail: 'Sign-in failed.',
      });
      expect(replay.body).not.toMatch(/transaction|state|code=/);

      const mixUp = new URL((await browser.follow(`${origin}/auth/oidc/login`, isCallback)).location!);
      mixUp.searchParams.set('iss', 'http://127.0.0.1:1/attacker-op');
      expect((await browser.request(mixUp.href)).status).toBe(401);
      expect(events.filter((e) => e.outcome === 'failure').map((e) => e.reason)).toEqual(
        expect.arrayContaining(['unknown_transaction', 'issuer_mismatch']),
      );
    });

    it('refuses an ID token with alg none over HTTP', async () => {
      const browser = new TestBrowser();
      const back = await browser.follow(`${origin}/auth/oidc/login`, isCallback);
      await op.tamper('alg-none');
      const res = await browser.request(back.location!);
      expect(res.status).toBe(401);
      expect((await browser.request(`${origin}/me`)).status).toBe(401);
    });

    it('ends the app session on RP-initiated logout and on the provider’s back-channel logout', async () => {
      const browser = new TestBrowser();
      await signIn(browser);
      const logout = await browser.request(`${origin}/auth/oidc/logout`, { method: 'POST' });
      expect(logout.status).toBe(303);
      expect(logout.location!.startsWith(`${op.issuer}/session/end`)).toBe(true);
      expect(new URL(logout.location!).searchParams.get('id_token_hint')).toBeTruthy();
      expect((await browser.request(`${origin}/me`)).status).toBe(401);
      expect(events.some((e) => e.action === 'auth.logout' && e.actor.id === 'corp:alice')).toBe(true);

      // A second browser signs in; the provider ends its session through the back channel.
      const other = new TestBrowser();
      await signIn(other);
      const end = await other.request(`${op.issuer}/session/end`);
      const xsrf = /name="xsrf" value="([^"]+)"/.exec(end.body)![1]!;
      const action = new URL(/action="([^"]+)"/.exec(end.body)![1]!, op.issuer).href;
      await other.follow(action, (l) => l.startsWith(origin), { form: { xsrf, logout: 'yes' } });
      expect((await other.request(`${origin}/me`)).status).toBe(401);

      const forged = await op.logoutToken(
        {
          iss: op.issuer,
          aud: 'bulwark-app',
          iat: Math.floor(Date.now() / 1000),
          jti: 'forged-1',
          sub: 'alice',
          events: { 'http://schemas.openid.net/event/backchannel-logout': {} },
        },
        { key: 'other' },
      );
      const res = await fetch(`${origin}/auth/oidc/backchannel-logout`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ logout_token: forged }).toString(),
      });
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    });

    it('locks a client out after repeated failed callbacks (429 with Retry-After)', async () => {
      // Runs after the attack tests above, whose failures from this address count too.
      const browser = new TestBrowser();
      const statuses: number[] = [];
      for (let i = 0; i < MAX_FAILURES && !statuses.includes(429); i++) {
        statuses.push((await browser.request(`${origin}/auth/oidc/callback?state=guess-${i}&code=x`)).status);
      }
      expect(statuses.at(-1)).toBe(429);
      expect(statuses.slice(0, -1).every((s) => s === 401)).toBe(true);
      // 3 earlier failures + 5 here fill the budget of 8: the 6th attempt here is refused.
      expect(statuses).toHaveLength(MAX_FAILURES - 2);
      const locked = await browser.request(`${origin}/auth/oidc/callback?state=y&code=z`);
      expect(locked.status).toBe(429);
      expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
    });

    it('answers unknown OIDC routes with 404 problem+json', async () => {
      const res = await fetch(`${origin}/auth/oidc/nope`);
      expect(res.status).toBe(404);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    });
  });
}
