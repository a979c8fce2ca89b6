import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { aeadDecrypt, aeadEncrypt, type LowLevelAeadAlgorithm } from '../../src/crypto/aead';
import { BulwarkCryptoError, ErrorCodes } from '../../src/errors';

// Project Wycheproof vectors copied into ../vectors (origin and licence in its README). A missing file fails the suite.
const VECTORS = path.resolve(__dirname, '../vectors');

interface AeadTest {
  tcId: number;
  key: string;
  iv: string;
  aad: string;
  msg: string;
  ct: string;
  tag: string;
  result: 'valid' | 'invalid' | 'acceptable';
}
interface AeadGroup {
  ivSize: number;
  keySize: number;
  tagSize: number;
  tests: AeadTest[];
}

function load(file: string): AeadGroup[] {
  const json = JSON.parse(readFileSync(path.join(VECTORS, file), 'utf8')) as { testGroups: AeadGroup[] };
  return json.testGroups;
}

const hex = (s: string) => Buffer.from(s, 'hex');

function runSuite(file: string, algorithmFor: (keySize: number) => LowLevelAeadAlgorithm | undefined) {
  const counts = { valid: 0, invalid: 0, skippedGroups: 0 };
  for (const group of load(file)) {
    const algorithm = algorithmFor(group.keySize);
    // Bulwark only accepts 96-bit IVs and 128-bit tags (by design), so other groups are out of scope.
    if (group.ivSize !== 96 || group.tagSize !== 128 || algorithm === undefined) {
      counts.skippedGroups++;
      continue;
    }
    for (const t of group.tests) {
      const key = hex(t.key);
      const iv = hex(t.iv);
      const aad = hex(t.aad);
      if (t.result === 'valid' || t.result === 'acceptable') {
        const plain = aeadDecrypt(algorithm, key, iv, hex(t.ct), hex(t.tag), aad);
        expect({ tcId: t.tcId, msg: plain.toString('hex') }).toEqual({ tcId: t.tcId, msg: t.msg });
        const sealed = aeadEncrypt(algorithm, key, iv, hex(t.msg), aad);
        expect({
          tcId: t.tcId,
          ct: sealed.ciphertext.toString('hex'),
          tag: sealed.tag.toString('hex'),
        }).toEqual({
          tcId: t.tcId,
          ct: t.ct,
          tag: t.tag,
        });
        counts.valid++;
      } else {
        let thrown: unknown;
        try {
          aeadDecrypt(algorithm, key, iv, hex(t.ct), hex(t.tag), aad);
        } catch (error) {
          thrown = error;
        }
        expect(thrown).toBeInstanceOf(BulwarkCryptoError);
        expect((thrown as BulwarkCryptoError).code).toBe(ErrorCodes.CRYPTO_DECRYPTION_FAILED);
        counts.invalid++;
      }
    }
  }
  return counts;
}

describe('AEAD known answers (Project Wycheproof)', () => {
  it('AES-GCM with 96-bit IVs: valid vectors decrypt and re-encrypt exactly, invalid ones are rejected', () => {
    const counts = runSuite('wycheproof_aes_gcm_test.json', (keySize) =>
      keySize === 256
        ? 'aes-256-gcm'
        : keySize === 192
          ? 'aes-192-gcm'
          : keySize === 128
            ? 'aes-128-gcm'
            : undefined,
    );
    expect(counts.valid).toBeGreaterThan(0);
    expect(counts.invalid).toBeGreaterThan(0);
    // 67 + 66 + 64 tests sit in the three 96-bit-IV groups of this vector file.
    expect(counts.valid + counts.invalid).toBe(197);
  });

  it('ChaCha20-Poly1305 with 96-bit nonces: valid vectors decrypt and re-encrypt exactly, invalid ones are rejected', () => {
    const counts = runSuite('wycheproof_chacha20_poly1305_test.json', (keySize) =>
      keySize === 256 ? 'chacha20-poly1305' : undefined,
    );
    expect(counts.valid).toBeGreaterThan(0);
    expect(counts.invalid).toBeGreaterThan(0);
    expect(counts.valid + counts.invalid).toBe(316);
  });

  it('rejects IVs other than 96 bits, truncated tags, wrong key sizes and unknown algorithms with typed errors', () => {
    const key = Buffer.alloc(32, 1);
    const iv = Buffer.alloc(12, 2);
    const { ciphertext, tag } = aeadEncrypt('aes-256-gcm', key, iv, 'hello', 'ctx');
    expect(aeadDecrypt('aes-256-gcm', key, iv, ciphertext, tag, 'ctx').toString()).toBe('hello');
    const codeOf = (fn: () => unknown) => {
      try {
        fn();
      } catch (error) {
        return error instanceof BulwarkCryptoError ? error.code : 'untyped';
      }
      return 'no error';
    };
    expect(codeOf(() => aeadDecrypt('aes-256-gcm', key, Buffer.alloc(16), ciphertext, tag))).toBe(
      ErrorCodes.CRYPTO_INVALID_ARGUMENT,
    );
    expect(codeOf(() => aeadDecrypt('aes-256-gcm', key, iv, ciphertext, tag.subarray(0, 12), 'ctx'))).toBe(
      ErrorCodes.CRYPTO_DECRYPTION_FAILED,
    );
    expect(codeOf(() => aeadDecrypt('aes-256-gcm', key, iv, ciphertext, tag, 'other'))).toBe(
      ErrorCodes.CRYPTO_DECRYPTION_FAILED,
    );
    expect(codeOf(() => aeadEncrypt('aes-256-gcm', Buffer.alloc(16), iv, 'x'))).toBe(
      ErrorCodes.CRYPTO_INVALID_ARGUMENT,
    );
    expect(codeOf(() => aeadEncrypt('aes-256-cbc' as LowLevelAeadAlgorithm, key, iv, 'x'))).toBe(
      ErrorCodes.CRYPTO_UNSUPPORTED_ALGORITHM,
    );
  });
});
