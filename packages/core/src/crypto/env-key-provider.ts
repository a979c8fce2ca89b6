import { BulwarkCryptoError, ErrorCodes } from '../errors';
import type { KeyProvider, KeyWrapContext } from './key-provider';
import { masterKeyFingerprint, parseMasterKey, unwrapWithMasterKey, wrapWithMasterKey } from './master-key';

/**
 * Master key from an environment variable (default `BULWARK_MASTER_KEY`): 32 bytes as base64,
 * base64url or hex. Read on first use (KeyRing.open), so a missing or short key fails at start-up
 * with ERR_CRYPTO_KEY_PROVIDER, and the message names the variable, never its value.
 */
export class EnvKeyProvider implements KeyProvider {
  readonly name: string;
  private readonly variable: string;
  private readonly env: NodeJS.ProcessEnv;
  private masterKey: Buffer | undefined;
  private closed = false;

  constructor(options: { variable?: string; env?: NodeJS.ProcessEnv } = {}) {
    this.variable = options.variable ?? 'BULWARK_MASTER_KEY';
    if (typeof this.variable !== 'string' || this.variable === '') {
      throw new BulwarkCryptoError(
        ErrorCodes.CRYPTO_INVALID_ARGUMENT,
        'EnvKeyProvider: variable must be a name',
      );
    }
    this.env = options.env ?? process.env;
    this.name = `env:${this.variable}`;
  }

  private key(): Buffer {
    if (this.closed)
      throw new BulwarkCryptoError(ErrorCodes.CRYPTO_CLOSED, `${this.name} provider is closed`);
    this.masterKey ??= parseMasterKey(this.env[this.variable], `environment variable ${this.variable}`);
    return this.masterKey;
  }

  /** The master key's public fingerprint (`k1-…`), recorded with every key it wraps. */
  async masterKeyId(): Promise<string> {
    return masterKeyFingerprint(this.key());
  }

  async wrapKey(dataKey: Buffer, context: KeyWrapContext): Promise<string> {
    return wrapWithMasterKey(this.key(), dataKey, context);
  }

  async unwrapKey(wrapped: string, context: KeyWrapContext): Promise<Buffer> {
    return unwrapWithMasterKey(this.key(), wrapped, context);
  }

  async close(): Promise<void> {
    this.masterKey?.fill(0);
    this.masterKey = undefined;
    this.closed = true;
  }
}
