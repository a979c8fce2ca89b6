import { BulwarkCryptoError, ErrorCodes, type KeyProvider, type KeyWrapContext } from '@bulwark/core';
import {
  checkDataKey,
  closedError,
  optionError,
  providerError,
  type ProviderErrorCode,
} from '../lib/provider-errors';
import { withRetries, type RetryPolicy } from '../lib/retry';
import { contextAad } from '../lib/wrap-context';
import { formatBlob, parseBlob } from '../lib/wrapped-blob';

export interface VaultTransitKeyProviderOptions {
  /** Vault's address, e.g. `https://vault.internal:8200` (default: the VAULT_ADDR variable). */
  address?: string;
  /**
   * A Vault token, or a function returning one (called per request, so a renewing auth method
   * can hand out the current token). Default: the VAULT_TOKEN variable. Never logged.
   */
  token?: string | (() => string | Promise<string>);
  /** Vault Enterprise namespace (X-Vault-Namespace). */
  namespace?: string;
  /** Mount path of the transit engine (default `transit`). */
  mount?: string;
  /**
   * Name of the transit key: type aes256-gcm96 or chacha20-poly1305, created with
   * `derived=true` (the wrap context is given as `context`, so Vault derives a key per context
   * and a wrapped key moved to another key id does not decrypt).
   */
  keyName: string;
  /** Per-attempt timeout in ms (default 5000). */
  timeoutMs?: number;
  /** Attempts per call, the first included (default 3); 429, 5xx and network errors are retried. */
  maxAttempts?: number;
  /** Allow `http://` (a dev server, a test): the token and data keys would cross the network in clear. */
  allowInsecureHttp?: boolean;
  /** Environment for VAULT_ADDR / VAULT_TOKEN (default `process.env`). */
  env?: NodeJS.ProcessEnv;
}

const FORMAT = 'vt1';
const NAME = /^[A-Za-z0-9_-]{1,128}$/;
const MOUNT = /^[A-Za-z0-9_-]+(\/[A-Za-z0-9_-]+)*$/;
/** `vault:v<version>:<base64>`, the transit ciphertext format. */
const CIPHERTEXT = /^vault:v([1-9][0-9]{0,9}):[A-Za-z0-9+/]+=*$/;
/** A transit key version as written in a blob (the `v<N>` of CIPHERTEXT). */
const VERSION_TEXT = /^[1-9][0-9]{0,9}$/;

class VaultHttpError extends Error {
  constructor(
    readonly status: number,
    readonly messages: string[],
  ) {
    super(`Vault answered HTTP ${status}`);
  }
}

/**
 * Master key in HashiCorp Vault's transit engine. HashiCorp publishes no Node SDK (the
 * community `node-vault` wraps the same HTTP API with a heavier dependency tree), and the three
 * calls needed are small, documented JSON requests, so this speaks the HTTP API with Node's
 * `fetch`: POST `/v1/<mount>/encrypt/<key>`, `/decrypt/<key>`, `/rewrap/<key>`, GET
 * `/v1/<mount>/keys/<key>`, with bounded retries (429, 5xx such as 503 "Vault is sealed",
 * network errors) and a per-attempt timeout.
 *
 * Stored form: `vt1.<version>.<base64url of Vault's ciphertext>`. Vault's key versions are its
 * own rotation: `vault write -f transit/keys/<key>/rotate` makes new wraps use the next version
 * while older ones still decrypt down to `min_decryption_version`; `rewrap()` re-encrypts a
 * stored wrapped key under the latest version inside Vault (the data key never leaves it).
 */
export class VaultTransitKeyProvider implements KeyProvider {
  readonly name: string;
  private readonly address: string;
  private readonly token: () => string | Promise<string>;
  private readonly namespace: string | undefined;
  private readonly base: string;
  private readonly keyName: string;
  private readonly mount: string;
  private readonly timeoutMs: number;
  private readonly retry: RetryPolicy;
  private checked: Promise<void> | undefined;
  private closed = false;

