import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type RSAPSSKeyPairKeyObjectOptions,
} from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { decryptJson, encryptJson } from '../../src/crypto/json-envelope';
import { hkdf, pbkdf2Key, scryptKey } from '../../src/crypto/key-derivation';
import { signMessage as sign, verifyMessage as verify } from '../../src/crypto/signatures';
import { BulwarkCryptoError, ErrorCodes } from '../../src/errors';
import { asyncCodeOf, codeOf, memoryRing } from './helpers';

// Vectors: see vectors/README.md for their origin and licence.
const KAT = JSON.parse(readFileSync(path.join(__dirname, 'vectors', 'primitives-kat.json'), 'utf8')) as {
  hkdf: Array<{ hash: 'sha256'; ikm: string; salt: string; info: string; length: number; okm: string }>;
  scrypt: Array<{
    password: string;
    salt: string;
    N: number;
    r: number;
    p: number;
    length: number;
    dk: string;
  }>;
  pbkdf2: Array<{
    hash: 'sha1' | 'sha256';
    password: string;
    salt: string;
    iterations: number;
    length: number;
    dk: string;
  }>;
  ed25519: Array<{ secret: string; public: string; message: string; signature: string }>;
  es256: Array<{ x: string; ux: string; uy: string; message: string; r: string; s: string }>;
  ps256: { publicKeyPem: string; tests: Array<{ msg: string; sig: string }> };
};
const hex = (s: string) => Buffer.from(s, 'hex');
const b64u = (s: string) => hex(s).toString('base64url');

describe('encryptJson / decryptJson', () => {
  interface Order {
    id: number;
    items: string[];
    paid: boolean;
  }
  const isOrder = (v: unknown): v is Order =>
    typeof v === 'object' &&
    v !== null &&
    typeof (v as Order).id === 'number' &&
    Array.isArray((v as Order).items);

  it('round-trips a typed value bound to its aad; refuses another aad, bad shapes and non-JSON values', async () => {
    const ring = await memoryRing();
    await ring.createKey('orders');
    const order: Order = { id: 7, items: ['book', 'pen'], paid: true };
    const envelope = encryptJson(ring, 'orders', order, { aad: 'orders#7' });
    expect(envelope).toMatch(/^bw2\.orders\.1\./);
    const back: Order = decryptJson(ring, envelope, { aad: 'orders#7', guard: isOrder });
    expect(back).toEqual(order);
    expect(codeOf(() => decryptJson(ring, envelope, { aad: 'orders#8' }))).toBe(
      ErrorCodes.CRYPTO_DECRYPTION_FAILED,
    );
    const notAnOrder = encryptJson(ring, 'orders', { id: 'x' });
    expect(codeOf(() => decryptJson(ring, notAnOrder, { guard: isOrder }))).toBe(ErrorCodes.CRYPTO_MALFORMED);
    expect(codeOf(() => decryptJson(ring, ring.encrypt('orders', '{not json')))).toBe(
      ErrorCodes.CRYPTO_MALFORMED,
    );
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    for (const bad of [undefined, () => 1, 10n, cyclic]) {
      expect(codeOf(() => encryptJson(ring, 'orders', bad))).toBe(ErrorCodes.CRYPTO_INVALID_ARGUMENT);
    }
    await ring.close();
  });
});

