import { BearerAuthenticator } from '../../src/http/bearer-authenticator';
import { tokenAuthentication } from '../../src/http/token-authentication';
import type { TokenClaims } from '../../src/tokens/token-service';

const claims = (extra: Record<string, unknown>): TokenClaims => ({ sub: 'u1', ...extra }) as TokenClaims;

describe('tokenAuthentication (auth_time / amr claims -> principal.authentication)', () => {
  it('maps RFC 8176 amr values to factor names, times from auth_time', () => {
    expect(tokenAuthentication(claims({ amr: ['pwd', 'otp'], auth_time: 1_700_000_000 }))).toEqual({
      method: 'bearer',
      at: 1_700_000_000_000,
      factors: ['password', 'totp'],
      mfaAt: 1_700_000_000_000,
    });
    expect(tokenAuthentication(claims({ amr: ['hwk', 'user', 'sms'], auth_time: 1 }))?.factors).toEqual([
      'webauthn',
      'user',
      'sms-otp',
    ]);
  });

  it('has no mfaAt for a password alone, and no recency without auth_time', () => {
    expect(tokenAuthentication(claims({ amr: ['pwd'], auth_time: 5 }))).not.toHaveProperty('mfaAt');
    expect(tokenAuthentication(claims({ amr: ['pwd', 'otp'] }))).toEqual({
      method: 'bearer',
      at: 0,
      factors: ['password', 'totp'],
    });
  });

  it('is absent without either claim, and ignores malformed values', () => {
    expect(tokenAuthentication(claims({}))).toBeUndefined();
    expect(tokenAuthentication(claims({ amr: 'pwd otp' }))).toBeUndefined();
    expect(tokenAuthentication(claims({ auth_time: '1700000000' }))).toBeUndefined();
    expect(tokenAuthentication(claims({ amr: [42, 'a b', 'x'.repeat(100), 'pwd'], auth_time: -1 }))).toEqual({
      method: 'bearer',
      at: 0,
      factors: ['password'],
    });
  });

  it('is set on the default bearer principal', async () => {
    const auth = new BearerAuthenticator({
      tokens: {
        verify: async () => ({ payload: claims({ roles: ['a'], amr: ['swk'], auth_time: 10 }) }) as never,
      },
    });
    const principal = await auth.authenticate('Bearer abc.def.ghi');
    expect(principal?.authentication).toMatchObject({
      method: 'bearer',
      factors: ['webauthn'],
      mfaAt: 10_000,
    });
  });
});
