import { createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import * as jose from 'jose';
import { BulwarkConfigError, ErrorCodes } from '../../src/errors';
import { generateSigningKey, type GeneratedSigningKey } from '../../src/tokens/generate-signing-key';
import { TokenService, type TokenServiceOptions } from '../../src/tokens/token-service';
import { b64url, expectTokenError, flipChar, hmacToken, unsecuredToken } from './helpers';

const ISSUER = 'https://auth.example.test';
const AUDIENCE = 'api.example.test';
const T0 = new Date('2030-01-01T00:00:00Z');
const at = (secondsFromT0: number) => () => new Date(T0.getTime() + secondsFromT0 * 1000);
const nowSec = () => Math.floor(Date.now() / 1000);

let ed: GeneratedSigningKey;
let ed2: GeneratedSigningKey;
let es: GeneratedSigningKey;
let rsa: GeneratedSigningKey;
const secret = randomBytes(32);

beforeAll(async () => {
  [ed, ed2, es, rsa] = await Promise.all([
    generateSigningKey('EdDSA'),
    generateSigningKey('EdDSA'),
    generateSigningKey('ES256'),
    generateSigningKey('RS256'),
  ]);
});

function service(overrides: Partial<TokenServiceOptions> = {}): TokenService {
  return new TokenService({
    algorithms: ['EdDSA'],
    signingKey: { key: ed.privateKey, kid: ed.kid },
    issuer: ISSUER,
    audience: AUDIENCE,
    ...overrides,
  });
}

function configErrorOf(fn: () => unknown): BulwarkConfigError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(BulwarkConfigError);
    return e as BulwarkConfigError;
  }
  throw new Error('expected a BulwarkConfigError');
}

describe('TokenService round trips', () => {
  it('EdDSA: signs and verifies, with iss/aud/sub/iat/exp/jti and kid/typ headers', async () => {
    const tokens = service();
    const token = await tokens.sign({ role: 'admin' }, { subject: 'user-1' });
    const { payload, protectedHeader } = await tokens.verify(token);
    expect(protectedHeader).toEqual({ alg: 'EdDSA', typ: 'JWT', kid: ed.kid });
    expect(payload).toMatchObject({ role: 'admin', sub: 'user-1', iss: ISSUER, aud: AUDIENCE });
    expect(payload.exp! - payload.iat!).toBe(900);
    expect(Math.abs(payload.iat! - nowSec())).toBeLessThanOrEqual(2);
    expect(payload.jti).toMatch(/^[0-9a-f-]{36}$/);
    // Each token gets its own jti.
    expect((await tokens.verify(await tokens.sign({}, { subject: 'user-1' }))).payload.jti).not.toBe(
      payload.jti,
    );
  });

  it('ES256 with WebCrypto CryptoKeys (jose.generateKeyPair) and a verify-only service using the public key', async () => {
    const { privateKey, publicKey } = await jose.generateKeyPair('ES256');
    const signer = new TokenService({ algorithms: ['ES256'], signingKey: { key: privateKey, kid: 'es-1' } });
    const verifier = new TokenService({ algorithms: ['ES256'], verification: { key: publicKey } });
    const token = await signer.sign({ scope: 'read' }, { subject: 'svc', ttlSec: 60 });
    const { payload, protectedHeader } = await verifier.verify(token);
    expect(protectedHeader.alg).toBe('ES256');
    expect(protectedHeader.kid).toBe('es-1');
    expect(payload.scope).toBe('read');
    expect(payload.exp! - payload.iat!).toBe(60);
  });

  it('ES256 with KeyObjects, PEM strings and JWKs as key input', async () => {
    const pem = es.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    const signer = new TokenService({ algorithms: ['ES256'], signingKey: { key: pem } });
    expect(signer.signingAlgorithm).toEqual({ alg: 'ES256', kid: es.kid }); // default kid = RFC 7638 thumbprint
    const token = await signer.sign({}, { subject: 'u' });
    const viaJwk = new TokenService({ algorithms: ['ES256'], verification: { key: es.publicJwk } });
    const viaPem = new TokenService({
      algorithms: ['ES256'],
      verification: { key: es.publicKey.export({ format: 'pem', type: 'spki' }).toString() },
    });
    await expect(viaJwk.verify(token)).resolves.toMatchObject({ payload: { sub: 'u' } });
    await expect(viaPem.verify(token)).resolves.toMatchObject({ payload: { sub: 'u' } });
  });

  it('HS256 with a 32-byte secret', async () => {
    const tokens = new TokenService({ algorithms: ['HS256'], signingKey: { key: secret, kid: 'hmac-1' } });
    const token = await tokens.sign({}, { subject: 'u' });
    const { protectedHeader } = await tokens.verify(token);
    expect(protectedHeader).toEqual({ alg: 'HS256', typ: 'JWT', kid: 'hmac-1' });
    // Another secret does not verify it.
    const other = new TokenService({ algorithms: ['HS256'], verification: { key: randomBytes(32) } });
    await expectTokenError(other.verify(token), ErrorCodes.TOKEN_SIGNATURE_INVALID, token);
  });

  it('RS256 (opted into by name) and PS256 with a 3072-bit RSA key', async () => {
    for (const alg of ['RS256', 'PS256'] as const) {
      const tokens = new TokenService({
        algorithms: [alg],
        legacyAlgorithms: ['RS256'],
        signingKey: { key: rsa.privateKey },
      });
      const token = await tokens.sign({}, { subject: 'u' });
      await expect(tokens.verify(token)).resolves.toMatchObject({ protectedHeader: { alg } });
    }
  });

  it('an audience list accepts a token for any listed audience', async () => {
    const signer = service({ audience: 'reports' });
    const verifier = service({ audience: ['api', 'reports'] });
    await expect(verifier.verify(await signer.sign({}, { subject: 'u' }))).resolves.toBeDefined();
    const wrong = await signer.sign({}, { subject: 'u', audience: 'billing' });
    const err = await expectTokenError(verifier.verify(wrong), ErrorCodes.TOKEN_CLAIM_INVALID, wrong);
    expect(err.details).toMatchObject({ claim: 'aud' });
  });
});

