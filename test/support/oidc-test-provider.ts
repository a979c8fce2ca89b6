/**
 * A real OpenID provider for the OIDC suites (oidc-provider in a child process, see
 * oidc-provider-process.mjs) and a minimal browser (cookie jar per host, manual redirects) to drive
 * a sign-in over real HTTP through the app and the provider.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';

export interface TestOidcClient {
  client_id: string;
  client_secret?: string;
  redirect_uris: string[];
  post_logout_redirect_uris?: string[];
  backchannel_logout_uri?: string;
  backchannel_logout_session_required?: boolean;
  grant_types?: string[];
  response_types?: string[];
  token_endpoint_auth_method?: string;
  /** OIDC Registration §2: every ID token carries `auth_time` (the provider's MFA is timed from it). */
  require_auth_time?: boolean;
}

/** The forged ID tokens the provider can put in its next token response. */
export type IdTokenForgery =
  'alg-none' | 'other-key' | 'wrong-audience' | 'wrong-issuer' | 'expired' | 'replay' | 'hs256';

export interface TestOidcProvider {
  readonly issuer: string;
  /** The next token response carries a forged ID token. */
  tamper(mode: IdTokenForgery): Promise<void>;
  /** A logout token signed by the provider's key (or, with key 'other', by a stranger's). */
  logoutToken(
    claims: Record<string, unknown>,
    options?: { header?: Record<string, unknown>; key?: 'other' },
  ): Promise<string>;
  close(): Promise<void>;
}

/** A confidential client with refresh tokens, its redirect and logout URIs on `appOrigin`. */
export function testClient(appOrigin: string, clientId = 'bulwark-app', base = '/auth/oidc'): TestOidcClient {
  return {
    client_id: clientId,
    client_secret: `${clientId}-secret-0123456789abcdef0123456789`,
    redirect_uris: [`${appOrigin}${base}/callback`],
    post_logout_redirect_uris: [`${appOrigin}/signed-out`],
    backchannel_logout_uri: `${appOrigin}${base}/backchannel-logout`,
    backchannel_logout_session_required: true,
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    require_auth_time: true,
  };
}

/**
 * Test users: `alice` (hr, password + one-time code), `bob` (no groups, password), `erin`
 * (`['pwd', 'mfa']` as Entra ID and Okta report MFA), `otto` (a one-time code alone: one factor).
 */
export const TEST_USERS = {
  alice: { email: 'alice@example.test', name: 'Alice', groups: ['hr-staff', 'admins'], amr: ['pwd', 'otp'] },
  bob: { email: 'bob@example.test', name: 'Bob', groups: [], amr: ['pwd'] },
  erin: { email: 'erin@example.test', name: 'Erin', groups: [], amr: ['pwd', 'mfa'] },
  otto: { email: 'otto@example.test', name: 'Otto', groups: [], amr: ['otp'] },
};

export async function startOidcProvider(options: {
  clients: TestOidcClient[];
  users?: Record<string, Record<string, unknown>>;
}): Promise<TestOidcProvider> {
  const child: ChildProcess = spawn(process.execPath, [join(__dirname, 'oidc-provider-process.mjs')], {
    env: {
      ...process.env,
      NODE_OPTIONS: '',
      OIDC_TEST_CONFIG: JSON.stringify({ clients: options.clients, users: options.users ?? TEST_USERS }),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    if (process.env.OIDC_TEST_DEBUG === '1') process.stderr.write(chunk);
  });
  const issuer = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', (line) => resolve((JSON.parse(line) as { issuer: string }).issuer));
    child.once('exit', (code) => reject(new Error(`oidc-provider exited with ${code}: ${stderr}`)));
  });
  const post = async (path: string, body: unknown): Promise<Response> => {
    const res = await fetch(`${issuer}${path}`, { method: 'POST', body: JSON.stringify(body) });
    if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    return res;
  };
  return {
    issuer,
    async tamper(mode) {
      await post('/__test/tamper', { mode });
    },
    async logoutToken(claims, opts = {}) {
      return (await post('/__test/logout-token', { claims, ...opts })).text();
    },
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

export interface BrowserResponse {
  readonly status: number;
  readonly url: string;
  readonly location?: string;
  readonly headers: Headers;
  readonly body: string;
}

/**
 * Just enough of a browser: one cookie jar per host (names and values; expiry by Max-Age=0),
 * redirects followed by hand so a test can stop at, read or alter any hop.
 */
export class TestBrowser {
  readonly #jar = new Map<string, Map<string, string>>();

  cookies(url: string): Map<string, string> {
    const host = new URL(url).host;
    let jar = this.#jar.get(host);
    if (jar === undefined) this.#jar.set(host, (jar = new Map()));
    return jar;
  }

  async request(
    url: string,
    init: { method?: string; form?: Record<string, string> } = {},
  ): Promise<BrowserResponse> {
    const jar = this.cookies(url);
    const headers: Record<string, string> = {};
    if (jar.size > 0) headers.cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    let body: string | undefined;
    if (init.form !== undefined) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(init.form).toString();
    }
    const res = await fetch(url, {
      method: init.method ?? (body ? 'POST' : 'GET'),
      headers,
      body,
      redirect: 'manual',
    });
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      if (attrs.some((a) => /^\s*max-age=0\s*$/i.test(a)) || /expires=thu, 01 jan 1970/i.test(line))
        jar.delete(name);
      else jar.set(name, value);
    }
    const location = res.headers.get('location');
    return {
      status: res.status,
      url,
      ...(location !== null ? { location: new URL(location, url).href } : {}),
      headers: res.headers,
      body: await res.text(),
    };
  }

  /**
   * Follows redirects from `url` and returns the first answer that is not a redirect, or the
   * redirect whose target `stop` matches (not followed: the test decides what to do with it).
   */
  async follow(
    url: string,
    stop?: (location: string) => boolean,
    init: { method?: string; form?: Record<string, string> } = {},
  ): Promise<BrowserResponse> {
    let res = await this.request(url, init);
    for (let hops = 0; res.location !== undefined && hops < 20; hops++) {
      if (stop?.(res.location)) return res;
      res = await this.request(res.location);
    }
    return res;
  }
}
