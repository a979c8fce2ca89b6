import { randomBytes, webcrypto } from 'node:crypto';
import * as jose from 'jose';
import { ErrorCodes } from '../../src/errors';
import { TokenService } from '../../src/tokens/token-service';
import { expectTokenError, flipChar, hmacToken } from './helpers';

/**
 * An HMAC secret is imported into WebCrypto once, when the service is built: jose re-imports a
 * secret given as a KeyObject or Uint8Array on every call (`importKey('raw', ...)`), which was ~8%
 * of a verification on the HTTP hot path.
 */
describe('TokenService HMAC keys are imported once', () => {
  const secret = randomBytes(48);
  let importKey: jest.SpyInstance;

  beforeEach(() => {
    importKey = jest.spyOn(webcrypto.subtle, 'importKey');
  });
  afterEach(() => importKey.mockRestore());

  it('the spy sees the import jose does per call for a raw secret (control)', async () => {
    const token = await new jose.SignJWT({ sub: 'u' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuedAt()
      .setExpirationTime('1m')
      .sign(secret);
    importKey.mockClear();
    for (let i = 0; i < 3; i++) await jose.jwtVerify(token, secret, { algorithms: ['HS256'] });
    expect(importKey).toHaveBeenCalledTimes(3);
  });

  it('verifies and signs many tokens with the keys imported at construction only', async () => {
    const tokens = new TokenService({ algorithms: ['HS256'], signingKey: { key: secret } });
    // One import to verify, one to sign, both started by the constructor.
    expect(importKey).toHaveBeenCalledTimes(2);
    const usages = importKey.mock.calls.map((call) => call[4]).sort();
    expect(usages).toEqual([['sign'], ['verify']]);
    for (const call of importKey.mock.calls) expect(call[3]).toBe(false); // not extractable

    const issued = await Promise.all(
      Array.from({ length: 5 }, (_, i) => tokens.sign({ roles: ['user'] }, { subject: `user-${i}` })),
    );
    for (const [i, token] of issued.entries()) {
      const { payload } = await tokens.verify(token);
      expect(payload.sub).toBe(`user-${i}`);
    }
    expect(importKey).toHaveBeenCalledTimes(2);
  });

  it('keeps one key per allowed HMAC algorithm, and a token still needs the right one', async () => {
    const tokens = new TokenService({ algorithms: ['HS256', 'HS384'], verification: { key: secret } });
    expect(importKey).toHaveBeenCalledTimes(2);
    const now = Math.floor(Date.now() / 1000);
    const claims = { sub: 'u', iat: now, exp: now + 60 };
    for (const alg of ['HS256', 'HS384']) {
      const token = hmacToken({ alg, typ: 'JWT' }, claims, secret);
      await expect(tokens.verify(token)).resolves.toMatchObject({ protectedHeader: { alg } });
      // A forged signature, another secret, and an algorithm outside the list are still refused.
      await expectTokenError(tokens.verify(flipChar(token)), ErrorCodes.TOKEN_SIGNATURE_INVALID, token);
      await expectTokenError(
        tokens.verify(hmacToken({ alg, typ: 'JWT' }, claims, randomBytes(48))),
        ErrorCodes.TOKEN_SIGNATURE_INVALID,
      );
    }
    await expectTokenError(
      tokens.verify(hmacToken({ alg: 'HS512', typ: 'JWT' }, claims, secret)),
      ErrorCodes.TOKEN_ALGORITHM_NOT_ALLOWED,
    );
    expect(importKey).toHaveBeenCalledTimes(2);
  });

  it('a token verified while the import is still pending waits for it', async () => {
    const tokens = new TokenService({ algorithms: ['HS256'], signingKey: { key: secret } });
    // sign() and verify() both start before either key import has settled.
    const token = await tokens.sign({}, { subject: 'early' });
    const fresh = new TokenService({ algorithms: ['HS256'], signingKey: { key: secret } });
    await expect(fresh.verify(token)).resolves.toMatchObject({ payload: { sub: 'early' } });
  });
});
