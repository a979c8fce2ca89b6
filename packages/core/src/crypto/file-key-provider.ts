import { open, type FileHandle } from 'node:fs/promises';
import { BulwarkCryptoError, ErrorCodes } from '../errors';
import type { KeyProvider, KeyWrapContext } from './key-provider';
import { masterKeyFingerprint, parseMasterKey, unwrapWithMasterKey, wrapWithMasterKey } from './master-key';

export interface FileKeyProviderOptions {
  /** The key file: 32 bytes as base64, base64url or hex. */
  path: string;
  /**
   * What to do with a key file that its group or other users may read or write (any of the mode
   * bits 0o077): `'refuse'` (default) fails with ERR_CRYPTO_KEY_FILE_INSECURE, as ssh refuses such
   * a private key; `'warn'` WEAKENS SECURITY: it loads the key anyway and reports it to
   * `onWarning`, for a migration window only. Not checked on Windows, whose ACLs the POSIX mode
   * bits do not describe: restrict the file's ACL to the service account there.
   */
  insecureFilePermissions?: 'refuse' | 'warn';
  /**
   * Receives the warning of `insecureFilePermissions: 'warn'`. Default: `process.emitWarning` with
   * code BULWARK_INSECURE_KEY_FILE (printed to stderr by Node).
   */
  onWarning?: (message: string) => void;
}

/** Mode bits that let the group or others read, write or execute the file. */
const GROUP_OR_OTHER = 0o077;

const defaultWarning = (message: string): void =>
  process.emitWarning(message, { code: 'BULWARK_INSECURE_KEY_FILE' });

/**
 * Master key from a file holding 32 bytes as base64, base64url or hex (surrounding whitespace is
 * ignored), e.g. a Docker / Kubernetes secret mount. Read once, on first use. The file must be
 * readable by its owner only (0600 or 0400): a file its group or others can read or write is
 * refused (see FileKeyProviderOptions.insecureFilePermissions). Keep it outside the key store's
 * backups.
 */
export class FileKeyProvider implements KeyProvider {
  readonly name: string;
  private readonly path: string;
  private readonly insecureFilePermissions: 'refuse' | 'warn';
  private readonly onWarning: (message: string) => void;
  private masterKey: Buffer | undefined;
  private loading: Promise<Buffer> | undefined;
  private closed = false;

  constructor(options: FileKeyProviderOptions) {
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
    const mode = options.insecureFilePermissions ?? 'refuse';
    if (mode !== 'refuse' && mode !== 'warn') {
      throw new BulwarkCryptoError(
        ErrorCodes.CRYPTO_INVALID_ARGUMENT,
        `FileKeyProvider: options.insecureFilePermissions must be 'refuse' or 'warn', got ${JSON.stringify(mode)}`,
        { path: 'insecureFilePermissions' },
      );
    }
    if (options.onWarning !== undefined && typeof options.onWarning !== 'function') {
      throw new BulwarkCryptoError(
        ErrorCodes.CRYPTO_INVALID_ARGUMENT,
        'FileKeyProvider: options.onWarning must be a function',
        { path: 'onWarning' },
      );
    }
    this.path = options.path;
    this.name = `file:${this.path}`;
    this.insecureFilePermissions = mode;
    this.onWarning = options.onWarning ?? defaultWarning;
  }

  /**
   * Reads the key file, checking its mode on the open descriptor (fstat), so the file checked is
   * the file read even if the path is swapped meanwhile.
   */
  private async read(): Promise<string> {
    let handle: FileHandle;
    try {
      handle = await open(this.path, 'r');
    } catch (cause) {
      throw this.unreadable(cause);
    }
    try {
      const stat = await handle.stat();
      if (!stat.isFile()) {
        throw new BulwarkCryptoError(
          ErrorCodes.CRYPTO_KEY_PROVIDER,
          `The master key file ${this.path} is not a regular file`,
          { path: this.path },
        );
      }
      if (process.platform !== 'win32' && (stat.mode & GROUP_OR_OTHER) !== 0) this.insecure(stat.mode);
      return await handle.readFile('utf8');
    } catch (cause) {
      if (cause instanceof BulwarkCryptoError) throw cause;
      throw this.unreadable(cause);
    } finally {
      await handle.close();
    }
  }

  private insecure(fileMode: number): void {
    const mode = `0${(fileMode & 0o777).toString(8).padStart(3, '0')}`;
    const problem = `The master key file ${this.path} has mode ${mode}: its group or other users can read or change it`;
    if (this.insecureFilePermissions === 'warn') {
      this.onWarning(
        `${problem}. Loaded anyway because insecureFilePermissions is 'warn' (this weakens security); run \`chmod 600 ${this.path}\``,
      );
      return;
    }
    throw new BulwarkCryptoError(
      ErrorCodes.CRYPTO_KEY_FILE_INSECURE,
      `${problem}, so it is refused (as ssh refuses such a private key). Run \`chmod 600 ${this.path}\` ` +
        '(for a Kubernetes secret volume set defaultMode: 0400; for a Compose secret mode: 0400)',
      { path: this.path, mode },
    );
  }

  private unreadable(cause: unknown): BulwarkCryptoError {
    return new BulwarkCryptoError(
      ErrorCodes.CRYPTO_KEY_PROVIDER,
      `Cannot read the master key file ${this.path} (${(cause as NodeJS.ErrnoException).code ?? 'error'})`,
      { path: this.path },
      { cause },
    );
  }

  private async key(): Promise<Buffer> {
    if (this.closed)
      throw new BulwarkCryptoError(ErrorCodes.CRYPTO_CLOSED, `${this.name} provider is closed`);
    if (this.masterKey !== undefined) return this.masterKey;
    this.loading ??= (async () => parseMasterKey(await this.read(), `file ${this.path}`))();
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

  /** The master key's public fingerprint (`k1-…`), recorded with every key it wraps. */
  async masterKeyId(): Promise<string> {
    return masterKeyFingerprint(await this.key());
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
