import { ErrorCodes } from '../errors';
import { KEY_LENGTH } from './aead';
import { asCryptoError, cryptoError } from './cipher-entry';
import type { KeyProvider, KeyWrapContext } from './key-provider';
import type { KeyStore } from './key-store';

/**
 * The key ring's access to its master key and its store: wrapping and unwrapping data keys, store
 * calls whose failures become typed errors, and the ring's clock and open state, which the named
 * keys and the subject keys share.
 */
export class KeyLoader {
  closed = false;

  constructor(
    readonly provider: KeyProvider,
    readonly store: KeyStore,
    private readonly clock: () => Date,
  ) {}

  checkOpen(): void {
    if (this.closed) throw cryptoError(ErrorCodes.CRYPTO_CLOSED, 'The key ring is closed');
  }

  /** The clock's time in milliseconds (subject cache ages). */
  millis(): number {
    return this.clock().getTime();
  }

  now(): string {
    const date = this.clock();
    if (!(date instanceof Date) || Number.isNaN(date.getTime())) {
      throw cryptoError(ErrorCodes.CRYPTO_INVALID_ARGUMENT, 'KeyRing clock returned an invalid Date');
    }
    return date.toISOString();
  }

  async storeCall<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw asCryptoError(error, ErrorCodes.CRYPTO_KEY_STORE, `Key store ${this.store.name} failed`);
    }
  }

  async wrap(dataKey: Buffer, context: KeyWrapContext): Promise<string> {
    let wrapped: unknown;
    try {
      wrapped = await this.provider.wrapKey(dataKey, context);
    } catch (error) {
      throw asCryptoError(error, ErrorCodes.CRYPTO_KEY_PROVIDER, `Key provider ${this.provider.name} failed`);
    }
    if (typeof wrapped !== 'string' || wrapped === '') {
      throw cryptoError(
        ErrorCodes.CRYPTO_KEY_PROVIDER,
        `Key provider ${this.provider.name} returned no wrapped key`,
      );
    }
    return wrapped;
  }

  async unwrap(wrapped: string, context: KeyWrapContext): Promise<Buffer> {
    let key: unknown;
    try {
      key = await this.provider.unwrapKey(wrapped, context);
    } catch (error) {
      throw asCryptoError(error, ErrorCodes.CRYPTO_KEY_PROVIDER, `Key provider ${this.provider.name} failed`);
    }
    if (!(key instanceof Uint8Array) || key.length !== KEY_LENGTH) {
      if (key instanceof Uint8Array) key.fill(0);
      throw cryptoError(ErrorCodes.CRYPTO_KEY_UNWRAP_FAILED, 'Unwrapped data key has the wrong size', {
        keyId: context.keyId,
        version: context.version,
      });
    }
    // Own copy outside Node's shared pool so zero-filling it cannot touch unrelated data.
    const raw = Buffer.allocUnsafeSlow(KEY_LENGTH);
    raw.set(key);
    key.fill(0);
    return raw;
  }
}
