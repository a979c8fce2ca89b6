import { randomBytes } from 'node:crypto';
import { SignJWT, decodeProtectedHeader } from 'jose';
import { BulwarkConfigError, BulwarkTokenError, ErrorCodes } from '../../src/errors';
import { ComplianceKit } from '../../src/compliance/compliance-kit';
import { ComplianceReport } from '../../src/compliance/compliance-report';
import { problemFor } from '../../src/http/problem-details';
import { TokenService } from '../../src/tokens/token-service';

// An existing app's HS256 secret is often shorter than RFC 7518 §3.2's 32 bytes. It is refused
// unless named (`legacyAlgorithms: ['HMAC-SHORT-SECRET']`), and then warned about once, without
// the secret, and reported by `legacyInUse` for compliance evidence.

const WEAK = 'changeme-legacy-2019'; // 20 bytes: what the app shipped with
const legacyToken = (secret: string | Buffer = WEAK, claims: Record<string, unknown> = {}) =>
  new SignJWT({ roles: ['staff'], ...claims })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('u-17')
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign(typeof secret === 'string' ? Buffer.from(secret) : secret);

describe('HMAC secrets shorter than 32 bytes', () => {
  it('are refused by default, for signing and for verification, naming the opt-in', () => {
    for (const options of [
      { signingKey: { key: Buffer.from(WEAK) } },
      { verification: { key: Buffer.from(WEAK) } },
    ]) {
      let error: unknown;
      try {
        new TokenService({ algorithms: ['HS256'], ...options });
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(BulwarkConfigError);
      expect((error as Error).message).toMatch(/shorter than 32 bytes/);
    }
  });

  it('are accepted with the named opt-in, with one warning that never holds the secret', async () => {
    const warnings: string[] = [];
    const tokens = new TokenService({
      algorithms: ['HS256'],
      legacyAlgorithms: ['HMAC-SHORT-SECRET'],
      verification: { key: Buffer.from(WEAK) },
      onWarning: (m) => warnings.push(m),
    });
    expect((await tokens.verify(await legacyToken())).payload.sub).toBe('u-17');
    await tokens.verify(await legacyToken());
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/HMAC-SHORT-SECRET/);
    expect(warnings[0]).toMatch(/Rotate/);
    expect(warnings[0]).not.toContain(WEAK);
    expect(warnings[0]).not.toContain(Buffer.from(WEAK).toString('base64'));
    expect(tokens.legacyInUse).toEqual(['HMAC-SHORT-SECRET']);
    // Still a real check: another secret, or an empty one, does not pass.
    await expect(tokens.verify(await legacyToken('changeme-legacY'))).rejects.toBeInstanceOf(
      BulwarkTokenError,
    );
    expect(
      () =>
        new TokenService({
          algorithms: ['HS256'],
          legacyAlgorithms: ['HMAC-SHORT-SECRET'],
          verification: { key: Buffer.alloc(0) },
        }),
    ).toThrow(BulwarkConfigError);
  });

  it('only to verify: new tokens are never signed with a short secret, opt-in or not', () => {
    let error: unknown;
    try {
      new TokenService({
        algorithms: ['HS256'],
        legacyAlgorithms: ['HMAC-SHORT-SECRET'],
        signingKey: { key: Buffer.from(WEAK) },
        onWarning: () => undefined,
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(BulwarkConfigError);
    expect((error as BulwarkConfigError).code).toBe(ErrorCodes.CONFIG_INVALID);
    expect((error as Error).message).toMatch(/never signed/);
    expect((error as Error).message).not.toContain(WEAK);
  });

  it('keeps a floor of 16 bytes: a shorter secret is refused even with the opt-in', () => {
    for (const secret of ['changeme', 'changeme-legacy' /* 15 bytes */]) {
      let error: unknown;
      try {
        new TokenService({
          algorithms: ['HS256'],
          legacyAlgorithms: ['HMAC-SHORT-SECRET'],
          verification: { key: Buffer.from(secret) },
          onWarning: () => undefined,
        });
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(BulwarkConfigError);
      expect((error as Error).message).toMatch(/shorter than 16 bytes/);
      expect((error as Error).message).not.toContain(secret);
    }
    // 16 bytes is the floor itself: accepted.
    expect(
      new TokenService({
        algorithms: ['HS256'],
        legacyAlgorithms: ['HMAC-SHORT-SECRET'],
        verification: { key: Buffer.from('changeme-legacy!') },
        onWarning: () => undefined,
      }).legacyInUse,
    ).toEqual(['HMAC-SHORT-SECRET']);
  });

  it('only for HS256, and the opt-in alone reports nothing when the secret is strong', () => {
    const warnings: string[] = [];
    const strong = new TokenService({
      algorithms: ['HS256'],
      legacyAlgorithms: ['HMAC-SHORT-SECRET'],
      signingKey: { key: randomBytes(32) },
      onWarning: (m) => warnings.push(m),
    });
    expect(strong.legacyInUse).toEqual([]);
    expect(warnings).toEqual([]);
    expect(
      () =>
        new TokenService({
          algorithms: ['HS512'],
          legacyAlgorithms: ['HMAC-SHORT-SECRET'],
          verification: { key: Buffer.from(WEAK) },
          onWarning: () => undefined,
        }),
    ).toThrow(/none of which is in algorithms/);
  });

  it('rotates by key id: new tokens under a strong secret, old ones accepted for their lifetime', async () => {
    const strongSecret = randomBytes(32);
    const current = new TokenService({
      algorithms: ['HS256'],
      signingKey: { key: strongSecret, kid: '2026-12' },
    });
    const legacy = new TokenService({
      algorithms: ['HS256'],
      legacyAlgorithms: ['HMAC-SHORT-SECRET'],
      verification: { key: Buffer.from(WEAK) },
      onWarning: () => undefined,
    });
    // The recipe of docs/adopting.md: the kid picks the key; tokens without it are the old ones.
    const pick = (token: string): TokenService => {
      try {
        return decodeProtectedHeader(token).kid === '2026-12' ? current : legacy;
      } catch {
        return current; // not a JWT at all: current.verify() refuses it as ERR_TOKEN_MALFORMED
      }
    };
    const tokens = { verify: (token: string) => pick(token).verify(token) };
    const fresh = await current.sign({ roles: ['staff'] }, { subject: 'u-17' });
    expect(decodeProtectedHeader(fresh).kid).toBe('2026-12');
    expect((await tokens.verify(fresh)).payload.sub).toBe('u-17');
    expect((await tokens.verify(await legacyToken())).payload.sub).toBe('u-17');
    // A forger who guessed the weak secret cannot claim the new kid.
    const forged = await new SignJWT({ roles: ['admin'] })
      .setProtectedHeader({ alg: 'HS256', kid: '2026-12' })
      .setSubject('u-1')
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(Buffer.from(WEAK));
    await expect(tokens.verify(forged)).rejects.toMatchObject({ code: ErrorCodes.TOKEN_SIGNATURE_INVALID });
    // Anything that is not a JWT is Bulwark's typed token error, so the adapters answer 401, never 500.
    for (const garbage of ['abc', 'a.b.c', '..', 'eyJ.e30.x', '']) {
      const refused = await tokens.verify(garbage).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(refused).toBeInstanceOf(BulwarkTokenError);
      expect(refused).toMatchObject({ code: ErrorCodes.TOKEN_MALFORMED });
      expect(problemFor(refused)).toMatchObject({ status: 401, body: { code: ErrorCodes.TOKEN_INVALID } });
    }
  });

  it('fail the compliance token-key control, naming the remedy; a strong secret passes it', async () => {
    const control = async (tokens: TokenService) => {
      const result = await new ComplianceReport(new ComplianceKit().register({ tokens })).run('iso27001');
      return result.controls.find((c) => c.id === 'iso27001-a8.24-token-keys')!;
    };
    const weak = await control(
      new TokenService({
        algorithms: ['HS256'],
        legacyAlgorithms: ['HMAC-SHORT-SECRET'],
        verification: { key: Buffer.from(WEAK) },
        onWarning: () => undefined,
      }),
    );
    expect(weak.status).toBe('fail');
    expect(weak.summary).toMatch(/shorter than 32 bytes/);
    expect(JSON.stringify(weak)).toMatch(/Rotate to a 32-byte random secret/);
    expect(JSON.stringify(weak)).not.toContain(WEAK);
    const strong = await control(
      new TokenService({ algorithms: ['HS256'], signingKey: { key: randomBytes(32) } }),
    );
    expect(strong.status).toBe('pass');
  });
});
