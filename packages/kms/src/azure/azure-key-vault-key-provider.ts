import { timingSafeEqual } from 'node:crypto';
import type { TokenCredential } from '@azure/core-auth';
import { CryptographyClient, KeyClient, type CryptographyClientOptions } from '@azure/keyvault-keys';
import { BulwarkCryptoError, ErrorCodes, type KeyProvider, type KeyWrapContext } from '@bulwark/core';
import {
  checkDataKey,
  closedError,
  optionError,
  providerError,
  type ProviderErrorCode,
} from '../lib/provider-errors';
import { contextDigest } from '../lib/wrap-context';
import { bytes, formatBlob, parseBlob } from '../lib/wrapped-blob';

/** Key-wrapping algorithms allowed (RSA keys in a vault, AES keys in a Managed HSM). */
export type AzureWrapAlgorithm = 'RSA-OAEP-256' | 'A256KW';
const ALGORITHMS: readonly AzureWrapAlgorithm[] = ['RSA-OAEP-256', 'A256KW'];

export interface AzureKeyVaultKeyProviderOptions {
  /**
   * The key identifier: `https://<vault>.vault.azure.net/keys/<name>` (new wraps use the
   * current version) or `…/keys/<name>/<version>` (pinned); Managed HSM:
   * `https://<hsm>.managedhsm.azure.net/keys/<name>`.
   */
  keyId: string;
  /** An Azure AD credential, e.g. `new DefaultAzureCredential()` or `new ManagedIdentityCredential()` from @azure/identity. */
  credential: TokenCredential;
  /** `RSA-OAEP-256` (default; RSA 2048+ keys) or `A256KW` (AES-256 keys of a Managed HSM). */
  algorithm?: AzureWrapAlgorithm;
  /**
   * Pipeline options of the CryptographyClients, over `retryOptions: { maxRetries: 3,
   * retryDelayInMs: 200, maxRetryDelayInMs: 2000 }` (429 and 5xx are retried with backoff).
   */
  clientOptions?: CryptographyClientOptions;
  /** Deadline of one wrap / unwrap, retries included, in ms (default 10000). */
  timeoutMs?: number;
}

const FORMAT = 'azkv1';
const NAME = /^[A-Za-z0-9-]{1,127}$/;
const VERSION = /^[A-Za-z0-9]{1,64}$/;

/**
 * Master key in Azure Key Vault or Managed HSM, through @azure/keyvault-keys's CryptographyClient
 * `wrapKey` / `unwrapKey`. RSA-OAEP-256 and AES-KW have no associated data, so the wrap context
 * is bound inside the wrapped payload: Key Vault wraps `dataKey ‖ SHA-256(context)` (64 bytes)
 * and unwrap checks the second half in constant time. Both algorithms are non-malleable, so a
 * wrapped key moved to another key id fails the check instead of unwrapping.
 *
 * Stored form: `azkv1.<key version>.<algorithm>.<wrapped>`: unwrapping uses the version that
 * wrapped, so Key Vault key rotation (a new current version) needs nothing here as long as the
 * old versions stay enabled.
 *
 * Permissions: keys/wrapKey and keys/unwrapKey (RBAC: Key Vault Crypto Service Encryption User);
 * keys/get lets the SDK check the key's expiry and allowed operations first.
 */
export class AzureKeyVaultKeyProvider implements KeyProvider {
  readonly name: string;
  private readonly base: string;
  private readonly vaultUrl: string;
  private readonly keyName: string;
  private readonly pinned: string | undefined;
  private readonly credential: TokenCredential;
  private readonly algorithm: AzureWrapAlgorithm;
  private readonly clientOptions: CryptographyClientOptions;
  private readonly timeoutMs: number;
  private readonly id: string;
  private readonly clients = new Map<string, CryptographyClient>();
  private current: Promise<string> | undefined;
  private closed = false;