describe('key derivation (known answers and floors)', () => {
  it('HKDF matches RFC 5869', () => {
    for (const v of KAT.hkdf) {
      const okm = hkdf(hex(v.ikm), { hash: v.hash, salt: hex(v.salt), info: hex(v.info), length: v.length });
      expect(okm.toString('hex')).toBe(v.okm);
    }
  });

  it('HKDF refuses short key material with ERR_CRYPTO_WEAK_PARAMETERS', () => {
    expect(codeOf(() => hkdf(Buffer.alloc(8)))).toBe(ErrorCodes.CRYPTO_WEAK_PARAMETERS);
    expect(codeOf(() => hkdf(Buffer.alloc(32), { length: 8 }))).toBe(ErrorCodes.CRYPTO_WEAK_PARAMETERS);
    expect(codeOf(() => hkdf(Buffer.alloc(32), { hash: 'md5' as 'sha256' }))).toBe(
      ErrorCodes.CRYPTO_INVALID_ARGUMENT,
    );
  });

  it('scrypt matches RFC 7914 (weak test parameters only when allowed by name)', async () => {
    for (const v of KAT.scrypt) {
      const options = { N: v.N, r: v.r, p: v.p, keyLength: v.length };
      expect(await asyncCodeOf(() => scryptKey(v.password, v.salt, options))).toBe(
        ErrorCodes.CRYPTO_WEAK_PARAMETERS,
      );
      const dk = await scryptKey(v.password, v.salt, { ...options, insecureAllowWeakParameters: true });
      expect(dk.toString('hex')).toBe(v.dk);
    }
  });

  it('scrypt floors: N >= 2^15, r >= 8, 16-byte salts; N must be a power of two', async () => {
    const salt = Buffer.alloc(16, 1);
    const error = await scryptKey('pw', salt, { N: 2 ** 14 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BulwarkCryptoError);
    expect((error as BulwarkCryptoError).details).toEqual({ parameter: 'N' });
    expect(await asyncCodeOf(() => scryptKey('pw', salt, { N: 2 ** 15, r: 4 }))).toBe(
      ErrorCodes.CRYPTO_WEAK_PARAMETERS,
    );
    expect(await asyncCodeOf(() => scryptKey('pw', 'short', { N: 2 ** 15 }))).toBe(
      ErrorCodes.CRYPTO_WEAK_PARAMETERS,
    );
    expect(await asyncCodeOf(() => scryptKey('pw', salt, { N: 3 * 2 ** 15 }))).toBe(
      ErrorCodes.CRYPTO_INVALID_ARGUMENT,
    );
    expect(await scryptKey('pw', salt, { N: 2 ** 15 })).toHaveLength(32);
  });

  it('PBKDF2 matches RFC 6070 (SHA-1) and RFC 7914 §11 (SHA-256) with weak parameters allowed by name', async () => {
    for (const v of KAT.pbkdf2) {
      const options = { hash: v.hash, iterations: v.iterations, keyLength: v.length };
      expect(await asyncCodeOf(() => pbkdf2Key(v.password, v.salt, options))).toBe(
        ErrorCodes.CRYPTO_WEAK_PARAMETERS,
      );
      const dk = await pbkdf2Key(v.password, v.salt, { ...options, insecureAllowWeakParameters: true });
      expect(dk.toString('hex')).toBe(v.dk);
    }
  });

  it('PBKDF2 floors: OWASP iteration counts per hash, no SHA-1, 16-byte salts', async () => {
    const salt = Buffer.alloc(16, 2);
    expect(await asyncCodeOf(() => pbkdf2Key('pw', salt, { iterations: 599_999 }))).toBe(
      ErrorCodes.CRYPTO_WEAK_PARAMETERS,
    );
    expect(await asyncCodeOf(() => pbkdf2Key('pw', salt, { hash: 'sha512', iterations: 1000 }))).toBe(
      ErrorCodes.CRYPTO_WEAK_PARAMETERS,
    );
    expect(await asyncCodeOf(() => pbkdf2Key('pw', salt, { hash: 'sha1', iterations: 2_000_000 }))).toBe(
      ErrorCodes.CRYPTO_WEAK_PARAMETERS,
    );
    expect(await asyncCodeOf(() => pbkdf2Key('pw', 'salt', { hash: 'sha512' }))).toBe(
      ErrorCodes.CRYPTO_WEAK_PARAMETERS,
    );
    expect(await pbkdf2Key('pw', salt, { hash: 'sha512' })).toHaveLength(32);
  });
});

describe('signMessage / verifyMessage (known answers)', () => {
  it('Ed25519 signs RFC 8032 §7.1 messages to the published signatures and verifies them', () => {
    for (const v of KAT.ed25519) {
      const jwk = { kty: 'OKP', crv: 'Ed25519', d: b64u(v.secret), x: b64u(v.public) };
      const privateKey = createPrivateKey({ key: jwk, format: 'jwk' });
      const signature = sign('Ed25519', privateKey, hex(v.message));
      expect(signature.toString('hex')).toBe(v.signature);
      const publicJwk = { kty: 'OKP', crv: 'Ed25519', x: b64u(v.public) };
      expect(verify('Ed25519', publicJwk, hex(v.message), signature)).toBe(true);
      expect(verify('Ed25519', publicJwk, Buffer.concat([hex(v.message), Buffer.from('!')]), signature)).toBe(
        false,
      );
    }
  });

  it('ES256 verifies the RFC 6979 A.2.5 signatures (r || s) and refuses altered ones', () => {
    for (const v of KAT.es256) {
      const publicKey = { kty: 'EC', crv: 'P-256', x: b64u(v.ux), y: b64u(v.uy) };
      const signature = Buffer.concat([hex(v.r), hex(v.s)]);
      expect(verify('ES256', publicKey, v.message, signature)).toBe(true);
      const tampered = Buffer.from(signature);
      tampered[63] ^= 1;
      expect(verify('ES256', publicKey, v.message, tampered)).toBe(false);
      expect(verify('ES256', publicKey, v.message, signature.subarray(0, 63))).toBe(false);
      // Our own signature under the RFC key verifies too (ECDSA is randomised: no fixed answer).
      const privateKey = { ...publicKey, d: b64u(v.x) };
      expect(verify('ES256', publicKey, 'x', sign('ES256', privateKey, 'x'))).toBe(true);
    }
  });

  it('PS256 verifies Wycheproof RSASSA-PSS signatures and refuses altered ones', () => {
    const publicKey = createPublicKey(KAT.ps256.publicKeyPem);
    for (const t of KAT.ps256.tests) {
      expect(verify('PS256', publicKey, hex(t.msg), hex(t.sig))).toBe(true);
      const tampered = hex(t.sig);
      tampered[10] ^= 0x80;
      expect(verify('PS256', publicKey, hex(t.msg), tampered)).toBe(false);
    }
  });

  it('refuses algorithms outside the allow-list, keys of the wrong kind and short RSA keys', () => {
    const ed = generateKeyPairSync('ed25519');
    const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
    const rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024 });
    expect(codeOf(() => sign('RS256' as 'PS256', ed.privateKey, 'x'))).toBe(
      ErrorCodes.CRYPTO_UNSUPPORTED_ALGORITHM,
    );
    expect(codeOf(() => sign('ES256', p384.privateKey, 'x'))).toBe(ErrorCodes.CRYPTO_INVALID_ARGUMENT);
    expect(codeOf(() => verify('ES256', ed.publicKey, 'x', Buffer.alloc(64)))).toBe(
      ErrorCodes.CRYPTO_INVALID_ARGUMENT,
    );
    expect(codeOf(() => sign('PS256', rsa1024.privateKey, 'x'))).toBe(ErrorCodes.CRYPTO_WEAK_PARAMETERS);
    expect(codeOf(() => sign('Ed25519', ed.publicKey, 'x'))).toBe(ErrorCodes.CRYPTO_INVALID_ARGUMENT);
    expect(codeOf(() => sign('Ed25519', 'not a pem', 'x'))).toBe(ErrorCodes.CRYPTO_INVALID_ARGUMENT);
    expect(verify('Ed25519', ed.publicKey, 'x', 'sig' as unknown as Uint8Array)).toBe(false);
  });

  it('an rsa-pss key restricted to other PSS parameters is a typed error, not an OpenSSL one', () => {
    for (const params of [
      { hashAlgorithm: 'sha512', mgf1HashAlgorithm: 'sha512', saltLength: 64 },
      { hashAlgorithm: 'sha256', mgf1HashAlgorithm: 'sha1', saltLength: 32 },
      { hashAlgorithm: 'sha256', mgf1HashAlgorithm: 'sha256', saltLength: 48 },
    ]) {
      // @types/node types saltLength as a string; node:crypto takes a number of bytes.
      const { privateKey, publicKey } = generateKeyPairSync('rsa-pss', {
        modulusLength: 2048,
        ...params,
      } as unknown as RSAPSSKeyPairKeyObjectOptions);
      let error: unknown;
      try {
        sign('PS256', privateKey, 'x');
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(BulwarkCryptoError);
      expect((error as BulwarkCryptoError).code).toBe(ErrorCodes.CRYPTO_INVALID_ARGUMENT);
      expect((error as Error).message).not.toMatch(/OSSL|digest not allowed/i);
      expect(codeOf(() => verify('PS256', publicKey, 'x', Buffer.alloc(256)))).toBe(
        ErrorCodes.CRYPTO_INVALID_ARGUMENT,
      );
    }
    // PS256's own parameters (or none) sign and verify.
    const ok = generateKeyPairSync('rsa-pss', {
      modulusLength: 2048,
      hashAlgorithm: 'sha256',
      mgf1HashAlgorithm: 'sha256',
      saltLength: 32,
    } as unknown as RSAPSSKeyPairKeyObjectOptions);
    expect(verify('PS256', ok.publicKey, 'x', sign('PS256', ok.privateKey, 'x'))).toBe(true);
  });
});
