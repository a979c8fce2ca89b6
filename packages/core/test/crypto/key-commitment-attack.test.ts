import { createCipheriv, randomBytes } from 'node:crypto';
import { aeadDecrypt } from '../../src/crypto/aead';
import { makeEntry } from '../../src/crypto/cipher-entry';
import { parseEnvelope } from '../../src/crypto/envelope';
import { EnvelopeSealer } from '../../src/crypto/envelope-sealer';
import { committedAeadKey, keyCommitment } from '../../src/crypto/key-commitment';
import { ErrorCodes } from '../../src/errors';
import { codeOf } from './helpers';

/*
 * The attack key commitment exists for, carried out: given two keys, build ONE AES-256-GCM
 * ciphertext whose tag verifies under both (Albertini et al. 2022, §3; the "invisible salamanders"
 * construction). GHASH is affine in each ciphertext block, so one free block solves the equation
 * E_K1(J0) ^ GHASH_H1(A, C) = E_K2(J0) ^ GHASH_H2(A, C). Format 1 envelopes fall to it (the same
 * stored value opens under two keys, to two plaintexts); format 2 refuses the second key on its
 * commitment before the AEAD runs.
 */

const R = 0xe1n << 120n;
const toBig = (b: Buffer): bigint => BigInt('0x' + (b.toString('hex') || '0'));
const toBuf = (x: bigint): Buffer => Buffer.from(x.toString(16).padStart(32, '0'), 'hex');

/** GF(2^128) multiplication in GCM's bit order (NIST SP 800-38D, Algorithm 1). */
function mul(x: bigint, y: bigint): bigint {
  let z = 0n;
  let v = y;
  for (let i = 127n; i >= 0n; i--) {
    if ((x >> i) & 1n) z ^= v;
    v = v & 1n ? (v >> 1n) ^ R : v >> 1n;
  }
  return z;
}

function pow(x: bigint, e: bigint): bigint {
  let result = 1n << 127n; // the field's 1 in GCM bit order
  let base = x;
  for (let k = e; k > 0n; k >>= 1n) {
    if (k & 1n) result = mul(result, base);
    base = mul(base, base);
  }
  return result;
}

const inverse = (x: bigint): bigint => pow(x, (1n << 128n) - 2n);

function aesBlock(key: Buffer, block: Buffer): bigint {
  const c = createCipheriv('aes-256-ecb', key, null).setAutoPadding(false);
  return toBig(Buffer.concat([c.update(block), c.final()]));
}

/** The GHASH input blocks of (A, C) as field elements: A padded, C padded, then the lengths. */
function blocks(aad: Buffer, ciphertext: Buffer): bigint[] {
  const pad = (b: Buffer) => Buffer.concat([b, Buffer.alloc((16 - (b.length % 16)) % 16)]);
  const lengths = Buffer.alloc(16);
  lengths.writeBigUInt64BE(BigInt(aad.length * 8), 0);
  lengths.writeBigUInt64BE(BigInt(ciphertext.length * 8), 8);
  const all = Buffer.concat([pad(aad), pad(ciphertext), lengths]);
  const out: bigint[] = [];
  for (let i = 0; i < all.length; i += 16) out.push(toBig(all.subarray(i, i + 16)));
  return out;
}

const ghash = (h: bigint, xs: bigint[]): bigint => xs.reduce((y, x) => mul(y ^ x, h), 0n);

