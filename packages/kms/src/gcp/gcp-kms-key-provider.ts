import { KeyManagementServiceClient } from '@google-cloud/kms';
import { BulwarkCryptoError, ErrorCodes, type KeyProvider, type KeyWrapContext } from '@bulwark/core';
import { crc32c } from '../lib/crc32c';
import {
  checkDataKey,
  closedError,
  optionError,
  providerError,
  type ProviderErrorCode,
} from '../lib/provider-errors';
import { contextAad } from '../lib/wrap-context';
import { bytes, formatBlob, parseBlob } from '../lib/wrapped-blob';

type ClientOptions = NonNullable<ConstructorParameters<typeof KeyManagementServiceClient>[0]>;

export interface GcpKmsKeyProviderOptions {
  /** The CryptoKey: `projects/<p>/locations/<l>/keyRings/<r>/cryptoKeys/<k>` (purpose ENCRYPT_DECRYPT). */
  keyName: string;
  /**
   * Options of the KeyManagementServiceClient the provider makes (credentials, projectId,
   * apiEndpoint…), over `fallback: true`: the REST transport (HTTP/1.1 + JSON) rather than gRPC.
   */
  clientOptions?: ClientOptions;
  /** A client of your own instead; not closed by close(). */
  client?: KeyManagementServiceClient;
  /**
   * Deadline of one call, retries included, in ms (default 10000). Enforced by the provider (the
   * REST transport does not apply gax's RPC timeouts): the call is cancelled and fails with
   * ERR_CRYPTO_KMS_UNAVAILABLE.
   */
  timeoutMs?: number;
  /** Attempts per call, the first included (default 3); UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED and INTERNAL are retried. */
  maxAttempts?: number;
}

const FORMAT = 'gcpkms1';
/** KeyProvider.masterKeyId is at most 200 characters (core refuses longer ids on every open). */
const MAX_MASTER_KEY_ID = 200;
const ID_PREFIX = 'gcp:';
const KEY_NAME =
  /^projects\/[a-z0-9-]{1,63}\/locations\/[a-z0-9-]{1,63}\/keyRings\/[A-Za-z0-9_-]{1,63}\/cryptoKeys\/[A-Za-z0-9_-]{1,63}$/;

/** gRPC status codes (google.rpc.Code) a KMS call can end with. */
const BY_STATUS: Readonly<Record<number, ProviderErrorCode>> = {
  3: ErrorCodes.CRYPTO_KEY_PROVIDER, // INVALID_ARGUMENT (unwrap: the ciphertext or AAD does not verify)
  4: ErrorCodes.CRYPTO_KMS_UNAVAILABLE, // DEADLINE_EXCEEDED
  5: ErrorCodes.CRYPTO_MASTER_KEY_UNUSABLE, // NOT_FOUND
  7: ErrorCodes.CRYPTO_KMS_ACCESS_DENIED, // PERMISSION_DENIED
  8: ErrorCodes.CRYPTO_KMS_UNAVAILABLE, // RESOURCE_EXHAUSTED (quota)
  9: ErrorCodes.CRYPTO_MASTER_KEY_UNUSABLE, // FAILED_PRECONDITION (version disabled / destroyed)
  13: ErrorCodes.CRYPTO_KMS_UNAVAILABLE, // INTERNAL
  14: ErrorCodes.CRYPTO_KMS_UNAVAILABLE, // UNAVAILABLE
  16: ErrorCodes.CRYPTO_KMS_ACCESS_DENIED, // UNAUTHENTICATED
};
const STATUS_NAMES: Readonly<Record<number, string>> = {
  3: 'INVALID_ARGUMENT',
  4: 'DEADLINE_EXCEEDED',
  5: 'NOT_FOUND',
  7: 'PERMISSION_DENIED',
  8: 'RESOURCE_EXHAUSTED',
  9: 'FAILED_PRECONDITION',
  13: 'INTERNAL',
  14: 'UNAVAILABLE',
  16: 'UNAUTHENTICATED',
};
const BY_HTTP_STATUS: Readonly<Record<number, string>> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  502: 'UNAVAILABLE',
  503: 'UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
};
const CODE_OF_NAME = Object.fromEntries(
  Object.entries(STATUS_NAMES).map(([code, name]) => [name, Number(code)]),
);
/**
 * Retried: gRPC UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, INTERNAL; and, because on the
 * REST transport google-auth-library's fetch rejects a non-2xx answer with a GaxiosError whose
 * `code` is the HTTP status (so gax's retry, which compares `code`, never sees a gRPC code),
 * the HTTP statuses of the same conditions.
 */
const RETRY_CODES = [4, 8, 13, 14, 429, 500, 502, 503, 504];

