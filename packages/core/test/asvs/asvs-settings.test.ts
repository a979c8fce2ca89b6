import { randomBytes } from 'node:crypto';
import { BulwarkMfaError, BulwarkTokenError, ErrorCodes } from '../../src/errors';
import { base32Decode } from '../../src/mfa/base32';
import { MemoryMfaStore } from '../../src/mfa/memory-mfa-store';
import { totpCode, totpStep } from '../../src/mfa/totp-code';
import { TotpFactor } from '../../src/mfa/totp-factor';
import { TokenService } from '../../src/tokens/token-service';

// The settings docs/asvs.md names for requirements met "with a documented option": they do what
// the document says.

describe('ASVS V6.5.5: TOTP window: 0 accepts only the current 30-second step', () => {
  it('refuses the previous and next step codes that the default window of 1 accepts', async () => {
    let now = Date.parse('2025-06-02T10:00:00.000Z');
    const clock = (): Date => new Date(now);
    const codeAt = (secret: string, ms: number): Promise<string> =>
      Promise.resolve(totpCode(base32Decode(secret)!, totpStep(ms, 30), 'sha1', 6));
    const totp = new TotpFactor({
      store: new MemoryMfaStore(),
      issuer: 'ACME',
      allowPlaintextSecrets: true,
      clock,
      window: 0,
    });
    const { secret } = await totp.enroll('u1', { label: 'alice@example.com' });
    await totp.confirm('u1', await codeAt(secret, now));
    now += 10 * 30_000;
    for (const offset of [-30_000, 30_000]) {
      const error = await totp.verify('u1', await codeAt(secret, now + offset)).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(BulwarkMfaError);
      expect((error as BulwarkMfaError).code).toBe(ErrorCodes.MFA_INVALID_CODE);
    }
    await expect(totp.verify('u1', await codeAt(secret, now))).resolves.toMatchObject({ method: 'totp' });
  });
});

describe("ASVS V9.2.2: typ: 'at+jwt' (RFC 9068) keeps other tokens of the same issuer out", () => {
  it('refuses a token of the same key and issuer typed JWT (an ID token, say) where an access token is expected', async () => {
    const key = randomBytes(32);
    const base = {
      algorithms: ['HS256'] as const,
      signingKey: { key },
      issuer: 'https://id.example',
      audience: 'api',
    };
    const accessTokens = new TokenService({ ...base, algorithms: ['HS256'], typ: 'at+jwt' });
    const otherTokens = new TokenService({ ...base, algorithms: ['HS256'] });
    const access = await accessTokens.sign({}, { subject: 'u' });
    await expect(accessTokens.verify(access)).resolves.toMatchObject({ protectedHeader: { typ: 'at+jwt' } });
    const other = await otherTokens.sign({}, { subject: 'u' });
    const error = await accessTokens.verify(other).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(BulwarkTokenError);
  });
});