  constructor(options: AzureKeyVaultKeyProviderOptions) {
    if (options === null || typeof options !== 'object')
      throw optionError('AzureKeyVaultKeyProvider', 'an options object');
    let url: URL | undefined;
    try {
      url = new URL(options.keyId);
    } catch {
      url = undefined;
    }
    const [, keys, name, version, ...rest] = url?.pathname.split('/') ?? [];
    if (
      url?.protocol !== 'https:' ||
      keys !== 'keys' ||
      name === undefined ||
      !NAME.test(name) ||
      (version !== undefined && version !== '' && !VERSION.test(version)) ||
      rest.length > 0
    ) {
      throw optionError(
        'AzureKeyVaultKeyProvider.keyId',
        'a key identifier https://<vault>.vault.azure.net/keys/<name>[/<version>]',
      );
    }
    if (options.credential === null || typeof options.credential?.getToken !== 'function') {
      throw optionError('AzureKeyVaultKeyProvider.credential', 'a TokenCredential (getToken)');
    }
    const algorithm = options.algorithm ?? 'RSA-OAEP-256';
    if (!ALGORITHMS.includes(algorithm)) {
      throw optionError('AzureKeyVaultKeyProvider.algorithm', `one of ${ALGORITHMS.join(', ')}`);
    }
    const timeoutMs = options.timeoutMs ?? 10000;
    if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1) {
      throw optionError('AzureKeyVaultKeyProvider.timeoutMs', 'a positive integer');
    }
    this.vaultUrl = url.origin;
    this.keyName = name;
    this.base = `${url.origin}/keys/${name}`;
    this.pinned = version === undefined || version === '' ? undefined : version;
    this.credential = options.credential;
    this.algorithm = algorithm;
    this.timeoutMs = timeoutMs;
    this.clientOptions = {
      ...options.clientOptions,
      retryOptions: {
        maxRetries: 3,
        retryDelayInMs: 200,
        maxRetryDelayInMs: 2000,
        ...options.clientOptions?.retryOptions,
      },
    };
    // Host dots become underscores (a hostname has none), keeping the id within KeyProvider's alphabet.
    this.id = `azure:${url.host.replace(/\./g, '_').replace(/:/g, '-')}/${name}`;
    this.name = `azure-key-vault:${url.host}/${name}`;
  }

  /** `azure:<vault host>/<key name>`: the key and all its versions are one master key. */
  async masterKeyId(): Promise<string> {
    if (this.closed) throw closedError(this.name);
    return this.id;
  }

  async wrapKey(dataKey: Buffer, context: KeyWrapContext): Promise<string> {
    checkDataKey(dataKey);
    const payload = Buffer.concat([dataKey, contextDigest(context)]);
    try {
      const version = await this.version(context);
      const client = this.client(version);
      const result = await this.call('wrapKey', context, () =>
        client.wrapKey(this.algorithm, payload, { abortSignal: AbortSignal.timeout(this.timeoutMs) }),
      );
      if (!(result.result instanceof Uint8Array) || result.result.length === 0) {
        throw providerError(
          ErrorCodes.CRYPTO_KEY_PROVIDER,
          this.name,
          'wrapKey',
          'an answer without a result',
        );
      }
      return formatBlob(FORMAT, [version, this.algorithm, Buffer.from(result.result)]);
    } finally {
      payload.fill(0);
    }
  }

  async unwrapKey(wrapped: string, context: KeyWrapContext): Promise<Buffer> {
    const digest = contextDigest(context);
    const parts = parseBlob(wrapped, FORMAT, 3);
    const algorithm = parts?.[1] as AzureWrapAlgorithm | undefined;
    if (
      parts === undefined ||
      !VERSION.test(parts[0]!) ||
      algorithm === undefined ||
      !ALGORITHMS.includes(algorithm)
    ) {
      throw providerError(
        ErrorCodes.CRYPTO_KEY_UNWRAP_FAILED,
        this.name,
        'unwrapKey',
        `a blob that is not an ${FORMAT} wrapped key`,
        undefined,
        context,
      );
    }
    const client = this.client(parts[0]!);
    const result = await this.call('unwrapKey', context, () =>
      client.unwrapKey(algorithm, bytes(parts[2]!), { abortSignal: AbortSignal.timeout(this.timeoutMs) }),
    );
    if (!(result.result instanceof Uint8Array)) {
      throw providerError(
        ErrorCodes.CRYPTO_KEY_PROVIDER,
        this.name,
        'unwrapKey',
        'an answer without a result',
        undefined,
        context,
      );
    }
    const payload = Buffer.from(result.result);
    result.result.fill(0);
    if (payload.length !== 64 || !timingSafeEqual(payload.subarray(32), digest)) {
      payload.fill(0);
      throw providerError(
        ErrorCodes.CRYPTO_KEY_UNWRAP_FAILED,
        this.name,
        'unwrapKey',
        'a payload bound to another key id or version',
        undefined,
        context,
      );
    }
    const key = Buffer.from(payload.subarray(0, 32));
    payload.fill(0);
    return key;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.clients.clear();
  }

  /**
   * The key version new wraps use: the pinned one, else the key's current version, read once
   * with keys/get (the SDK's wrap answer does not say which version wrapped, and unwrapping must
   * name it).
   */
  private version(context: KeyWrapContext): Promise<string> {
    if (this.pinned !== undefined) return Promise.resolve(this.pinned);
    this.current ??= this.call(
      'reading the current key version (keys/get; or give a versioned keyId)',
      context,
      async () => {
        const client = new KeyClient(this.vaultUrl, this.credential, this.clientOptions);
        const key = await client.getKey(this.keyName, { abortSignal: AbortSignal.timeout(this.timeoutMs) });
        const version = key.properties.version;
        if (version === undefined || !VERSION.test(version)) {
          throw providerError(
            ErrorCodes.CRYPTO_KEY_PROVIDER,
            this.name,
            'keys/get',
            'an answer without a key version',
          );
        }
        return version;
      },
    );
    this.current.catch(() => (this.current = undefined));
    return this.current;
  }

  /** One CryptographyClient per key version (undefined: the key's current version). */
  private client(version: string | undefined): CryptographyClient {
    if (this.closed) throw closedError(this.name);
    const keyId = version === undefined ? this.base : `${this.base}/${version}`;
    let client = this.clients.get(keyId);
    if (client === undefined) {
      client = new CryptographyClient(keyId, this.credential, this.clientOptions);
      this.clients.set(keyId, client);
    }
    return client;
  }

  private async call<T>(operation: string, context: KeyWrapContext, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      if (error instanceof BulwarkCryptoError) throw error;
      const { code, reason } = azureCode(error, operation);
      throw providerError(code, this.name, operation, reason, error, context);
    }
  }
}