describe('TokenService rejects forged and tampered tokens', () => {
  it('rejects alg "none" tokens (any spelling, with or without a signature segment)', async () => {
    const tokens = service();
    const payload = { sub: 'admin', iss: ISSUER, aud: AUDIENCE, iat: nowSec(), exp: nowSec() + 600 };
    for (const alg of ['none', 'None', 'NONE']) {
      const token = unsecuredToken(payload, alg);
      const err = await expectTokenError(tokens.verify(token), ErrorCodes.TOKEN_ALGORITHM_NOT_ALLOWED, token);
      expect(err.details).toEqual({ alg });
      await expectTokenError(tokens.verify(token + 'c2ln'), ErrorCodes.TOKEN_ALGORITHM_NOT_ALLOWED);
    }
  });

  it('rejects a token signed with an algorithm outside the allow-list', async () => {
    // A genuine ES256 token, but the service only allows EdDSA.
    const esSigner = new TokenService({ algorithms: ['ES256'], signingKey: { key: es.privateKey } });
    const esToken = await esSigner.sign({}, { subject: 'u' });
    const edOnly = new TokenService({
      algorithms: ['EdDSA'],
      verification: { jwks: { keys: [ed.publicJwk, es.publicJwk] } },
    });
    const err = await expectTokenError(
      edOnly.verify(esToken),
      ErrorCodes.TOKEN_ALGORITHM_NOT_ALLOWED,
      esToken,
    );
    expect(err.details).toEqual({ alg: 'ES256' });

    // Same RSA key, but the allow-list names PS256 only: an RS256 signature is refused.
    const rs = await new TokenService({
      algorithms: ['RS256'],
      legacyAlgorithms: ['RS256'],
      signingKey: { key: rsa.privateKey },
    }).sign({}, { subject: 'u' });
    const psOnly = new TokenService({ algorithms: ['PS256'], verification: { key: rsa.publicKey } });
    await expectTokenError(psOnly.verify(rs), ErrorCodes.TOKEN_ALGORITHM_NOT_ALLOWED, rs);
  });

  it('rejects HS256 tokens forged with the public key as the HMAC secret (algorithm confusion)', async () => {
    const payload = { sub: 'admin', iat: nowSec(), exp: nowSec() + 600 };
    const spki = rsa.publicKey.export({ format: 'pem', type: 'spki' }).toString();
    const forgeries = [
      hmacToken({ alg: 'HS256', typ: 'JWT' }, payload, spki),
      hmacToken({ alg: 'HS256', typ: 'JWT' }, payload, JSON.stringify(rsa.publicJwk)),
      hmacToken({ alg: 'HS256', typ: 'JWT' }, payload, rsa.publicKey.export({ format: 'der', type: 'spki' })),
    ];
    const strict = new TokenService({
      algorithms: ['RS256'],
      legacyAlgorithms: ['RS256'],
      verification: { key: rsa.publicKey },
    });
    // Even when a mixed allow-list is explicitly permitted, an RSA key is never used as an HMAC
    // secret: the allow-list is narrowed to the key's own family.
    const mixed = new TokenService({
      algorithms: ['RS256', 'HS256'],
      legacyAlgorithms: ['RS256'],
      allowMixedAlgorithmFamilies: true,
      verification: { key: spki },
    });
    const mixedJwks = new TokenService({
      algorithms: ['RS256', 'HS256'],
      legacyAlgorithms: ['RS256'],
      allowMixedAlgorithmFamilies: true,
      verification: { jwks: { keys: [rsa.publicJwk] } },
    });
    for (const forged of forgeries) {
      await expectTokenError(strict.verify(forged), ErrorCodes.TOKEN_ALGORITHM_NOT_ALLOWED, forged);
      await expectTokenError(mixed.verify(forged), ErrorCodes.TOKEN_ALGORITHM_NOT_ALLOWED, forged);
      // A JWKS only ever serves asymmetric algorithms.
      await expectTokenError(mixedJwks.verify(forged), ErrorCodes.TOKEN_ALGORITHM_NOT_ALLOWED, forged);
    }
    // Sanity: the genuine RS256 token passes both.
    const genuine = await new TokenService({
      algorithms: ['RS256'],
      legacyAlgorithms: ['RS256'],
      signingKey: { key: rsa.privateKey },
    }).sign({}, { subject: 'u' });
    await expect(strict.verify(genuine)).resolves.toBeDefined();
    await expect(mixed.verify(genuine)).resolves.toBeDefined();
  });

  it('rejects a tampered payload, header or signature', async () => {
    const tokens = service();
    const token = await tokens.sign({ role: 'user' }, { subject: 'user-1' });
    const [h, p, s] = token.split('.');
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
    const elevated = `${h}.${b64url({ ...claims, role: 'admin' })}.${s}`;
    await expectTokenError(tokens.verify(elevated), ErrorCodes.TOKEN_SIGNATURE_INVALID, elevated);
    const badSig = `${h}.${p}.${flipChar(s)}`;
    await expectTokenError(tokens.verify(badSig), ErrorCodes.TOKEN_SIGNATURE_INVALID, badSig);
    const otherHeader = `${b64url({ alg: 'EdDSA', typ: 'JWT', kid: 'other' })}.${p}.${s}`;
    await expectTokenError(tokens.verify(otherHeader), ErrorCodes.TOKEN_SIGNATURE_INVALID, otherHeader);
    // A token from another key of the same algorithm.
    const foreign = await service({ signingKey: { key: ed2.privateKey } }).sign({}, { subject: 'user-1' });
    await expectTokenError(tokens.verify(foreign), ErrorCodes.TOKEN_SIGNATURE_INVALID, foreign);
  });

  it('rejects a JWE and unknown critical header extensions', async () => {
    const tokens = service();
    await expectTokenError(tokens.verify('a.b.c.d.e'), ErrorCodes.TOKEN_MALFORMED);
    const crit = await new jose.SignJWT({ sub: 'u', iss: ISSUER, aud: AUDIENCE })
      .setProtectedHeader({ alg: 'EdDSA', crit: ['x-bulwark-unknown'], 'x-bulwark-unknown': true })
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(ed.privateKey, { crit: { 'x-bulwark-unknown': true } });
    await expectTokenError(tokens.verify(crit), ErrorCodes.TOKEN_MALFORMED, crit);
  });
});