/**
 * Master key in Google Cloud KMS (a symmetric ENCRYPT_DECRYPT CryptoKey, any protection level:
 * software, HSM, external). Data keys are wrapped with `encrypt` and unwrapped with `decrypt`,
 * the wrap context (key id, version) as additionalAuthenticatedData, which Cloud KMS binds to
 * the ciphertext and does not log. Google's end-to-end integrity checks are done: CRC32C of
 * plaintext and AAD sent and confirmed by the service, CRC32C of the answer checked. Cloud KMS
 * key rotation (a new primary version) needs nothing here: the ciphertext names its version.
 * Stored form: `gcpkms1.<ciphertext>` (base64url).
 *
 * IAM: roles/cloudkms.cryptoKeyEncrypterDecrypter on the key.
 */
export class GcpKmsKeyProvider implements KeyProvider {
  readonly name: string;
  private readonly keyName: string;
  private readonly client: KeyManagementServiceClient;
  private readonly ownsClient: boolean;
  /** gax CallOptions (typed here so the declarations need not import google-gax). */
  private readonly callOptions: {
    timeout: number;
    retry: {
      retryCodes: number[];
      backoffSettings: {
        initialRetryDelayMillis: number;
        retryDelayMultiplier: number;
        maxRetryDelayMillis: number;
        initialRpcTimeoutMillis: number;
        rpcTimeoutMultiplier: number;
        maxRpcTimeoutMillis: number;
        maxRetries: number;
      };
    };
  };
  private readonly timeoutMs: number;
  private closed = false;