function azureCode(error: unknown, operation: string): { code: ProviderErrorCode; reason: string } {
  const e = error as { name?: unknown; statusCode?: unknown; code?: unknown; message?: unknown };
  const status = typeof e?.statusCode === 'number' ? e.statusCode : undefined;
  const restCode = typeof e?.code === 'string' && /^[A-Za-z_]{1,40}$/.test(e.code) ? e.code : undefined;
  const message = typeof e?.message === 'string' ? e.message : '';
  const reason =
    status !== undefined
      ? `HTTP ${status}${restCode === undefined ? '' : ` ${restCode}`}`
      : (restCode ?? String(e?.name ?? 'an error'));
  if (e?.name === 'AbortError' || e?.name === 'TimeoutError')
    return { code: ErrorCodes.CRYPTO_KMS_UNAVAILABLE, reason: 'a timeout' };
  if (status === undefined) {
    // The SDK's own checks of the key it read (keys/get): expired, not yet valid, operation not allowed.
    if (/expired at|can't be used before|is not supported on key/.test(message)) {
      return {
        code: ErrorCodes.CRYPTO_MASTER_KEY_UNUSABLE,
        reason: 'a key that is expired, not yet valid or not allowed to wrap',
      };
    }
    return { code: ErrorCodes.CRYPTO_KMS_UNAVAILABLE, reason: `a network error (${reason})` };
  }
  if (status === 429 || status >= 500) return { code: ErrorCodes.CRYPTO_KMS_UNAVAILABLE, reason };
  if (/disabled/i.test(message) || status === 404)
    return { code: ErrorCodes.CRYPTO_MASTER_KEY_UNUSABLE, reason };
  if (status === 401 || status === 403) return { code: ErrorCodes.CRYPTO_KMS_ACCESS_DENIED, reason };
  if (status === 400 && operation === 'unwrapKey')
    return { code: ErrorCodes.CRYPTO_KEY_UNWRAP_FAILED, reason };
  return { code: ErrorCodes.CRYPTO_KEY_PROVIDER, reason };
}
