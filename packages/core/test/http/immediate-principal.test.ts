import { randomBytes } from 'node:crypto';
import { BulwarkTokenError, ErrorCodes } from '../../src/errors';
import { BearerAuthenticator } from '../../src/http/bearer-authenticator';
import { plainJwsFastPath } from '../../src/tokens/plain-jws';
import { TokenService } from '../../src/tokens/token-service';

/**
 * BearerAuthenticator.immediatePrincipal: a plain valid token under a single key is answered
 * synchronously (TokenService.tryVerifySync) with the principal authenticate() gives; everything
 * else, every token that would be refused, and every revocation-configured authenticator are left
 * to authenticate().
 */

const T0 = Date.UTC(2030, 0, 1);
const secret = randomBytes(32);

function service(): TokenService {
  return new TokenService({
    algorithms: ['HS256'],
    signingKey: { key: secret },
    issuer: 'https://auth.example.test',
    clock: () => new Date(T0),
  });
}

afterEach(() => {
  plainJwsFastPath.enabled = true;
  jest.restoreAllMocks();
});

describe('BearerAuthenticator.immediatePrincipal', () => {
  it('answers a valid plain token without verify() (no promise), with the principal authenticate() gives', async () => {
    const tokens = service();
    const token = await tokens.sign({ roles: ['user'] }, { subject: 'u1' });
    const verify = jest.spyOn(tokens, 'verify');
    const auth = new BearerAuthenticator({ tokens, cacheTtlSec: 0, now: () => T0 });
    const before = plainJwsFastPath.accepted;
    const principal = auth.immediatePrincipal(`Bearer ${token}`);
    expect(principal).toMatchObject({ id: 'u1', roles: ['user'], type: 'user' });
    expect(plainJwsFastPath.accepted).toBe(before + 1);
    expect(verify).not.toHaveBeenCalled();
    // The async path agrees (and is the one that ran verify()).
    await expect(auth.authenticate(`Bearer ${token}`)).resolves.toEqual(principal);
    expect(verify).toHaveBeenCalledTimes(1);
  });

  it('fills the cache as authenticate() would, so a cache hit needs no signature check', async () => {
    const tokens = service();
    const token = await tokens.sign({}, { subject: 'u1' });
    const auth = new BearerAuthenticator({ tokens, now: () => T0 });
    const first = auth.immediatePrincipal(`Bearer ${token}`);
    expect(first).toBeDefined();
    const sync = jest.spyOn(tokens, 'tryVerifySync');
    expect(auth.immediatePrincipal(`Bearer ${token}`)).toBe(first);
    expect(auth.cachedPrincipal(`Bearer ${token}`)).toBe(first);
    expect(sync).not.toHaveBeenCalled();
  });

  it('leaves every refused or unusual token, and other schemes, to authenticate(), which refuses as before', async () => {
    const tokens = service();
    const token = await tokens.sign({}, { subject: 'u1' });
    const [h, p, s] = token.split('.');
    const forged = `${h}.${p}.${s.slice(0, -2)}${s.endsWith('AA') ? 'BA' : 'AA'}`;
    const swapped = `${h}.${Buffer.from(JSON.stringify({ sub: 'admin', exp: T0 / 1000 + 60, iat: T0 / 1000, iss: 'https://auth.example.test' })).toString('base64url')}.${s}`;
    const expired = await new TokenService({
      algorithms: ['HS256'],
      signingKey: { key: secret },
      issuer: 'https://auth.example.test',
      clock: () => new Date(T0 - 3_600_000),
    }).sign({}, { subject: 'u1' });
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${p}.`;
    const auth = new BearerAuthenticator({ tokens, cacheTtlSec: 0, now: () => T0 });
    // The header segment of the valid token is remembered once accepted: forgeries reusing it still fail.
    expect(auth.immediatePrincipal(`Bearer ${token}`)).toBeDefined();
    const cases: [string, string][] = [
      [forged, ErrorCodes.TOKEN_SIGNATURE_INVALID],
      [swapped, ErrorCodes.TOKEN_SIGNATURE_INVALID],
      [expired, ErrorCodes.TOKEN_EXPIRED],
      [none, ErrorCodes.TOKEN_ALGORITHM_NOT_ALLOWED],
      ['not-a-jwt', ErrorCodes.TOKEN_MALFORMED],
    ];
    for (const [bad, code] of cases) {
      expect(auth.immediatePrincipal(`Bearer ${bad}`)).toBeUndefined();
      await expect(auth.authenticate(`Bearer ${bad}`)).rejects.toMatchObject({ code });
    }
    for (const header of [`Basic ${token}`, 'Bearer a b', '', undefined, `Bearer${token}`]) {
      expect(auth.immediatePrincipal(header)).toBeUndefined();
    }
  });

  it('never answers when a revocation check is configured (it must run on every request)', async () => {
    const tokens = service();
    const token = await tokens.sign({}, { subject: 'u1' });
    const sync = jest.spyOn(tokens, 'tryVerifySync');
    const check = jest.fn(async () => {
      throw new BulwarkTokenError(ErrorCodes.TOKEN_REVOKED, 'revoked');
    });
    const auth = new BearerAuthenticator({ tokens, revocation: { check }, now: () => T0 });
    expect(auth.immediatePrincipal(`Bearer ${token}`)).toBeUndefined();
    expect(sync).not.toHaveBeenCalled();
    await expect(auth.authenticate(`Bearer ${token}`)).rejects.toMatchObject({
      code: ErrorCodes.TOKEN_REVOKED,
    });
    expect(check).toHaveBeenCalledTimes(1);
  });

  it('a principal option that throws or gives no subject: left to authenticate(), which reports it', async () => {
    const tokens = service();
    const token = await tokens.sign({}, { subject: 'u1' });
    const noSubject = new BearerAuthenticator({
      tokens,
      cacheTtlSec: 0,
      principal: (claims) => ({ id: '', roles: [], type: 'user', claims }),
    });
    expect(noSubject.immediatePrincipal(`Bearer ${token}`)).toBeUndefined();
    await expect(noSubject.authenticate(`Bearer ${token}`)).rejects.toMatchObject({
      code: ErrorCodes.TOKEN_CLAIM_INVALID,
    });
    const throwing = new BearerAuthenticator({
      tokens,
      cacheTtlSec: 0,
      principal: () => {
        throw new Error('mapping failed');
      },
    });
    expect(throwing.immediatePrincipal(`Bearer ${token}`)).toBeUndefined();
    await expect(throwing.authenticate(`Bearer ${token}`)).rejects.toThrow('mapping failed');
  });

  it('a verifier without tryVerifySync (a hand-made wrapper) is always awaited', async () => {
    const tokens = service();
    const token = await tokens.sign({}, { subject: 'u1' });
    const auth = new BearerAuthenticator({ tokens: { verify: (t) => tokens.verify(t) }, cacheTtlSec: 0 });
    expect(auth.immediatePrincipal(`Bearer ${token}`)).toBeUndefined();
    await expect(auth.authenticate(`Bearer ${token}`)).resolves.toMatchObject({ id: 'u1' });
    expect(
      () => new BearerAuthenticator({ tokens: { verify: tokens.verify, tryVerifySync: 1 as never } }),
    ).toThrow(/tryVerifySync/);
  });

  it('with the fast path switched off (jose alone), nothing is answered synchronously', async () => {
    const tokens = service();
    const token = await tokens.sign({}, { subject: 'u1' });
    plainJwsFastPath.enabled = false;
    expect(tokens.tryVerifySync(token)).toBeUndefined();
    const auth = new BearerAuthenticator({ tokens, cacheTtlSec: 0 });
    expect(auth.immediatePrincipal(`Bearer ${token}`)).toBeUndefined();
  });
});