describe('TokenService time and claim checks', () => {
  it('expired tokens are rejected, within clock tolerance they pass', async () => {
    const signer = service({ clock: at(0) });
    const token = await signer.sign({}, { subject: 'u', ttlSec: 60 });
    await expect(service({ clock: at(60 + 4) }).verify(token)).resolves.toBeDefined(); // 5 s tolerance
    const err = await expectTokenError(
      service({ clock: at(60 + 6) }).verify(token),
      ErrorCodes.TOKEN_EXPIRED,
      token,
    );
    expect(err.details).toMatchObject({ claim: 'exp' });
    await expectTokenError(
      service({ clock: at(60), clockToleranceSec: 0 }).verify(token),
      ErrorCodes.TOKEN_EXPIRED,
    );
  });

  it('tokens are not valid before nbf, nor when issued in the future', async () => {
    const token = await service({ clock: at(0) }).sign({}, { subject: 'u', notBeforeSec: 120 });
    const early = await expectTokenError(
      service({ clock: at(60) }).verify(token),
      ErrorCodes.TOKEN_NOT_YET_VALID,
      token,
    );
    expect(early.details).toMatchObject({ claim: 'nbf' });
    await expect(service({ clock: at(120) }).verify(token)).resolves.toBeDefined();

    const future = await service({ clock: at(3600) }).sign({}, { subject: 'u', ttlSec: 7200 });
    const err = await expectTokenError(
      service({ clock: at(0) }).verify(future),
      ErrorCodes.TOKEN_NOT_YET_VALID,
    );
    expect(err.details).toMatchObject({ claim: 'iat' });
    await expectTokenError(
      service({ clock: at(0), maxTokenAgeSec: 600 }).verify(future),
      ErrorCodes.TOKEN_NOT_YET_VALID,
    );
  });

  it('maxTokenAgeSec caps token age whatever exp says', async () => {
    const token = await service({ clock: at(0) }).sign({}, { subject: 'u', ttlSec: 86400 });
    await expect(service({ clock: at(50), maxTokenAgeSec: 60 }).verify(token)).resolves.toBeDefined();
    await expectTokenError(
      service({ clock: at(120), maxTokenAgeSec: 60 }).verify(token),
      ErrorCodes.TOKEN_EXPIRED,
    );
  });

  it('a wrong issuer or audience is rejected with the claim named', async () => {
    const token = await service().sign({}, { subject: 'u' });
    const iss = await expectTokenError(
      service({ issuer: 'https://evil.test' }).verify(token),
      ErrorCodes.TOKEN_CLAIM_INVALID,
      token,
    );
    expect(iss.details).toMatchObject({ claim: 'iss' });
    const aud = await expectTokenError(
      service({ audience: 'other-api' }).verify(token),
      ErrorCodes.TOKEN_CLAIM_INVALID,
      token,
    );
    expect(aud.details).toMatchObject({ claim: 'aud' });
    // A token without iss/aud fails a service that expects them.
    const bare = await service({ issuer: undefined, audience: undefined }).sign({}, { subject: 'u' });
    const missing = await expectTokenError(service().verify(bare), ErrorCodes.TOKEN_CLAIM_INVALID, bare);
    expect(missing.details).toMatchObject({ reason: 'missing' });
  });

  it('required claims: sub, iat and exp by default; exp even when a custom list omits it', async () => {
    const tokens = service();
    const build = (claims: Record<string, unknown>) =>
      new jose.SignJWT({ iss: ISSUER, aud: AUDIENCE, ...claims })
        .setProtectedHeader({ alg: 'EdDSA' })
        .sign(ed.privateKey);
    const t = nowSec();
    for (const [claim, token] of [
      ['sub', await build({ iat: t, exp: t + 60 })],
      ['iat', await build({ sub: 'u', exp: t + 60 })],
      ['exp', await build({ sub: 'u', iat: t })],
    ] as const) {
      const err = await expectTokenError(tokens.verify(token), ErrorCodes.TOKEN_CLAIM_INVALID, token);
      expect(err.details).toEqual({ claim, reason: 'missing' });
    }
    const custom = service({ requiredClaims: ['tenant'] });
    const noExp = await build({ sub: 'u', iat: t, tenant: 't1' });
    await expectTokenError(custom.verify(noExp), ErrorCodes.TOKEN_CLAIM_INVALID, noExp);
    const noTenant = await build({ iat: t, exp: t + 60 });
    await expectTokenError(custom.verify(noTenant), ErrorCodes.TOKEN_CLAIM_INVALID, noTenant);
    await expect(custom.verify(await build({ iat: t, exp: t + 60, tenant: 't1' }))).resolves.toBeDefined();
  });

  it('claims of the wrong type are rejected (sub null, exp as a string)', async () => {
    const tokens = service();
    const t = nowSec();
    const build = (claims: Record<string, unknown>) =>
      new jose.SignJWT({ iss: ISSUER, aud: AUDIENCE, ...claims })
        .setProtectedHeader({ alg: 'EdDSA' })
        .sign(ed.privateKey);
    await expectTokenError(
      tokens.verify(await build({ sub: null, iat: t, exp: t + 60 })),
      ErrorCodes.TOKEN_CLAIM_INVALID,
    );
    await expectTokenError(
      tokens.verify(await build({ sub: 42, iat: t, exp: t + 60 })),
      ErrorCodes.TOKEN_CLAIM_INVALID,
    );
    await expectTokenError(
      tokens.verify(await build({ sub: 'u', iat: t, exp: String(t + 60) })),
      ErrorCodes.TOKEN_CLAIM_INVALID,
    );
  });

  it('typ: when configured it is issued and required', async () => {
    const at = service({ typ: 'at+jwt' });
    const token = await at.sign({}, { subject: 'u' });
    expect((await at.verify(token)).protectedHeader.typ).toBe('at+jwt');
    const plain = await service().sign({}, { subject: 'u' }); // typ JWT
    const err = await expectTokenError(at.verify(plain), ErrorCodes.TOKEN_CLAIM_INVALID, plain);
    expect(err.details).toMatchObject({ claim: 'typ' });
  });
});