  constructor(options: GcpKmsKeyProviderOptions) {
    if (options === null || typeof options !== 'object')
      throw optionError('GcpKmsKeyProvider', 'an options object');
    if (typeof options.keyName !== 'string' || !KEY_NAME.test(options.keyName)) {
      throw optionError(
        'GcpKmsKeyProvider.keyName',
        'projects/<p>/locations/<l>/keyRings/<r>/cryptoKeys/<k>',
      );
    }
    if (ID_PREFIX.length + options.keyName.length > MAX_MASTER_KEY_ID) {
      throw optionError(
        'GcpKmsKeyProvider.keyName',
        `a key name of at most ${MAX_MASTER_KEY_ID - ID_PREFIX.length} characters (it names the master key)`,
      );
    }
    if (options.client !== undefined && !(options.client instanceof KeyManagementServiceClient)) {
      throw optionError('GcpKmsKeyProvider.client', 'a KeyManagementServiceClient');
    }
    const timeoutMs = options.timeoutMs ?? 10000;
    const maxAttempts = options.maxAttempts ?? 3;
    if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1)
      throw optionError('GcpKmsKeyProvider.timeoutMs', 'a positive integer');
    if (!Number.isSafeInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > 10) {
      throw optionError('GcpKmsKeyProvider.maxAttempts', 'an integer from 1 to 10');
    }
    this.keyName = options.keyName;
    this.timeoutMs = timeoutMs;
    this.name = `gcp-kms:${options.keyName}`;
    this.ownsClient = options.client === undefined;
    this.client =
      options.client ?? new KeyManagementServiceClient({ fallback: true, ...options.clientOptions });
    this.callOptions = {
      timeout: timeoutMs,
      retry: {
        retryCodes: RETRY_CODES,
        backoffSettings: {
          initialRetryDelayMillis: 100,
          retryDelayMultiplier: 2,
          maxRetryDelayMillis: 2000,
          initialRpcTimeoutMillis: timeoutMs,
          rpcTimeoutMultiplier: 1,
          maxRpcTimeoutMillis: timeoutMs,
          // gax counts every attempt, the first included, against maxRetries.
          maxRetries: maxAttempts,
        },
      },
    };
  }

  /** `gcp:<CryptoKey name>`: the key and all its versions are one master key. */
  async masterKeyId(): Promise<string> {
    if (this.closed) throw closedError(this.name);
    return `${ID_PREFIX}${this.keyName}`;
  }

  async wrapKey(dataKey: Buffer, context: KeyWrapContext): Promise<string> {
    checkDataKey(dataKey);
    const aad = contextAad(context);
    const [out] = await this.call('encrypt', context, () =>
      this.client.encrypt(
        {
          name: this.keyName,
          plaintext: dataKey,
          additionalAuthenticatedData: aad,
          plaintextCrc32c: { value: crc32c(dataKey) },
          additionalAuthenticatedDataCrc32c: { value: crc32c(aad) },
        },
        this.callOptions,
      ),
    );
    const ciphertext = out.ciphertext instanceof Uint8Array ? Buffer.from(out.ciphertext) : undefined;
    if (
      ciphertext === undefined ||
      ciphertext.length === 0 ||
      out.verifiedPlaintextCrc32c !== true ||
      out.verifiedAdditionalAuthenticatedDataCrc32c !== true ||
      int64(out.ciphertextCrc32c?.value) !== crc32c(ciphertext) ||
      typeof out.name !== 'string' ||
      !out.name.startsWith(`${this.keyName}/cryptoKeyVersions/`)
    ) {
      throw providerError(
        ErrorCodes.CRYPTO_KEY_PROVIDER,
        this.name,
        'encrypt',
        'an answer that failed the CRC32C integrity checks or names another key',
      );
    }
    return formatBlob(FORMAT, [ciphertext]);
  }

  async unwrapKey(wrapped: string, context: KeyWrapContext): Promise<Buffer> {
    const aad = contextAad(context);
    const parts = parseBlob(wrapped, FORMAT, 1);
    if (parts === undefined) {
      throw providerError(
        ErrorCodes.CRYPTO_KEY_UNWRAP_FAILED,
        this.name,
        'decrypt',
        `a blob that is not a ${FORMAT} wrapped key`,
        undefined,
        context,
      );
    }
    const ciphertext = bytes(parts[0]!);
    const [out] = await this.call('decrypt', context, () =>
      this.client.decrypt(
        {
          name: this.keyName,
          ciphertext,
          additionalAuthenticatedData: aad,
          ciphertextCrc32c: { value: crc32c(ciphertext) },
          additionalAuthenticatedDataCrc32c: { value: crc32c(aad) },
        },
        this.callOptions,
      ),
    );
    const plaintext = out.plaintext instanceof Uint8Array ? Buffer.from(out.plaintext) : undefined;
    if (plaintext?.length !== 32 || int64(out.plaintextCrc32c?.value) !== crc32c(plaintext)) {
      plaintext?.fill(0);
      throw providerError(
        ErrorCodes.CRYPTO_KEY_UNWRAP_FAILED,
        this.name,
        'decrypt',
        'an answer that is not a 32-byte key or failed the CRC32C integrity check',
        undefined,
        context,
      );
    }
    if (out.plaintext instanceof Uint8Array) out.plaintext.fill(0);
    return plaintext;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.ownsClient) await this.client.close();
  }

  private async call<T>(
    operation: 'encrypt' | 'decrypt',
    context: KeyWrapContext,
    fn: () => Promise<T>,
  ): Promise<T> {
    if (this.closed) throw closedError(this.name);
    let timer: NodeJS.Timeout | undefined;
    try {
      const call = fn() as Promise<T> & { cancel?: () => void };
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          call.cancel?.();
          reject(Object.assign(new Error('deadline exceeded'), { code: 4 }));
        }, this.timeoutMs);
      });
      return await Promise.race([call, deadline]);
    } catch (error) {
      if (error instanceof BulwarkCryptoError) throw error;
      const status = grpcStatus(error);
      let code: ProviderErrorCode =
        typeof status === 'number'
          ? (BY_STATUS[status] ?? ErrorCodes.CRYPTO_KEY_PROVIDER)
          : ErrorCodes.CRYPTO_KMS_UNAVAILABLE;
      // Cloud KMS answers INVALID_ARGUMENT to a ciphertext or AAD that does not verify.
      if (status === 3 && operation === 'decrypt') code = ErrorCodes.CRYPTO_KEY_UNWRAP_FAILED;
      const reason =
        typeof status === 'number'
          ? (STATUS_NAMES[status] ?? `gRPC status ${status}`)
          : `a network error (${(error as Error)?.name})`;
      throw providerError(code, this.name, operation, reason, error, context);
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * The google.rpc.Code of a failed call: a GoogleError's `code`, or for a GaxiosError (HTTP status
 * in `code`) the `status` name of the JSON error body, else the HTTP status's usual code.
 */
function grpcStatus(error: unknown): number | undefined {
  const code = (error as { code?: unknown })?.code;
  if (typeof code !== 'number') return undefined;
  if (code < 100) return code;
  const body = error instanceof Error ? error.message : '';
  const named = /"status"\s*:\s*"([A-Z_]{1,40})"/.exec(body)?.[1];
  const name = named !== undefined && named in CODE_OF_NAME ? named : BY_HTTP_STATUS[code];
  return name === undefined ? (code >= 500 ? 14 : undefined) : CODE_OF_NAME[name];
}

/** An Int64Value's value as a number (protobuf.js may give a string or a Long-like). */
function int64(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && /^\d{1,10}$/.test(value)) return Number(value);
  if (value !== null && typeof value === 'object' && 'toString' in value) {
    const text = String(value);
    return /^\d{1,10}$/.test(text) ? Number(text) : undefined;
  }
  return undefined;
}
