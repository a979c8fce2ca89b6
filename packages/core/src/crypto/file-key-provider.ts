import { readFile } from 'node:fs/promises';
import { BulwarkCryptoError, ErrorCodes } from '../errors';
import type { KeyProvider, KeyWrapContext } from './key-provider';
import { parseMasterKey, unwrapWithMasterKey, wrapWithMasterKey } from './master-key';

/**
 * Master key from a file holding 32 bytes as base64, base64url or hex (surrounding whitespace is
 * ignored), e.g. a Docker / Kubernetes secret mount. Keep the file mode 0600 and outside the
 * key store's backups. Read once, on first use.
 */
export class FileKeyProvider implements KeyProvider {
  readonly name: string;
  private readonly path: string;
  private masterKey: Buffer | undefined;
  private loading: Promise<Buffer> | undefined;
  private closed = false;

  constructor(options: { path: string }) {
    if (
      options === null ||
      typeof options !== 'object' ||
      typeof options.path !== 'string' ||
      options.path === ''
    ) {
      throw new BulwarkCryptoError(
        ErrorCodes.CRYPTO_INVALID_ARGUMENT,
        'FileKeyProvider: options.path is required',
      );
    }
    this.path = options.path;
    this.name = `file:${this.path}`;
  }

  private async key(): Promise<Buffer> {
    if (this.closed)
      throw new BulwarkCryptoError(ErrorCodes.CRYPTO_CLOSED, `${this.name} provider is closed`);
    if (this.masterKey !== undefined) return this.masterKey;
    this.loading ??= (async () => {
      let text: string;
      try {
        text = await readFile(this.path, 'utf8');
      } catch (cause) {
        throw new BulwarkCryptoError(
          ErrorCodes.CRYPTO_KEY_PROVIDER,
          `Cannot read the master key file ${this.path} (${(cause as NodeJS.ErrnoException).code ?? 'error'})`,
          { path: this.path },
          { cause },
        );
      }
      return parseMasterKey(text, `file ${this.path}`);
    })();
    try {
      const key = await this.loading;
      if (this.closed) {
        key.fill(0);
        throw new BulwarkCryptoError(ErrorCodes.CRYPTO_CLOSED, `${this.name} provider is closed`);
      }
      this.masterKey = key;
      return key;
    } finally {
      this.loading = undefined;
    }
  }

  async wrapKey(dataKey: Buffer, context: KeyWrapContext): Promise<string> {
    return wrapWithMasterKey(await this.key(), dataKey, context);
  }

  async unwrapKey(wrapped: string, context: KeyWrapContext): Promise<Buffer> {
    return unwrapWithMasterKey(await this.key(), wrapped, context);
  }

  async close(): Promise<void> {
    this.masterKey?.fill(0);
    this.masterKey = undefined;
    this.closed = true;
  }
}