describe('TokenService.sign input checks', () => {
  it('refuses to issue a token missing a required claim, or overriding registered claims', async () => {
    const tokens = service();
    await expectTokenError(tokens.sign({ role: 'x' }), ErrorCodes.TOKEN_CLAIM_INVALID);
    for (const claim of ['iss', 'aud', 'exp', 'nbf', 'iat', 'jti']) {
      const err = await expectTokenError(
        tokens.sign({ [claim]: 1 }, { subject: 'u' }),
        ErrorCodes.TOKEN_CLAIM_INVALID,
      );
      expect(err.details).toEqual({ claim });
    }
    await expectTokenError(tokens.sign({}, { subject: 'u', ttlSec: 0 }), ErrorCodes.TOKEN_CLAIM_INVALID);
    await expectTokenError(tokens.sign({}, { subject: 'u', ttlSec: 1.5 }), ErrorCodes.TOKEN_CLAIM_INVALID);
    await expectTokenError(
      tokens.sign([] as unknown as Record<string, unknown>),
      ErrorCodes.TOKEN_CLAIM_INVALID,
    );
    await expectTokenError(tokens.sign({ big: 10n }, { subject: 'u' }), ErrorCodes.TOKEN_CLAIM_INVALID);
    // sub in claims is accepted; the subject option wins.
    expect((await tokens.verify(await tokens.sign({ sub: 'a' }, { subject: 'b' }))).payload.sub).toBe('b');
    expect((await tokens.verify(await tokens.sign({ sub: 'a' }))).payload.sub).toBe('a');
  });

  it('a verify-only service cannot sign', async () => {
    const verifier = new TokenService({ algorithms: ['EdDSA'], verification: { key: ed.publicKey } });
    await expect(verifier.sign({}, { subject: 'u' })).rejects.toBeInstanceOf(BulwarkConfigError);
  });
});

