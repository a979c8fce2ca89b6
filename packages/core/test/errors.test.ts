import { BulwarkCryptoError, BulwarkError, ErrorCodes } from '../src/errors';
import * as jose from 'jose';

describe('BulwarkError', () => {
  it('carries a stable code, frozen details and the subclass name', () => {
    const err = new BulwarkCryptoError(ErrorCodes.CRYPTO_UNKNOWN_KEY, 'unknown key', { keyId: 'pii' });
    expect(err).toBeInstanceOf(BulwarkError);
    expect(err.name).toBe('BulwarkCryptoError');
    expect(err.code).toBe('ERR_CRYPTO_UNKNOWN_KEY');
    expect(Object.isFrozen(err.details)).toBe(true);
  });
  it('loads jose under jest', () => {
    expect(typeof jose.SignJWT).toBe('function');
  });
});
