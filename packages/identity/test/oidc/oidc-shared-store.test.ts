import Redis from 'ioredis';
import { RedisOneTimeStore } from '@bulwark/identity';
import { OidcRelyingParty } from '@bulwark/identity/oidc';
import { describeWithService, SERVICE_URLS } from '../../../../test/support/services';
import {
  startOidcProvider,
  testClient,
  TestBrowser,
  type TestOidcProvider,
} from '../../../../test/support/oidc-test-provider';

// Two instances of one app behind a load balancer: the login starts on one, the callback lands on
// the other, and a replay through either is refused. No app server is needed: the callback URL is
// read from the provider's redirect and handed to the instances directly.
describeWithService('redis', 'OIDC transactions shared by two instances (Redis)', () => {
  const origin = 'http://127.0.0.1:9'; // never contacted: the browser stops at the callback redirect
  const prefix = `bulwark-test:identity-oidc:${process.pid}:${Date.now()}`;
  let op: TestOidcProvider;
  let redis: Redis;
  let a: OidcRelyingParty;
  let b: OidcRelyingParty;

  beforeAll(async () => {
    const client = testClient(origin);
    op = await startOidcProvider({ clients: [client] });
    redis = new Redis(SERVICE_URLS.redis);
    const instance = (): OidcRelyingParty =>
      new OidcRelyingParty({
        issuer: op.issuer,
        clientId: client.client_id,
        clientSecret: client.client_secret!,
        redirectUri: client.redirect_uris[0]!,
        cookie: { name: 'bulwark-oidc', secure: false },
        allowInsecureHttp: true,
        store: new RedisOneTimeStore({ redis, keyPrefix: prefix }),
        onBackchannelLogout: () => undefined,
      });
    a = instance();
    b = instance();
  });

  afterAll(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
    await op?.close();
  });

  it('completes on another instance, and a replay is refused by both', async () => {
    const login = await a.login();
    const browser = new TestBrowser();
    const back = await browser.follow(login.location, (l) => l.startsWith(origin));
    const query = new URL(back.location!).search.slice(1);
    const cookie = login.setCookie.split(';')[0]!;

    const signIn = await b.callback(query, { cookie });
    expect(signIn.principal.id).toBe('oidc:alice');
    for (const instance of [a, b]) {
      await expect(instance.callback(query, { cookie })).rejects.toMatchObject({
        details: { reason: 'unknown_transaction' },
      });
    }
    expect(a.describe().transactionStore).toBe('shared');
  });

  it('refuses a logout token replayed to another instance', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = await op.logoutToken({
      iss: op.issuer,
      aud: 'bulwark-app',
      iat: now,
      jti: `shared-${now}`,
      sid: 'op-session-1',
      events: { 'http://schemas.openid.net/event/backchannel-logout': {} },
    });
    await a.backchannelLogout(token);
    await expect(b.backchannelLogout(token)).rejects.toMatchObject({
      details: { reason: 'replayed_logout_token' },
    });
  });
});
