import {
  DecryptCommand,
  DescribeKeyCommand,
  EncryptCommand,
  KMSClient,
  type KMSClientConfig,
} from '@aws-sdk/client-kms';
import { BulwarkCryptoError, ErrorCodes, type KeyProvider, type KeyWrapContext } from '@bulwark/core';
import {
  checkDataKey,
  closedError,
  optionError,
  providerError,
  type ProviderErrorCode,
} from '../lib/provider-errors';
import { contextFields } from '../lib/wrap-context';
import { bytes, formatBlob, parseBlob } from '../lib/wrapped-blob';

export interface AwsKmsKeyProviderOptions {
  /**
   * The KMS key: a key ARN (best: names one key for good), a key id, an alias ARN or
   * `alias/<name>`. Resolved once to the key ARN with DescribeKey, and every Decrypt names that
   * ARN, so repointing an alias never changes which key unwraps.
   */
  keyId: string;
  /**
   * Configuration of the KMSClient the provider makes (region, credentials, endpoint…), over
   * these defaults: `maxAttempts: 3` with the SDK's `standard` retry mode (throttling and 5xx
   * retried with backoff), `requestHandler: { connectionTimeout: 3000, requestTimeout: 5000,
   * throwOnRequestTimeout: true }` (a plain-object requestHandler you give is merged over it).
   */
  clientConfig?: KMSClientConfig;
  /** A client of your own instead (its retries and timeouts are then yours); not destroyed by close(). */
  client?: KMSClient;
}

const FORMAT = 'awskms1';
/** Per attempt: connect within 3 s, answer within 5 s (throwOnRequestTimeout makes the SDK fail, not warn). */
const HANDLER = { connectionTimeout: 3000, requestTimeout: 5000, throwOnRequestTimeout: true };

/** The caller's config over the defaults; a plain-object requestHandler is merged with HANDLER. */
function clientConfig(config: KMSClientConfig = {}): KMSClientConfig {
  const handler = config.requestHandler;
  const plain = handler !== undefined && Object.getPrototypeOf(handler) === Object.prototype;
  return {
    maxAttempts: 3,
    retryMode: 'standard',
    ...config,
    requestHandler: handler === undefined ? HANDLER : plain ? { ...HANDLER, ...handler } : handler,
  };
}

/** KMS error names (AWS KMS API reference, "Errors" of Encrypt / Decrypt / DescribeKey). */
const BY_NAME: Readonly<Record<string, ProviderErrorCode>> = {
  AccessDeniedException: ErrorCodes.CRYPTO_KMS_ACCESS_DENIED,
  UnrecognizedClientException: ErrorCodes.CRYPTO_KMS_ACCESS_DENIED,
  InvalidSignatureException: ErrorCodes.CRYPTO_KMS_ACCESS_DENIED,
  ExpiredTokenException: ErrorCodes.CRYPTO_KMS_ACCESS_DENIED,
  CredentialsProviderError: ErrorCodes.CRYPTO_KMS_ACCESS_DENIED,
  DisabledException: ErrorCodes.CRYPTO_MASTER_KEY_UNUSABLE,
  KMSInvalidStateException: ErrorCodes.CRYPTO_MASTER_KEY_UNUSABLE,
  NotFoundException: ErrorCodes.CRYPTO_MASTER_KEY_UNUSABLE,
  InvalidKeyUsageException: ErrorCodes.CRYPTO_MASTER_KEY_UNUSABLE,
  InvalidCiphertextException: ErrorCodes.CRYPTO_KEY_UNWRAP_FAILED,
  IncorrectKeyException: ErrorCodes.CRYPTO_KEY_UNWRAP_FAILED,
  KeyUnavailableException: ErrorCodes.CRYPTO_KMS_UNAVAILABLE,
  ThrottlingException: ErrorCodes.CRYPTO_KMS_UNAVAILABLE,
  LimitExceededException: ErrorCodes.CRYPTO_KMS_UNAVAILABLE,
  KMSInternalException: ErrorCodes.CRYPTO_KMS_UNAVAILABLE,
  DependencyTimeoutException: ErrorCodes.CRYPTO_KMS_UNAVAILABLE,
  TimeoutError: ErrorCodes.CRYPTO_KMS_UNAVAILABLE,
  AbortError: ErrorCodes.CRYPTO_KMS_UNAVAILABLE,
};