  constructor(options: VaultTransitKeyProviderOptions) {
    if (options === null || typeof options !== 'object')
      throw optionError('VaultTransitKeyProvider', 'an options object');
    const env = options.env ?? process.env;
    const address = options.address ?? env.VAULT_ADDR;
    let url: URL;
    try {
      url = new URL(address ?? '');
    } catch {
      throw optionError('VaultTransitKeyProvider.address', 'a URL (or set VAULT_ADDR)');
    }
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && options.allowInsecureHttp === true)) {
      throw optionError(
        'VaultTransitKeyProvider.address',
        'an https:// URL (or pass allowInsecureHttp: true for a dev server)',
      );
    }
    if (typeof options.keyName !== 'string' || !NAME.test(options.keyName)) {
      throw optionError('VaultTransitKeyProvider.keyName', `a transit key name matching ${String(NAME)}`);
    }
    const mount = options.mount ?? 'transit';
    if (typeof mount !== 'string' || !MOUNT.test(mount)) {
      throw optionError('VaultTransitKeyProvider.mount', 'a mount path such as transit or kv/transit');
    }
    const token = options.token ?? env.VAULT_TOKEN;
    if (typeof token === 'string' ? token === '' : typeof token !== 'function') {
      throw optionError(
        'VaultTransitKeyProvider.token',
        'a token or a function returning one (or set VAULT_TOKEN)',
      );
    }
    const timeoutMs = options.timeoutMs ?? 5000;
    const maxAttempts = options.maxAttempts ?? 3;
    if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1)
      throw optionError('VaultTransitKeyProvider.timeoutMs', 'a positive integer');
    if (!Number.isSafeInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > 10) {
      throw optionError('VaultTransitKeyProvider.maxAttempts', 'an integer from 1 to 10');
    }
    this.address = url.origin;
    const fixed = token as string;
    this.token = typeof token === 'function' ? token : () => fixed;
    this.namespace = options.namespace;
    this.keyName = options.keyName;
    this.mount = mount;
    this.base = `${this.address}/v1/${mount}`;
    this.timeoutMs = timeoutMs;
    this.retry = { maxAttempts, baseDelayMs: 100, maxDelayMs: 2000 };
    this.name = `vault-transit:${mount}/${options.keyName}`;
  }

  /** `vault:<mount>/<key>`: the transit key (all its versions) is one master key. */
  async masterKeyId(): Promise<string> {
    await this.checkKey();
    return `vault:${this.mount}/${this.keyName}`;
  }

  async wrapKey(dataKey: Buffer, context: KeyWrapContext): Promise<string> {
    checkDataKey(dataKey);
    const vaultContext = contextAad(context).toString('base64');
    await this.checkKey();
    const data = await this.call('encrypt', context, 'POST', `/encrypt/${this.keyName}`, {
      plaintext: dataKey.toString('base64'),
      context: vaultContext,
    });
    return this.toBlob(data.ciphertext, 'encrypt');
  }

  async unwrapKey(wrapped: string, context: KeyWrapContext): Promise<Buffer> {
    const vaultContext = contextAad(context).toString('base64');
    const ciphertext = this.fromBlob(wrapped, context);
    const data = await this.call('decrypt', context, 'POST', `/decrypt/${this.keyName}`, {
      ciphertext,
      context: vaultContext,
    });
    const key = typeof data.plaintext === 'string' ? Buffer.from(data.plaintext, 'base64') : undefined;
    if (key?.length !== 32) {
      key?.fill(0);
      throw providerError(
        ErrorCodes.CRYPTO_KEY_UNWRAP_FAILED,
        this.name,
        'decrypt',
        'an answer that is not a 32-byte key',
        undefined,
        context,
      );
    }
    return key;
  }

  /**
   * Re-encrypts a stored wrapped key under the transit key's latest version, inside Vault
   * (POST `/rewrap/<key>`): the data key never reaches this process. Use it after rotating the
   * transit key, before raising `min_decryption_version`.
   */
  async rewrap(wrapped: string, context: KeyWrapContext): Promise<string> {
    const vaultContext = contextAad(context).toString('base64');
    const ciphertext = this.fromBlob(wrapped, context);
    const data = await this.call('rewrap', context, 'POST', `/rewrap/${this.keyName}`, {
      ciphertext,
      context: vaultContext,
    });
    return this.toBlob(data.ciphertext, 'rewrap');
  }

  /** The transit key's latest version, read fresh from Vault (`GET /keys/<key>`). */
  async latestVersion(): Promise<number> {
    const data = await this.call('reading the key', undefined, 'GET', `/keys/${this.keyName}`);
    const latest = data.latest_version;
    if (!Number.isSafeInteger(latest) || (latest as number) < 1) {
      throw providerError(
        ErrorCodes.CRYPTO_KEY_PROVIDER,
        this.name,
        'reading the key',
        'an answer without latest_version',
      );
    }
    return latest as number;
  }

  /** The transit key version a stored wrapped key is under (undefined if it is not one of ours). */
  keyVersion(wrapped: string): number | undefined {
    const parts = parseBlob(wrapped, FORMAT, 2);
    return parts !== undefined && VERSION_TEXT.test(parts[0]!) ? Number(parts[0]) : undefined;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private toBlob(ciphertext: unknown, operation: string): string {
    const match = typeof ciphertext === 'string' ? CIPHERTEXT.exec(ciphertext) : null;
    if (match === null) {
      throw providerError(
        ErrorCodes.CRYPTO_KEY_PROVIDER,
        this.name,
        operation,
        'an answer without a transit ciphertext',
      );
    }
    return formatBlob(FORMAT, [match[1]!, Buffer.from(ciphertext as string, 'utf8')]);
  }

  private fromBlob(wrapped: string, context: KeyWrapContext): string {
    const parts = parseBlob(wrapped, FORMAT, 2);
    const ciphertext = parts === undefined ? undefined : Buffer.from(parts[1]!, 'base64url').toString('utf8');
    const match = ciphertext === undefined ? null : CIPHERTEXT.exec(ciphertext);
    if (match === null || match[1] !== parts![0]) {
      throw providerError(
        ErrorCodes.CRYPTO_KEY_UNWRAP_FAILED,
        this.name,
        'decrypt',
        `a blob that is not a ${FORMAT} wrapped key`,
        undefined,
        context,
      );
    }
    return ciphertext!;
  }

  /** Once: the key exists, is derived, and can encrypt and decrypt (refuses rather than lets encrypt upsert a key). */
  private checkKey(): Promise<void> {
    if (this.closed) return Promise.reject(closedError(this.name));
    this.checked ??= (async () => {
      const data = await this.call('reading the key', undefined, 'GET', `/keys/${this.keyName}`);
      if (data.derived !== true || data.supports_encryption !== true || data.supports_decryption !== true) {
        throw providerError(
          ErrorCodes.CRYPTO_MASTER_KEY_UNUSABLE,
          this.name,
          'reading the key',
          'a key that is not a derived encryption key (create it with type=aes256-gcm96 derived=true)',
        );
      }
    })();
    this.checked.catch(() => (this.checked = undefined));
    return this.checked;
  }

  /** One Vault API call with retries; the `data` member of the answer. */
  private async call(
    operation: string,
    context: KeyWrapContext | undefined,
    method: 'GET' | 'POST',
    path: string,
    body?: Record<string, unknown>,
  ): Promise<Record<string, unknown>> {
    if (this.closed) throw closedError(this.name);
    try {
      return await withRetries(this.retry, retryable, async () => {
        const token = await this.token();
        if (typeof token !== 'string' || token === '') throw new VaultHttpError(403, ['no token']);
        const headers: Record<string, string> = {
          'X-Vault-Token': token,
          'X-Vault-Request': 'true',
        };
        if (this.namespace !== undefined) headers['X-Vault-Namespace'] = this.namespace;
        if (body !== undefined) headers['Content-Type'] = 'application/json';
        const response = await fetch(`${this.base}${path}`, {
          method,
          headers,
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(this.timeoutMs),
          redirect: 'error',
        });
        const json = (await response.json().catch(() => undefined)) as
          { data?: Record<string, unknown>; errors?: unknown } | undefined;
        if (!response.ok) {
          const errors = Array.isArray(json?.errors)
            ? json.errors.filter((e): e is string => typeof e === 'string')
            : [];
          throw new VaultHttpError(response.status, errors);
        }
        if (json?.data === undefined || typeof json.data !== 'object' || json.data === null) {
          throw new VaultHttpError(response.status, ['an answer without data']);
        }
        return json.data;
      });
    } catch (error) {
      if (error instanceof BulwarkCryptoError) throw error;
      throw providerError(
        vaultCode(error, operation),
        this.name,
        operation,
        vaultReason(error),
        error,
        context,
      );
    }
  }
}