describe('TokenService with a local JWKS', () => {
  it('selects the key by kid; an unknown kid is KEY_NOT_FOUND', async () => {
    const verifier = new TokenService({
      algorithms: ['EdDSA', 'ES256'],
      verification: { jwks: { keys: [ed.publicJwk, ed2.publicJwk, es.publicJwk] } },
    });
    for (const k of [ed, ed2, es]) {
      const token = await new TokenService({
        algorithms: [k.alg],
        signingKey: { key: k.privateKey, kid: k.kid },
      }).sign({}, { subject: k.kid });
      const { payload, protectedHeader } = await verifier.verify(token);
      expect(protectedHeader.kid).toBe(k.kid);
      expect(payload.sub).toBe(k.kid);
    }
    const stranger = await generateSigningKey('EdDSA');
    const token = await new TokenService({
      algorithms: ['EdDSA'],
      signingKey: { key: stranger.privateKey },
    }).sign({}, { subject: 'u' });
    const err = await expectTokenError(verifier.verify(token), ErrorCodes.TOKEN_KEY_NOT_FOUND, token);
    expect(err.details).toEqual({ kid: stranger.kid, alg: 'EdDSA' });
    // A token claiming a known kid but signed by another key fails the signature check.
    const impostor = await new TokenService({
      algorithms: ['EdDSA'],
      signingKey: { key: stranger.privateKey, kid: ed.kid },
    }).sign({}, { subject: 'u' });
    await expectTokenError(verifier.verify(impostor), ErrorCodes.TOKEN_SIGNATURE_INVALID, impostor);
  });

  it('jwks() publishes the signing public key, which another service can verify against', async () => {
    const issuer = service();
    const set = issuer.jwks();
    expect(set.keys).toHaveLength(1);
    expect(set.keys[0]).toEqual({ ...ed.publicJwk, kid: ed.kid, alg: 'EdDSA', use: 'sig' });
    expect(set.keys[0]).not.toHaveProperty('d');
    const relying = new TokenService({
      algorithms: ['EdDSA'],
      issuer: ISSUER,
      audience: AUDIENCE,
      verification: { jwks: set },
    });
    await expect(relying.verify(await issuer.sign({}, { subject: 'u' }))).resolves.toBeDefined();
    // HMAC secrets are never published.
    const hmac = new TokenService({ algorithms: ['HS256'], signingKey: { key: secret } });
    expect(() => hmac.jwks()).toThrow(BulwarkConfigError);
    expect(() =>
      new TokenService({ algorithms: ['EdDSA'], verification: { key: ed.publicKey } }).jwks(),
    ).toThrow(BulwarkConfigError);
  });

  it('generateSigningKey returns a matching pair and a publishable JWK', async () => {
    const k = await generateSigningKey('ES384');
    expect(k.publicJwk).toMatchObject({ kty: 'EC', crv: 'P-384', kid: k.kid, alg: 'ES384', use: 'sig' });
    expect(k.publicJwk).not.toHaveProperty('d');
    expect(k.kid).toBe(await jose.calculateJwkThumbprint(k.publicJwk)); // RFC 7638
    expect(createPublicKey(k.privateKey).export({ format: 'jwk' })).toEqual(
      k.publicKey.export({ format: 'jwk' }),
    );
    await expect(generateSigningKey('HS256')).rejects.toBeInstanceOf(BulwarkConfigError);
    await expect(generateSigningKey('none' as 'HS256')).rejects.toBeInstanceOf(BulwarkConfigError);
  });
});