/**
 * Master key in AWS KMS (a symmetric SYMMETRIC_DEFAULT key). Data keys are wrapped with KMS
 * Encrypt and unwrapped with Decrypt, both with an encryption context naming the Bulwark key id
 * and version (`bulwark:key`, `bulwark:version`; for a data subject's key only the SHA-256 of its
 * reference, `bulwark:subject-sha256`, since CloudTrail logs the context in clear). KMS refuses
 * a Decrypt whose context differs, so a wrapped key moved to another key id does not unwrap.
 * Stored form: `awskms1.<CiphertextBlob>` (base64url).
 *
 * IAM: kms:DescribeKey, kms:Encrypt and kms:Decrypt on the key; conditions on
 * `kms:EncryptionContext:bulwark:key` can narrow what a role may unwrap.
 */
export class AwsKmsKeyProvider implements KeyProvider {
  readonly name: string;
  private readonly client: KMSClient;
  private readonly ownsClient: boolean;
  private readonly keyId: string;
  private arn: Promise<string> | undefined;
  private closed = false;

  constructor(options: AwsKmsKeyProviderOptions) {
    if (options === null || typeof options !== 'object')
      throw optionError('AwsKmsKeyProvider', 'an options object');
    if (typeof options.keyId !== 'string' || !/^[A-Za-z0-9:/_-]{1,2048}$/.test(options.keyId)) {
      throw optionError('AwsKmsKeyProvider.keyId', 'a KMS key ARN, key id or alias');
    }
    if (options.client !== undefined && !(options.client instanceof KMSClient)) {
      throw optionError('AwsKmsKeyProvider.client', 'a KMSClient');
    }
    this.keyId = options.keyId;
    this.name = `aws-kms:${options.keyId}`;
    this.ownsClient = options.client === undefined;
    this.client = options.client ?? new KMSClient(clientConfig(options.clientConfig));
  }

  /** `aws:<key ARN>` (DescribeKey, once); also checks the key is enabled for ENCRYPT_DECRYPT. */
  async masterKeyId(): Promise<string> {
    return `aws:${await this.keyArn()}`;
  }

  async wrapKey(dataKey: Buffer, context: KeyWrapContext): Promise<string> {
    checkDataKey(dataKey);
    const EncryptionContext = contextFields(context);
    const KeyId = await this.keyArn();
    const out = await this.send('Encrypt', context, () =>
      this.client.send(
        new EncryptCommand({
          KeyId,
          Plaintext: dataKey,
          EncryptionContext,
          EncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
        }),
      ),
    );
    if (!(out.CiphertextBlob instanceof Uint8Array) || out.CiphertextBlob.length === 0) {
      throw providerError(
        ErrorCodes.CRYPTO_KEY_PROVIDER,
        this.name,
        'Encrypt',
        'an answer without CiphertextBlob',
      );
    }
    return formatBlob(FORMAT, [Buffer.from(out.CiphertextBlob)]);
  }

