import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BulwarkConfigError, BulwarkTokenError, ErrorCodes } from '../../src/errors';
import { generateSigningKey } from '../../src/tokens/generate-signing-key';
import { jwkThumbprint, publicJwkOf } from '../../src/tokens/token-key';
import { TokenService } from '../../src/tokens/token-service';

// ASVS 5.0 V11.6.1 (no RSA PKCS#1 v1.5 signatures) and V11.2.3 (at least 128-bit security: RSA
// 3072 bits): both are legacy choices a TokenService takes only when the app names them.

function configErrorOf(fn: () => unknown): BulwarkConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(BulwarkConfigError);
    return err as BulwarkConfigError;
  }
  throw new Error('expected a BulwarkConfigError');
}

let rsa2048: { privateKey: KeyObject; publicKey: KeyObject };

beforeAll(() => {
  rsa2048 = generateKeyPairSync('rsa', { modulusLength: 2048 });
});

describe('legacy algorithms are refused unless opted into by name', () => {
  it.each(['RS256', 'RS384', 'RS512'] as const)(
    'refuses %s in the allow-list without legacyAlgorithms',
    (alg) => {
      const err = configErrorOf(
        () => new TokenService({ algorithms: ['PS256', alg], verification: { jwks: { keys: [] } } }),
      );
      expect(err.details).toEqual({ path: 'tokens.algorithms[1]' });
      expect(err.message).toContain(`legacyAlgorithms: ['${alg}']`);
    },
  );

  it('refuses an RSA key under 3072 bits for signing, for verification and in a JWKS, unless RSA-2048 is named', () => {
    const signing = configErrorOf(
      () => new TokenService({ algorithms: ['PS256'], signingKey: { key: rsa2048.privateKey } }),
    );
    expect(signing.details).toEqual({ path: 'tokens.signingKey.key' });
    expect(signing.message).toMatch(/2048-bit RSA key.*RSA-2048/);
    const verifying = configErrorOf(
      () => new TokenService({ algorithms: ['PS256'], verification: { key: rsa2048.publicKey } }),
    );
    expect(verifying.details).toEqual({ path: 'tokens.verification.key' });
    const jwks = configErrorOf(
      () =>
        new TokenService({
          algorithms: ['PS256'],
          verification: { jwks: { keys: [publicJwkOf(rsa2048.publicKey)] } },
        }),
    );
    expect(jwks.details).toEqual({ path: 'tokens.verification.jwks.keys[0]' });
  });

  it('takes the legacy choices when named: RS256 with a 2048-bit key signs and verifies', async () => {
    const tokens = new TokenService({
      algorithms: ['RS256'],
      legacyAlgorithms: ['RS256', 'RSA-2048'],
      signingKey: { key: rsa2048.privateKey },
    });
    await expect(tokens.verify(await tokens.sign({}, { subject: 'u' }))).resolves.toMatchObject({
      protectedHeader: { alg: 'RS256' },
    });
  });

  it('refuses unknown names in legacyAlgorithms', () => {
    for (const bad of [['HS256'], ['none'], 'RS256', [42]]) {
      const err = configErrorOf(
        () =>
          new TokenService({
            algorithms: ['EdDSA'],
            legacyAlgorithms: bad as never,
            verification: { jwks: { keys: [] } },
          }),
      );
      expect(err.details).toEqual({ path: 'tokens.legacyAlgorithms' });
    }
  });

  it('generates 3072-bit RSA keys, which need no opt-in with PS256', async () => {
    const key = await generateSigningKey('PS256');
    expect(key.privateKey.asymmetricKeyDetails?.modulusLength).toBe(3072);
    const tokens = new TokenService({ algorithms: ['PS256'], signingKey: { key: key.privateKey } });
    await expect(tokens.verify(await tokens.sign({}, { subject: 'u' }))).resolves.toBeDefined();
  });
});

describe('a remote JWKS serving an RSA key under 3072 bits', () => {
  let server: Server;
  let url: string;

  beforeAll(async () => {
    const jwk = { ...publicJwkOf(rsa2048.publicKey), kid: jwkThumbprint(rsa2048.privateKey), alg: 'PS256' };
    server = createServer((_req, res) => {
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it('verifies nothing signed with it unless RSA-2048 is named (the key arrives at run time)', async () => {
    const signer = new TokenService({
      algorithms: ['PS256'],
      legacyAlgorithms: ['RSA-2048'],
      signingKey: { key: rsa2048.privateKey },
    });
    const token = await signer.sign({}, { subject: 'u' });
    const strict = new TokenService({
      algorithms: ['PS256'],
      verification: { jwksUrl: url, allowInsecureJwksUrl: true },
    });
    const err = await strict.verify(token).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(BulwarkTokenError);
    expect((err as BulwarkTokenError).code).toBe(ErrorCodes.TOKEN_KEY_NOT_FOUND);
    const optedIn = new TokenService({
      algorithms: ['PS256'],
      legacyAlgorithms: ['RSA-2048'],
      verification: { jwksUrl: url, allowInsecureJwksUrl: true },
    });
    await expect(optedIn.verify(token)).resolves.toMatchObject({ payload: { sub: 'u' } });
  });
});