describe('TokenService configuration', () => {
  const cases: Array<[string, () => unknown, string, RegExp | null]> = [
    [
      'missing algorithms',
      () => new TokenService({ signingKey: { key: secret } } as unknown as TokenServiceOptions),
      'tokens.algorithms',
      null,
    ],
    ['empty algorithms', () => service({ algorithms: [] }), 'tokens.algorithms', null],
    [
      'none',
      () => service({ algorithms: ['EdDSA', 'none' as 'EdDSA'] }),
      'tokens.algorithms[1]',
      /never accepted/,
    ],
    ['unknown alg', () => service({ algorithms: ['HS1' as 'HS256'] }), 'tokens.algorithms[0]', null],
    [
      'HS and asymmetric mixed',
      () => service({ algorithms: ['EdDSA', 'HS256'] }),
      'tokens.algorithms',
      /algorithm-confusion/,
    ],
    [
      'JWKS with only HS algorithms',
      () => new TokenService({ algorithms: ['HS256'], verification: { jwks: { keys: [] } } }),
      'tokens.verification',
      null,
    ],
    [
      'short HMAC secret',
      () => new TokenService({ algorithms: ['HS256'], signingKey: { key: randomBytes(16) } }),
      'tokens.signingKey.key',
      /32 bytes/,
    ],
    [
      'password string as key',
      () =>
        new TokenService({
          algorithms: ['HS256'],
          signingKey: { key: 'hunter2-hunter2-hunter2-hunter2-hunter2' },
        }),
      'tokens.signingKey.key',
      null,
    ],
    [
      'public key as signing key',
      () => service({ signingKey: { key: ed.publicKey } }),
      'tokens.signingKey.key',
      null,
    ],
    [
      'signing alg outside the list',
      () => service({ signingKey: { key: ed.privateKey, alg: 'ES256' } }),
      'tokens.signingKey.alg',
      null,
    ],
    [
      'key does not fit the list',
      () => service({ signingKey: { key: es.privateKey } }),
      'tokens.signingKey.key',
      null,
    ],
    [
      'private key for verification',
      () => service({ verification: { key: ed2.privateKey } }),
      'tokens.verification.key',
      null,
    ],
    [
      'verification key of another family',
      () => service({ verification: { key: es.publicKey } }),
      'tokens.verification.key',
      null,
    ],
    ['no key at all', () => new TokenService({ algorithms: ['EdDSA'] }), 'tokens.verification', null],
    [
      'two verification sources',
      () => service({ verification: { key: ed.publicKey, jwks: { keys: [] } } as never }),
      'tokens.verification',
      null,
    ],
    [
      'JWKS with a private key',
      () =>
        service({ verification: { jwks: { keys: [ed2.privateKey.export({ format: 'jwk' }) as jose.JWK] } } }),
      'tokens.verification.jwks.keys[0]',
      null,
    ],
    [
      'not a JWKS',
      () => service({ verification: { jwks: {} as jose.JSONWebKeySet } }),
      'tokens.verification.jwks',
      null,
    ],
    [
      'corrupt JWK',
      () => service({ verification: { key: { kty: 'OKP', crv: 'Ed25519', x: '!!' } } }),
      'tokens.verification.key',
      null,
    ],
    ['negative tolerance', () => service({ clockToleranceSec: -1 }), 'tokens.clockToleranceSec', null],
    ['huge tolerance', () => service({ clockToleranceSec: 3600 }), 'tokens.clockToleranceSec', null],
    ['zero ttl', () => service({ defaultTtlSec: 0 }), 'tokens.defaultTtlSec', null],
    ['empty issuer', () => service({ issuer: '' }), 'tokens.issuer', null],
    ['bad audience', () => service({ audience: [] }), 'tokens.audience', null],
    [
      'bad requiredClaims',
      () => service({ requiredClaims: 'sub' as unknown as string[] }),
      'tokens.requiredClaims',
      null,
    ],
  ];
  it.each(cases)('refuses %s at construction, naming the field', (_name, build, path, message) => {
    const err = configErrorOf(build);
    expect(err.code).toBe(ErrorCodes.CONFIG_INVALID);
    expect(err.details).toEqual({ path });
    expect(err.message.startsWith(`${path} `)).toBe(true);
    if (message) expect(err.message).toMatch(message);
  });

  it('config errors never contain key material', () => {
    const weak = randomBytes(16);
    const err = configErrorOf(() => new TokenService({ algorithms: ['HS256'], signingKey: { key: weak } }));
    expect(err.message).not.toContain(weak.toString('base64'));
    expect(err.message).not.toContain(weak.toString('hex'));
    const pw = 'correct-horse-battery-staple-secret';
    expect(
      configErrorOf(() => new TokenService({ algorithms: ['HS256'], signingKey: { key: pw } })).message,
    ).not.toContain(pw);
  });

  it('mixed families are accepted only with the explicit option, and RSA < 2048 bits is refused', () => {
    expect(service({ algorithms: ['EdDSA', 'HS256'], allowMixedAlgorithmFamilies: true }).algorithms).toEqual(
      ['EdDSA', 'HS256'],
    );
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const err = configErrorOf(
      () =>
        new TokenService({
          algorithms: ['RS256'],
          legacyAlgorithms: ['RS256', 'RSA-2048'],
          signingKey: { key: small.privateKey },
        }),
    );
    expect(err.details).toEqual({ path: 'tokens.signingKey.key' });
  });

  it('HS384 needs a 48-byte secret; the default signing alg is the first allowed one the key supports', () => {
    expect(() => new TokenService({ algorithms: ['HS384'], signingKey: { key: randomBytes(32) } })).toThrow(
      BulwarkConfigError,
    );
    const s = new TokenService({ algorithms: ['HS512', 'HS256'], signingKey: { key: randomBytes(48) } });
    expect(s.signingAlgorithm).toEqual({ alg: 'HS256', kid: undefined });
  });
});