  async unwrapKey(wrapped: string, context: KeyWrapContext): Promise<Buffer> {
    const EncryptionContext = contextFields(context);
    const parts = parseBlob(wrapped, FORMAT, 1);
    if (parts === undefined) {
      throw providerError(
        ErrorCodes.CRYPTO_KEY_UNWRAP_FAILED,
        this.name,
        'Decrypt',
        `a blob that is not an ${FORMAT} wrapped key`,
        undefined,
        context,
      );
    }
    const KeyId = await this.keyArn();
    const out = await this.send('Decrypt', context, () =>
      this.client.send(
        new DecryptCommand({
          KeyId,
          CiphertextBlob: bytes(parts[0]!),
          EncryptionContext,
          EncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
        }),
      ),
    );
    const plaintext = out.Plaintext;
    if (!(plaintext instanceof Uint8Array) || plaintext.length !== 32 || out.KeyId !== KeyId) {
      plaintext?.fill(0);
      throw providerError(
        ErrorCodes.CRYPTO_KEY_UNWRAP_FAILED,
        this.name,
        'Decrypt',
        'an answer that is not a 32-byte key from the configured KMS key',
        undefined,
        context,
      );
    }
    return Buffer.from(plaintext.buffer, plaintext.byteOffset, plaintext.length);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.ownsClient) this.client.destroy();
  }

  private keyArn(): Promise<string> {
    if (this.closed) return Promise.reject(closedError(this.name));
    this.arn ??= this.describe();
    this.arn.catch(() => (this.arn = undefined));
    return this.arn;
  }

  private async describe(): Promise<string> {
    const out = await this.send('DescribeKey', undefined, () =>
      this.client.send(new DescribeKeyCommand({ KeyId: this.keyId })),
    );
    const meta = out.KeyMetadata;
    if (meta?.Arn === undefined || !/^arn:[A-Za-z0-9:/_-]{1,190}$/.test(meta.Arn)) {
      throw providerError(
        ErrorCodes.CRYPTO_KEY_PROVIDER,
        this.name,
        'DescribeKey',
        'an answer without a key ARN',
      );
    }
    if (meta.KeyState !== 'Enabled' || meta.KeyUsage !== 'ENCRYPT_DECRYPT') {
      throw providerError(
        ErrorCodes.CRYPTO_MASTER_KEY_UNUSABLE,
        this.name,
        'DescribeKey',
        `a key in state ${String(meta.KeyState)} with usage ${String(meta.KeyUsage)} (needs Enabled, ENCRYPT_DECRYPT)`,
      );
    }
    return meta.Arn;
  }

  private async send<T>(
    operation: string,
    context: KeyWrapContext | undefined,
    fn: () => Promise<T>,
  ): Promise<T> {
    if (this.closed) throw closedError(this.name);
    try {
      return await fn();
    } catch (error) {
      if (error instanceof BulwarkCryptoError) throw error;
      throw providerError(awsCode(error), this.name, operation, awsReason(error), error, context);
    }
  }
}

function awsReason(error: unknown): string {
  const e = error as {
    name?: unknown;
    code?: unknown;
    $metadata?: { httpStatusCode?: number; attempts?: number };
  };
  const name = typeof e?.name === 'string' ? e.name : 'an unknown error';
  const code = typeof e?.code === 'string' && /^E[A-Z]+$/.test(e.code) ? ` ${e.code}` : '';
  const status = e?.$metadata?.httpStatusCode;
  const attempts = e?.$metadata?.attempts;
  const extra = [
    status === undefined ? '' : `HTTP ${status}`,
    attempts === undefined ? '' : `${attempts} attempt(s)`,
  ];
  const shown = extra.filter((x) => x !== '');
  return `${name}${code}${shown.length === 0 ? '' : ` (${shown.join(', ')})`}`;
}

function awsCode(error: unknown): ProviderErrorCode {
  const e = error as { name?: unknown; code?: unknown; $metadata?: { httpStatusCode?: number } };
  const byName = typeof e?.name === 'string' ? BY_NAME[e.name] : undefined;
  if (byName !== undefined) return byName;
  const status = e?.$metadata?.httpStatusCode;
  if (status !== undefined && (status >= 500 || status === 429)) return ErrorCodes.CRYPTO_KMS_UNAVAILABLE;
  if (status === 401 || status === 403) return ErrorCodes.CRYPTO_KMS_ACCESS_DENIED;
  // Connection refused / reset / DNS: the service is unreachable.
  if (typeof e?.code === 'string' && /^E[A-Z]+$/.test(e.code)) return ErrorCodes.CRYPTO_KMS_UNAVAILABLE;
  return ErrorCodes.CRYPTO_KEY_PROVIDER;
}