function retryable(error: unknown): boolean {
  if (error instanceof VaultHttpError) return error.status === 429 || error.status >= 500;
  return true; // network error, timeout
}

function vaultReason(error: unknown): string {
  if (error instanceof VaultHttpError) return `HTTP ${error.status}`;
  const name = (error as Error)?.name;
  return name === 'TimeoutError'
    ? 'a timeout'
    : `a network error (${typeof name === 'string' ? name : 'unknown'})`;
}

function vaultCode(error: unknown, operation: string): ProviderErrorCode {
  if (!(error instanceof VaultHttpError)) return ErrorCodes.CRYPTO_KMS_UNAVAILABLE;
  const { status, messages } = error;
  if (status === 429 || status >= 500) return ErrorCodes.CRYPTO_KMS_UNAVAILABLE;
  if (status === 401 || status === 403) return ErrorCodes.CRYPTO_KMS_ACCESS_DENIED;
  if (status === 404) return ErrorCodes.CRYPTO_MASTER_KEY_UNUSABLE;
  const text = messages.join(' ');
  if (/key not found|disabled|not allowed|min_encryption_version|below min/i.test(text)) {
    return ErrorCodes.CRYPTO_MASTER_KEY_UNUSABLE;
  }
  // Vault answers 400 when a ciphertext does not authenticate (wrong context, tampered, other key).
  if (status === 400 && (operation === 'decrypt' || operation === 'rewrap'))
    return ErrorCodes.CRYPTO_KEY_UNWRAP_FAILED;
  return ErrorCodes.CRYPTO_KEY_PROVIDER;
}
