/**
 * examples/nestjs-hr with staff sign-in through OpenID Connect: the real app (SQLite in a temporary
 * folder) and a real OpenID provider (oidc-provider) started here, driven by a browser over HTTP.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import request from 'supertest';
import { createHrApp, type HrApp } from '../../examples/nestjs-hr/src/app';
import { freePort } from '../support/private-server';
import { startOidcProvider, TestBrowser, type TestOidcProvider } from '../support/oidc-test-provider';

describe('nestjs-hr example: staff sign-in through OIDC', () => {
  let dir: string;
  let hr: HrApp;
  let op: TestOidcProvider;
  let origin: string;

  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bulwark-nestjs-hr-oidc-'));
    const port = await freePort();
    origin = `http://127.0.0.1:${port}`;
    op = await startOidcProvider({
      clients: [
        {
          client_id: 'nestjs-hr',
          client_secret: 'nestjs-hr-client-secret-0123456789abcdef',
          redirect_uris: [`${origin}/auth/oidc/callback`],
          grant_types: ['authorization_code'],
          response_types: ['code'],
          token_endpoint_auth_method: 'client_secret_basic',
        },
      ],
      users: {
        'sso-hana': { email: 'hana@hr.example', email_verified: true, name: 'Hana', amr: ['pwd', 'otp'] },
        'sso-eve': { email: 'eve@hr.example', email_verified: true, name: 'Eve', amr: ['pwd'] },
        'sso-stranger': { email: 'stranger@elsewhere.example', email_verified: true, amr: ['pwd'] },
        'sso-unverified': { email: 'max@hr.example', email_verified: false, amr: ['pwd'] },
      },
    });
    hr = await createHrApp({
      dataDir: dir,
      port,
      logger: false,
      oidc: {
        issuer: op.issuer,
        clientId: 'nestjs-hr',
        clientSecret: 'nestjs-hr-client-secret-0123456789abcdef',
        publicUrl: origin,
        allowInsecureHttp: true,
      },
    });
  });

  afterAll(async () => {
    await hr?.close();
    await op?.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  async function signIn(who: string): Promise<{ status: number; body: Record<string, unknown> }> {
    const browser = new TestBrowser();
    const res = await browser.follow(`${origin}/auth/oidc/login?login_hint=${who}`);
    return { status: res.status, body: JSON.parse(res.body) as Record<string, unknown> };
  }

  it('signs an employee in at the provider and issues the app’s bearer token with the HR role', async () => {
    const hana = await signIn('sso-hana');
    expect(hana).toMatchObject({ status: 200, body: { tokenType: 'Bearer', employeeId: 'emp-1' } });
    const everyone = await request(hr.url)
      .get('/employees')
      .set('Authorization', `Bearer ${hana.body.token}`);
    expect(everyone.status).toBe(200);
    expect(everyone.body.length).toBeGreaterThan(1);

    const eve = await signIn('sso-eve');
    const self = await request(hr.url).get('/employees').set('Authorization', `Bearer ${eve.body.token}`);
    expect(self.body.map((e: { id: string }) => e.id)).toEqual(['emp-3']);
  });

  it('refuses people the HR directory does not know, or whose e-mail is not verified (403)', async () => {
    for (const who of ['sso-stranger', 'sso-unverified']) {
      const res = await signIn(who);
      expect(res).toMatchObject({ status: 403, body: { code: 'ERR_SIGNIN_NOT_PROVISIONED' } });
    }
  });

  it('audits OIDC sign-ins and refusals in the app’s chain', async () => {
    const page = await hr.bulwark.auditLog!.query({ action: 'auth.login' });
    const oidc = page.entries.filter(
      (e) => (e.details as { method?: string } | undefined)?.method === 'oidc',
    );
    expect(oidc.some((e) => e.outcome === 'success' && e.actor?.id === 'emp-1')).toBe(true);
    expect(oidc.some((e) => e.outcome === 'denied' && e.reason === 'not_provisioned')).toBe(true);
    expect(JSON.stringify(oidc)).not.toContain('stranger@elsewhere.example');
  });
});
