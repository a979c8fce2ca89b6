import { createHash, randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import {
  BulwarkConfigError,
  BulwarkTokenError,
  ErrorCodes,
  MemoryRevocationStore,
  RedisRevocationStore,
  TokenRevocation,
  TokenService,
  type AuditEvent,
} from '../../src';
import { describeWithService, SERVICE_URLS } from '../../../../test/support/services';

const SECRET = randomBytes(32);
let nowMs = Date.UTC(2026, 0, 1, 12);
const clock = () => new Date(nowMs);
const tokens = new TokenService({ algorithms: ['HS256'], signingKey: { key: SECRET }, clock });

async function claimsOf(token: string) {
  return (await tokens.verify(token)).payload;
}

describe('TokenRevocation', () => {
  let events: AuditEvent[];
  let revocation: TokenRevocation;
  beforeEach(() => {
    nowMs = Date.UTC(2026, 0, 1, 12);
    events = [];
    revocation = new TokenRevocation({
      store: new MemoryRevocationStore(),
      tokens,
      clock,
      auditLog: { append: (e: AuditEvent) => events.push(e) },
    });
  });

  it('refuses a revoked token by jti and leaves other tokens alone', async () => {
    const a = await claimsOf(await tokens.sign({}, { subject: 'alice' }));
    const b = await claimsOf(await tokens.sign({}, { subject: 'alice' }));
    await revocation.revoke(a.jti!);
    await expect(revocation.check(a)).rejects.toMatchObject({ code: ErrorCodes.TOKEN_REVOKED });
    await expect(revocation.check(b)).resolves.toBeUndefined();
    expect(events).toEqual([
      expect.objectContaining({
        action: 'auth.token.revoked',
        actor: { id: 'system', type: 'system' },
        resource: { type: 'token', id: a.jti },
      }),
    ]);
  });

  it('refuses a forged token handed to revoke() and lists nothing', async () => {
    const forged = await new TokenService({
      algorithms: ['HS256'],
      signingKey: { key: randomBytes(32) },
      clock,
    }).sign({}, { subject: 'alice', jwtId: 'victim-session' });
    await expect(revocation.revoke(forged)).rejects.toMatchObject({
      code: ErrorCodes.TOKEN_SIGNATURE_INVALID,
    });
    const victim = await claimsOf(await tokens.sign({}, { subject: 'alice', jwtId: 'victim-session' }));
    await expect(revocation.check(victim)).resolves.toBeUndefined();
    expect(events).toEqual([]);
  });

  it('has nothing to do for an expired token', async () => {
    const token = await tokens.sign({}, { subject: 'alice', ttlSec: 60 });
    nowMs += 120_000;
    await expect(revocation.revoke(token)).resolves.toBeUndefined();
    expect(events).toEqual([]);
  });

  it('revokeAllFor refuses tokens issued up to its second, accepts later ones', async () => {
    const before = await claimsOf(await tokens.sign({}, { subject: 'alice' }));
    const { notBeforeSec } = await revocation.revokeAllFor('alice', { reason: 'password-changed' });
    const sameSecond = await claimsOf(await tokens.sign({}, { subject: 'alice' }));
    await expect(revocation.check(before)).rejects.toBeInstanceOf(BulwarkTokenError);
    await expect(revocation.check(sameSecond)).rejects.toMatchObject({ code: ErrorCodes.TOKEN_REVOKED });
    nowMs = (notBeforeSec + 1) * 1000;
    await expect(revocation.check(await claimsOf(await tokens.sign({}, { subject: 'alice' })))).resolves.toBe(
      undefined,
    );
    expect(events[0]).toMatchObject({
      reason: 'password-changed',
      details: { scope: 'subject', notBeforeSec },
    });
  });

  it('revokeEveryone refuses every subject’s tokens issued up to its second, accepts later ones', async () => {
    const alice = await claimsOf(await tokens.sign({}, { subject: 'alice' }));
    const bob = await claimsOf(await tokens.sign({}, { subject: 'bob' }));
    const { notBeforeSec } = await revocation.revokeEveryone({
      actor: { id: 'admin-1', type: 'user' },
      reason: 'signing-key-leaked',
    });
    for (const claims of [alice, bob]) {
      await expect(revocation.check(claims)).rejects.toMatchObject({ code: ErrorCodes.TOKEN_REVOKED });
    }
    nowMs = (notBeforeSec + 1) * 1000;
    await expect(revocation.check(await claimsOf(await tokens.sign({}, { subject: 'bob' })))).resolves.toBe(
      undefined,
    );
    expect(events[0]).toMatchObject({
      actor: { id: 'admin-1' },
      reason: 'signing-key-leaked',
      resource: { type: 'token', id: '*' },
      details: { scope: 'everyone', notBeforeSec },
    });
  });

  it('keeps the everyone record out of reach: no revokeAllFor on it, no token with it as subject', async () => {
    await expect(revocation.revokeAllFor('bulwark:revocation:everyone')).rejects.toBeInstanceOf(
      BulwarkConfigError,
    );
    const claims = await claimsOf(await tokens.sign({}, { subject: 'bulwark:revocation:everyone' }));
    await expect(revocation.check(claims)).rejects.toMatchObject({ code: ErrorCodes.TOKEN_CLAIM_INVALID });
  });

  it('refuses tokens it could not revoke: no jti, no iat, longer than maxTokenLifetimeSec', async () => {
    const ok = await claimsOf(await tokens.sign({}, { subject: 'alice' }));
    for (const claims of [
      { ...ok, jti: undefined },
      { ...ok, iat: undefined },
      { ...ok, exp: ok.iat! + 86_401 },
      { ...ok, jti: 'x'.repeat(257) },
    ]) {
      await expect(revocation.check(claims)).rejects.toMatchObject({ code: ErrorCodes.TOKEN_CLAIM_INVALID });
    }
  });

  it('with allowTokensWithoutJti, accepts a token without jti and still ends it with revokeAllFor', async () => {
    const lenient = new TokenRevocation({
      store: new MemoryRevocationStore(),
      clock,
      allowTokensWithoutJti: true,
    });
    const claims = { ...(await claimsOf(await tokens.sign({}, { subject: 'alice' }))), jti: undefined };
    await expect(lenient.check(claims)).resolves.toBeUndefined();
    await lenient.revokeAllFor('alice');
    await expect(lenient.check(claims)).rejects.toMatchObject({ code: ErrorCodes.TOKEN_REVOKED });
  });

  it('wraps a failing store as ERR_TOKEN_REVOCATION_STORE (fail closed)', async () => {
    const broken = new TokenRevocation({
      store: {
        revokeToken: async () => undefined,
        revokeSubject: async () => undefined,
        status: async () => Promise.reject(new Error('down')),
      },
    });
    const claims = await claimsOf(await tokens.sign({}, { subject: 'alice' }));
    await expect(broken.check(claims)).rejects.toMatchObject({ code: ErrorCodes.TOKEN_REVOCATION_STORE });
  });

  it('validates its options at construction', () => {
    expect(() => new TokenRevocation({ store: {} as never })).toThrow(BulwarkConfigError);
    expect(() => new TokenRevocation({ store: new MemoryRevocationStore(), maxTokenLifetimeSec: 0 })).toThrow(
      /maxTokenLifetimeSec/,
    );
  });
});

describeWithService('redis', 'RedisRevocationStore', () => {
  let client: Redis;
  beforeAll(() => {
    client = new Redis(SERVICE_URLS.redis);
  });
  afterAll(async () => {
    await client.quit();
  });

  it('keeps a deny-list entry until the token expires and never moves a not-before time back', async () => {
    const keyPrefix = `bw-test:core-revocation:${randomBytes(6).toString('hex')}:`;
    const store = new RedisRevocationStore({ client, keyPrefix });
    const now = Date.now();
    await store.revokeToken('j1', now + 60_000);
    await store.revokeSubject('alice', 200);
    await store.revokeSubject('alice', 100);
    expect(await store.status('j1', 'alice', now)).toEqual({ tokenRevoked: true, notBeforeSec: 200 });
    expect(await store.status('j2', 'bob', now)).toEqual({ tokenRevoked: false });
    const tokenKey = `${keyPrefix}t:${createHash('sha256').update('j1').digest('base64url')}`;
    expect(await client.pttl(tokenKey)).toBeGreaterThan(0);
    // No subject id appears in key names.
    expect((await client.keys(`${keyPrefix}*`)).join(' ')).not.toMatch(/alice|j1/);
  });
});
