import { BulwarkTokenError, ErrorCodes } from '../../src/errors';
import { BearerAuthenticator } from '../../src/http/bearer-authenticator';
import { problemFor } from '../../src/http/problem-details';
import { MfaPolicy } from '../../src/mfa/mfa-policy';
import { tokenAuthentication } from '../../src/http/token-authentication';
import type { TokenClaims } from '../../src/tokens/token-service';

const claims = (extra: Record<string, unknown>): TokenClaims => ({ sub: 'u1', ...extra }) as TokenClaims;

describe('tokenAuthentication (auth_time / amr claims -> principal.authentication)', () => {
  it('maps RFC 8176 amr values to factor names, times from auth_time', () => {
    expect(tokenAuthentication(claims({ amr: ['pwd', 'otp'], auth_time: 1_700_000_000 }))).toEqual({
      method: 'bearer',
      at: 1_700_000_000_000,
      factors: ['password', 'otp', 'federated-mfa'],
      mfaAt: 1_700_000_000_000,
    });
    expect(tokenAuthentication(claims({ amr: ['hwk', 'user', 'sms'], auth_time: 1 }))?.factors).toEqual([
      'webauthn',
      'user',
      'sms',
    ]);
  });

  it('has no mfaAt for a password alone, and no recency without auth_time', () => {
    expect(tokenAuthentication(claims({ amr: ['pwd'], auth_time: 5 }))).not.toHaveProperty('mfaAt');
    expect(tokenAuthentication(claims({ amr: ['pwd', 'otp'] }))).toEqual({
      method: 'bearer',
      at: 0,
      factors: ['password', 'otp'],
    });
  });

  it('counts one factor (a lone otp or sms) or a second-factor name the token spells as no MFA', () => {
    for (const amr of [['otp'], ['sms'], ['totp'], ['webauthn'], ['federated-mfa'], ['pwd', 'sms-otp']]) {
      const auth = tokenAuthentication(claims({ amr, auth_time: 1_700_000_000 }))!;
      expect(auth).not.toHaveProperty('mfaAt');
      expect(
        new MfaPolicy({ requiredFor: ['*'] }).evaluatePrincipal({ roles: [], authentication: auth }).reason,
      ).toBe('missing');
    }
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
        verify: async () =>
          ({ payload: claims({ roles: ['a'], amr: ['swk', 'fpt'], auth_time: 10 }) }) as never,
      },
    });
    const principal = await auth.authenticate('Bearer abc.def.ghi');
    expect(principal?.authentication).toMatchObject({
      method: 'bearer',
      factors: ['webauthn', 'fpt', 'federated-mfa'],
      mfaAt: 10_000,
    });
  });

  it("answers a custom verifier's foreign error as a refused token (401), never a 500", async () => {
    const auth = new BearerAuthenticator({
      tokens: {
        verify: async () => {
          throw new TypeError('Invalid Token or Protected Header formatting');
        },
      },
    });
    const refused = await auth.authenticate('Bearer abc').then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(refused).toBeInstanceOf(BulwarkTokenError);
    expect(refused).toMatchObject({ code: ErrorCodes.TOKEN_MALFORMED });
    expect((refused as Error).message).not.toMatch(/Protected Header/);
    expect(problemFor(refused).status).toBe(401);
  });
});
