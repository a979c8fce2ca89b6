import { inputBytes } from '../../src/crypto/bytes';
import { hkdf } from '../../src/crypto/key-derivation';
import { signMessage, verifyMessage } from '../../src/crypto/signatures';
import { BulwarkCryptoError, ErrorCodes } from '../../src/errors';
import { generateKeyPairSync } from 'node:crypto';
import { codeOf } from './helpers';

describe('inputBytes (the one string-or-bytes helper of signatures, key derivation and the AEAD)', () => {
  it('reads a string as UTF-8 and a Uint8Array view without copying it', () => {
    expect(inputBytes('é', 'data')).toEqual(Buffer.from([0xc3, 0xa9]));
    const backing = new Uint8Array([9, 1, 2, 3, 9]);
    const view = inputBytes(backing.subarray(1, 4), 'data');
    expect([...view]).toEqual([1, 2, 3]);
    backing[2] = 7;
    expect(view[1]).toBe(7);
  });

  it('anything else is ERR_CRYPTO_INVALID_ARGUMENT naming the argument, not the value', () => {
    const error = (() => {
      try {
        inputBytes({ secret: 'hunter2' }, 'password');
      } catch (e) {
        return e as BulwarkCryptoError;
      }
      throw new Error('expected an error');
    })();
    expect(error).toBeInstanceOf(BulwarkCryptoError);
    expect(error.code).toBe(ErrorCodes.CRYPTO_INVALID_ARGUMENT);
    expect(error.message).toBe('password must be a string or Uint8Array');
  });

  it('signatures and key derivation share it: same bytes, same refusal', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const bytes = new Uint8Array([0, 104, 105, 0]).subarray(1, 3); // "hi" inside a larger buffer
    expect(verifyMessage('Ed25519', publicKey, 'hi', signMessage('Ed25519', privateKey, bytes))).toBe(true);
    expect(codeOf(() => signMessage('Ed25519', privateKey, 42 as unknown as string))).toBe(
      ErrorCodes.CRYPTO_INVALID_ARGUMENT,
    );
    const ikm = '0123456789abcdef';
    const backing = Buffer.from(`[${ikm}]`);
    expect(hkdf(backing.subarray(1, 17)).equals(hkdf(ikm))).toBe(true);
    expect(codeOf(() => hkdf(42 as unknown as string, { length: 32 }))).toBe(
      ErrorCodes.CRYPTO_INVALID_ARGUMENT,
    );
  });
});