/** A 2-block ciphertext and a tag valid under both AES-256-GCM keys, for this IV and aad. */
function collide(k1: Buffer, k2: Buffer, iv: Buffer, aad: Buffer): { ciphertext: Buffer; tag: Buffer } {
  const j0 = Buffer.concat([iv, Buffer.from([0, 0, 0, 1])]);
  const [h1, h2] = [aesBlock(k1, Buffer.alloc(16)), aesBlock(k2, Buffer.alloc(16))];
  const [e1, e2] = [aesBlock(k1, j0), aesBlock(k2, j0)];
  const fixed = randomBytes(16);
  const zero = Buffer.concat([fixed, Buffer.alloc(16)]);
  const xs = blocks(aad, zero);
  // The free block is the second ciphertext block: its power of H is (blocks after it) + 1.
  const free = Math.ceil(aad.length / 16) + 1;
  const e = BigInt(xs.length - free);
  const target = e1 ^ e2 ^ ghash(h1, xs) ^ ghash(h2, xs);
  const x = mul(target, inverse(pow(h1, e) ^ pow(h2, e)));
  const ciphertext = Buffer.concat([fixed, toBuf(x)]);
  const tag = toBuf(e1 ^ ghash(h1, blocks(aad, ciphertext)));
  return { ciphertext, tag };
}

describe('key commitment against a multi-key collision (AES-256-GCM)', () => {
  const k1 = randomBytes(32);
  const k2 = randomBytes(32);
  const iv = randomBytes(12);
  const sealer = new EnvelopeSealer();

  it('the construction works: raw AES-GCM accepts one ciphertext under two keys, with two plaintexts', () => {
    const aad = Buffer.from('users.email');
    const { ciphertext, tag } = collide(k1, k2, iv, aad);
    const p1 = aeadDecrypt('aes-256-gcm', k1, iv, ciphertext, tag, aad);
    const p2 = aeadDecrypt('aes-256-gcm', k2, iv, ciphertext, tag, aad);
    expect(p1.equals(p2)).toBe(false);
  });

  it('a format-1 envelope built this way opens under both keys (why format 2 exists)', () => {
    const header = 'bw1.pii.1.';
    const { ciphertext, tag } = collide(k1, k2, iv, Buffer.from(header + 'users.email'));
    const envelope =
      header + iv.toString('base64url') + '.' + Buffer.concat([ciphertext, tag]).toString('base64url');
    const [a, b] = [
      makeEntry('aes-256-gcm', Buffer.from(k1), 'pii', 1),
      makeEntry('aes-256-gcm', Buffer.from(k2), 'pii', 1),
    ];
    const p1 = sealer.open(a, parseEnvelope(envelope), 'users.email');
    const p2 = sealer.open(b, parseEnvelope(envelope), 'users.email');
    expect(p1.equals(p2)).toBe(false);
  });

  it('a format-2 envelope built the same way (on the derived AEAD keys) opens under its own key only', () => {
    const header = `bw2.pii.1.${keyCommitment(k1)}.`;
    const [ke1, ke2] = [committedAeadKey(k1), committedAeadKey(k2)];
    const { ciphertext, tag } = collide(ke1, ke2, iv, Buffer.from(header + 'users.email'));
    // The AEAD alone would accept it under both derived keys...
    aeadDecrypt('aes-256-gcm', ke1, iv, ciphertext, tag, Buffer.from(header + 'users.email'));
    aeadDecrypt('aes-256-gcm', ke2, iv, ciphertext, tag, Buffer.from(header + 'users.email'));
    const envelope =
      header + iv.toString('base64url') + '.' + Buffer.concat([ciphertext, tag]).toString('base64url');
    const [a, b] = [
      makeEntry('aes-256-gcm', Buffer.from(k1), 'pii', 1),
      makeEntry('aes-256-gcm', Buffer.from(k2), 'pii', 1),
    ];
    // ...but the envelope names K1's commitment: K1 opens it, K2 is refused before decrypting.
    expect(sealer.open(a, parseEnvelope(envelope), 'users.email')).toHaveLength(32);
    expect(codeOf(() => sealer.open(b, parseEnvelope(envelope), 'users.email'))).toBe(
      ErrorCodes.CRYPTO_DECRYPTION_FAILED,
    );
    // And relabelling it with K2's commitment changes the authenticated header: K2's AEAD refuses.
    const relabelled = envelope.replace(keyCommitment(k1), keyCommitment(k2));
    expect(codeOf(() => sealer.open(b, parseEnvelope(relabelled), 'users.email'))).toBe(
      ErrorCodes.CRYPTO_DECRYPTION_FAILED,
    );
  });
});
