import { connect, createServer, type AddressInfo } from 'node:net';
import { BruteForceGuard, BulwarkIdentityError, ErrorCodes, type AuditEvent } from '@bulwark/core';
import { BulwarkHttpError } from '@bulwark/core';
import { LdapAuthenticator, type LdapAuthenticatorOptions } from '@bulwark/identity/ldap';
import { SignInMapper } from '@bulwark/identity';
import { Attribute, Change, Client } from 'ldapts';
import {
  describeWithSlapd,
  LDAP_ADMIN,
  LDAP_SERVICE,
  LDAP_SUFFIX,
  TestSlapd,
} from '../../../../test/support/slapd';

const PEOPLE = `ou=people,${LDAP_SUFFIX}`;
const HR = `cn=hr,ou=groups,${LDAP_SUFFIX}`;
const STAFF = `cn=staff,ou=groups,${LDAP_SUFFIX}`;
const ADMINS = `cn=admins,ou=groups,${LDAP_SUFFIX}`;

describeWithSlapd('LDAP sign-in against a real OpenLDAP (slapd started by the test)', () => {
  let slapd: TestSlapd;
  const events: AuditEvent[] = [];
  const authenticators: LdapAuthenticator[] = [];

  beforeAll(async () => {
    slapd = await TestSlapd.start();
  });
  afterAll(async () => {
    await Promise.all(authenticators.map((a) => a.close()));
    await slapd?.stop();
  });
  beforeEach(() => {
    events.length = 0;
  });

  function ldap(overrides: Partial<LdapAuthenticatorOptions> = {}): LdapAuthenticator {
    const authenticator = new LdapAuthenticator({
      url: slapd.url,
      bindDn: LDAP_SERVICE.dn,
      bindCredentials: LDAP_SERVICE.password,
      searchBase: PEOPLE,
      provider: 'corp-ldap',
      mapper: new SignInMapper({
        roles: { [HR]: ['hr'], [STAFF]: ['staff'], [ADMINS]: ['admin'] },
        audit: { append: async (event) => void events.push(event) },
      }),
      ...overrides,
    });
    authenticators.push(authenticator);
    return authenticator;
  }

  async function refusal(promise: Promise<unknown>): Promise<string> {
    const error = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(BulwarkIdentityError);
    expect((error as BulwarkIdentityError).code).toBe(ErrorCodes.SIGNIN_FAILED);
    return String((error as BulwarkIdentityError).details?.reason);
  }

  it('signs a user in by search-then-bind and maps memberOf groups to roles', async () => {
    const principal = await ldap().authenticate(
      { username: 'alice', password: 'alice-password' },
      { ip: '192.0.2.1', requestId: 'r1' },
    );
    expect(principal.id).toBe(`corp-ldap:uid=alice,${PEOPLE}`);
    expect(principal.roles).toEqual(['hr']);
    expect(principal.authentication).toMatchObject({
      method: 'ldap',
      provider: 'corp-ldap',
      factors: ['ldap-bind'],
    });
    expect(principal.claims).toEqual({ sub: `uid=alice,${PEOPLE}` });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ action: 'auth.login', outcome: 'success', requestId: 'r1' });
    expect(JSON.stringify(events)).not.toContain('alice-password');
  });

  it('reads memberOf kept by the running memberof overlay (membership added after start)', async () => {
    const admin = new Client({ url: slapd.url });
    await admin.bind(LDAP_ADMIN.dn, LDAP_ADMIN.password);
    await admin.add(`uid=gina,${PEOPLE}`, {
      objectClass: 'inetOrgPerson',
      uid: 'gina',
      cn: 'Gina New',
      sn: 'New',
      userPassword: 'gina-password',
    });
    await admin.modify(
      ADMINS,
      new Change({
        operation: 'add',
        modification: new Attribute({ type: 'member', values: [`uid=gina,${PEOPLE}`] }),
      }),
    );
    await admin.unbind();
    const gina = await ldap().authenticate({ username: 'gina', password: 'gina-password' });
    expect(gina.roles).toEqual(['admin']);
  });

  it('follows nested groups with a group search (OpenLDAP has no in-chain rule)', async () => {
    const authenticator = ldap({ groupSearch: { base: `ou=groups,${LDAP_SUFFIX}` } });
    const alice = await authenticator.authenticate({ username: 'alice', password: 'alice-password' });
    expect([...alice.roles].sort()).toEqual(['hr', 'staff']);
    const bob = await authenticator.authenticate({ username: 'bob', password: 'bob-password' });
    expect([...bob.roles].sort()).toEqual(['admin', 'staff']);
    const flat = ldap({ groupSearch: { base: `ou=groups,${LDAP_SUFFIX}`, nested: false } });
    expect((await flat.authenticate({ username: 'alice', password: 'alice-password' })).roles).toEqual([
      'hr',
    ]);
  });

  it('binds for an unknown user too (the same directory work as a wrong password: no timing oracle)', async () => {
    // A proxy in front of slapd sees what the authenticator sends: the probe password reaches the
    // directory in a bind for an unknown username, as it does for a known one.
    const sent: Buffer[] = [];
    const target = new URL(slapd.url);
    const proxy = createServer((inbound) => {
      const outbound = connect(Number(target.port), target.hostname);
      inbound.on('data', (chunk: Buffer) => sent.push(chunk));
      inbound.pipe(outbound).pipe(inbound);
      const close = (): void => {
        inbound.destroy();
        outbound.destroy();
      };
      inbound.on('error', close).on('close', close);
      outbound.on('error', close).on('close', close);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    try {
      const port = (proxy.address() as AddressInfo).port;
      const authenticator = ldap({ url: `ldap://127.0.0.1:${port}` });
      expect(await refusal(authenticator.authenticate({ username: 'nobody', password: 'probe-Pa55' }))).toBe(
        'invalid_credentials',
      );
      expect(Buffer.concat(sent).includes('probe-Pa55')).toBe(true);
      await authenticator.close();
    } finally {
      await new Promise((resolve) => proxy.close(resolve));
    }
  });

  it('refuses a wrong password and an unknown user alike, and audits the failure without the password', async () => {
    const authenticator = ldap();
    expect(await refusal(authenticator.authenticate({ username: 'alice', password: 'wrong' }))).toBe(
      'invalid_credentials',
    );
    expect(await refusal(authenticator.authenticate({ username: 'nobody', password: 'wrong' }))).toBe(
      'invalid_credentials',
    );
    expect(events.map((e) => [e.action, e.outcome, e.reason])).toEqual([
      ['auth.login', 'failure', 'invalid_credentials'],
      ['auth.login', 'failure', 'invalid_credentials'],
    ]);
    expect(JSON.stringify(events)).not.toContain('wrong');
  });

  it('never sends an empty password (RFC 4513 unauthenticated bind would succeed)', async () => {
    expect(await refusal(ldap().authenticate({ username: 'alice', password: '' }))).toBe('invalid_request');
  });

  it.each([
    ['a wildcard', 'al*'],
    ['a lone star', '*'],
    ['a filter break-out', '*)(uid=*'],
    ['an OR injection', 'alice)(|(uid=*'],
    ['a NUL byte', 'alice\0'],
    ['a backslash escape', 'al\\2aice'],
  ])('escapes %s in the user name (RFC 4515): no other entry is matched', async (_label, username) => {
    // With alice's real password, an unescaped filter would find alice's entry and the bind succeed.
    expect(await refusal(ldap().authenticate({ username, password: 'alice-password' }))).toBe(
      'invalid_credentials',
    );
  });

  it('matches a user whose name holds a filter metacharacter literally', async () => {
    const principal = await ldap().authenticate({ username: 'al*ice', password: 'star-password' });
    expect(principal.claims?.sub).toBe(`uid=al*ice,${PEOPLE}`);
  });

  it('maps ppolicy answers to typed reasons: disabled, locked, expired, must change', async () => {
    const authenticator = ldap();
    expect(await refusal(authenticator.authenticate({ username: 'carol', password: 'carol-password' }))).toBe(
      'account_disabled',
    );
    expect(await refusal(authenticator.authenticate({ username: 'dave', password: 'dave-password' }))).toBe(
      'account_locked',
    );
    expect(await refusal(authenticator.authenticate({ username: 'erin', password: 'erin-password' }))).toBe(
      'password_expired',
    );
    expect(await refusal(authenticator.authenticate({ username: 'frank', password: 'frank-password' }))).toBe(
      'password_must_change',
    );
  });

  it('reserves every attempt on the brute-force guard, per account, and answers 429 when locked out', async () => {
    const guard = new BruteForceGuard({
      account: { maxFailures: 2, windowSec: 600, lockoutSec: 600 },
      ip: false,
      ipAccount: false,
    });
    const authenticator = ldap({ bruteForce: guard });
    await refusal(authenticator.authenticate({ username: 'bob', password: 'x1' }, { ip: '192.0.2.9' }));
    await refusal(authenticator.authenticate({ username: 'bob', password: 'x2' }, { ip: '192.0.2.9' }));
    const locked = await authenticator
      .authenticate({ username: 'bob', password: 'bob-password' }, { ip: '192.0.2.9' })
      .catch((e: unknown) => e);
    expect(locked).toBeInstanceOf(BulwarkHttpError);
    expect((locked as BulwarkHttpError).code).toBe(ErrorCodes.HTTP_TOO_MANY_REQUESTS);
    // Another account is not affected; a success refunds its reservation.
    await authenticator.authenticate({ username: 'alice', password: 'alice-password' });
    await authenticator.authenticate({ username: 'alice', password: 'alice-password' });
    await authenticator.authenticate({ username: 'alice', password: 'alice-password' });
  });

  it('upgrades with StartTLS and verifies the server certificate', async () => {
    const trusted = ldap({ startTls: true, tls: { ca: slapd.ca } });
    expect((await trusted.authenticate({ username: 'alice', password: 'alice-password' })).roles).toEqual([
      'hr',
    ]);
    const untrusted = ldap({ startTls: true, tls: {} });
    const error = await untrusted
      .authenticate({ username: 'alice', password: 'alice-password' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BulwarkIdentityError);
    expect((error as BulwarkIdentityError).code).toBe(ErrorCodes.SIGNIN_UNAVAILABLE);
  });

  it('connects over LDAPS', async () => {
    const tls = ldap({ url: slapd.ldapsUrl, tls: { ca: slapd.ca } });
    expect((await tls.authenticate({ username: 'bob', password: 'bob-password' })).roles).toEqual(['admin']);
  });

  it('answers ERR_SIGNIN_UNAVAILABLE (no directory detail) when the service account is refused', async () => {
    const broken = ldap({ bindCredentials: 'not-the-secret' });
    const error = await broken
      .authenticate({ username: 'alice', password: 'alice-password' })
      .catch((e: unknown) => e);
    expect((error as BulwarkIdentityError).code).toBe(ErrorCodes.SIGNIN_UNAVAILABLE);
    expect((error as Error).message).not.toContain('bulwark-reader');
  });

  it('serves concurrent sign-ins through a small pool', async () => {
    const authenticator = ldap({ poolSize: 2 });
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        authenticator.authenticate(
          i % 2 === 0
            ? { username: 'alice', password: 'alice-password' }
            : { username: 'bob', password: 'bob-password' },
        ),
      ),
    );
    expect(results.map((p) => p.roles[0])).toEqual(
      Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? 'hr' : 'admin')),
    );
  });

  it('describes its configuration for compliance evidence (transport, guard, groups)', () => {
    expect(ldap().describe()).toEqual({
      method: 'ldap',
      provider: 'corp-ldap',
      transport: 'plaintext',
      bruteForceGuarded: false,
      groups: 'memberOf',
      poolSize: 4,
    });
    const strict = ldap({
      startTls: true,
      tls: { ca: slapd.ca },
      bruteForce: new BruteForceGuard(),
      activeDirectory: true,
    });
    expect(strict.describe()).toMatchObject({
      transport: 'starttls',
      bruteForceGuarded: true,
      groups: 'in-chain',
    });
    expect(JSON.stringify(strict.describe())).not.toContain(LDAP_SERVICE.password);
  });

  it('validates its options at construction', () => {
    expect(() => ldap({ url: 'http://x' })).toThrow(/ldap:\/\/ or ldaps:\/\//);
    expect(() => ldap({ searchFilter: '(uid=alice)' })).toThrow(/\{\{username\}\}/);
    expect(() => ldap({ url: 'ldaps://127.0.0.1:1', startTls: true })).toThrow(/startTls/);
  });
});
