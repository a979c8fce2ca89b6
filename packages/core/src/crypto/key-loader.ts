import { ErrorCodes } from '../errors';
import { KEY_LENGTH } from './aead';
import { asCryptoError, cryptoError } from './cipher-entry';
import type { KeyProvider, KeyWrapContext } from './key-provider';
import type { KeyStore } from './key-store';
import { describeWrappedKey } from './master-key';

const MASTER_ID = /^[A-Za-z0-9_:/+=-]{1,200}$/;
const TAG_PREFIX = 'mk1.';

/**
 * A stored wrapped key is `mk1.<masterKeyId>.<provider's blob>` when the provider names its master
 * key (KeyProvider.masterKeyId), else the provider's blob alone (stores written before master-key
 * rotation existed, or providers without an id).
 * @internal
 */
export function parseWrapping(stored: string): { masterKeyId: string | undefined; blob: string } {
  if (stored.startsWith(TAG_PREFIX)) {
    const end = stored.indexOf('.', TAG_PREFIX.length);
    const id = end < 0 ? '' : stored.slice(TAG_PREFIX.length, end);
    if (MASTER_ID.test(id)) return { masterKeyId: id, blob: stored.slice(end + 1) };
  }
  return { masterKeyId: undefined, blob: stored };
}

function tagWrapping(masterKeyId: string | undefined, blob: string): string {
  return masterKeyId === undefined ? blob : `${TAG_PREFIX}${masterKeyId}.${blob}`;
}

/**
 * The key ring's access to its master key and its store: wrapping and unwrapping data keys, store
 * calls whose failures become typed errors, and the ring's clock and open state, which the named
 * keys and the subject keys share.
 *
 * With a `previous` provider (a master-key rotation in progress) new keys are wrapped by
 * `provider` only; a stored key is unwrapped by the provider whose master-key id it records, or,
 * for a key that records none, by `provider` and then `previous`.
 */
/** A stored key that did not unwrap, or an envelope whose key commitment did not match: no key material. */
export interface KeyIntegrityFailure {
  /** The named key, `$subject` for a data-subject key, `$ring` for the ring secret. */
  readonly keyId: string;
  readonly version?: number;
  /** `unwrap` (the master key / KMS refused the stored key) or `commitment` (a bw2 envelope's commitment did not match its key). */
  readonly kind: 'unwrap' | 'commitment';
  /** The error code the caller got. */
  readonly code: string;
}

export class KeyLoader {
  closed = false;
  /** Told of every unwrap failure (the ring's integrity-alarm hook); must not throw. */
  onIntegrityFailure?: (failure: KeyIntegrityFailure) => void;
  private ids: Promise<{ current: string | undefined; previous: string | undefined }> | undefined;

  constructor(
    readonly provider: KeyProvider,
    readonly store: KeyStore,
    private readonly clock: () => Date,
    readonly previous?: KeyProvider,
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

  /**
   * The master-key ids of the current and previous providers (undefined for a provider without
   * `masterKeyId`), asked once. The same id for both is refused: the "new" master key would be
   * the old one.
   */
  masterKeyIds(): Promise<{ current: string | undefined; previous: string | undefined }> {
    this.ids ??= (async () => {
      const current = await masterIdOf(this.provider);
      const previous = this.previous === undefined ? undefined : await masterIdOf(this.previous);
      if (current !== undefined && current === previous) {
        throw cryptoError(
          ErrorCodes.CRYPTO_INVALID_ARGUMENT,
          `The new master key (${this.provider.name}) is the same key as the previous one (${this.previous!.name}): give a different new master key`,
          { masterKeyId: current },
        );
      }
      return { current, previous };
    })();
    this.ids.catch(() => (this.ids = undefined));
    return this.ids;
  }

  async wrap(dataKey: Buffer, context: KeyWrapContext): Promise<string> {
    const { current } = await this.masterKeyIds();
    return tagWrapping(current, await wrapWith(this.provider, dataKey, context));
  }

  async unwrap(wrapped: string, context: KeyWrapContext): Promise<Buffer> {
    try {
      return await this.unwrapAny(wrapped, context);
    } catch (error) {
      this.reportFailure({
        keyId: publicKeyId(context),
        version: context.version,
        kind: 'unwrap',
        code:
          (error as { code?: unknown })?.code === undefined
            ? 'unknown'
            : String((error as { code: unknown }).code),
      });
      throw error;
    }
  }

  /** Calls the integrity hook; a hook that throws never changes what the caller gets. */
  reportFailure(failure: KeyIntegrityFailure): void {
    try {
      this.onIntegrityFailure?.(Object.freeze(failure));
    } catch {
      // the alarm path must not break decryption's own error
    }
  }

  private async unwrapAny(wrapped: string, context: KeyWrapContext): Promise<Buffer> {
    const { masterKeyId, blob } = parseWrapping(wrapped);
    const { current, previous } = await this.masterKeyIds();
    const all: Array<[KeyProvider, string | undefined]> = [[this.provider, current]];
    if (this.previous !== undefined) all.push([this.previous, previous]);
    // A recorded id picks its provider; providers without an id might hold it too.
    const candidates =
      masterKeyId === undefined ? all : all.filter(([, id]) => id === undefined || id === masterKeyId);
    if (candidates.length === 0) {
      const given =
        this.previous === undefined
          ? `the master key given is ${current}`
          : `the master keys given are ${current} and ${previous}`;
      throw cryptoError(
        ErrorCodes.CRYPTO_KEY_UNWRAP_FAILED,
        `Cannot unwrap ${describeWrappedKey(context)}: it is wrapped by master key ${masterKeyId}, but ${given}: ` +
          'wrong master key (during a master-key rotation, give the other one as the previous master key)',
        { keyId: publicKeyId(context), masterKeyId },
      );
    }
    let first: unknown;
    for (const [provider] of candidates) {
      try {
        return await unwrapWith(provider, blob, context);
      } catch (error) {
        first ??= error;
      }
    }
    throw first;
  }

  /** Unwraps with the current provider only (rotation's read-back check). */
  unwrapCurrent(wrapped: string, context: KeyWrapContext): Promise<Buffer> {
    return unwrapWith(this.provider, parseWrapping(wrapped).blob, context);
  }
}

function publicKeyId(context: KeyWrapContext): string {
  return context.keyId.startsWith('$subject:') ? '$subject' : context.keyId;
}

async function masterIdOf(provider: KeyProvider): Promise<string | undefined> {
  if (typeof provider.masterKeyId !== 'function') return undefined;
  let id: unknown;
  try {
    id = await provider.masterKeyId();
  } catch (error) {
    throw asCryptoError(error, ErrorCodes.CRYPTO_KEY_PROVIDER, `Key provider ${provider.name} failed`);
  }
  if (typeof id !== 'string' || !MASTER_ID.test(id)) {
    throw cryptoError(
      ErrorCodes.CRYPTO_KEY_PROVIDER,
      `Key provider ${provider.name} returned an invalid masterKeyId (expected ${String(MASTER_ID)})`,
    );
  }
  return id;
}

async function wrapWith(provider: KeyProvider, dataKey: Buffer, context: KeyWrapContext): Promise<string> {
  let wrapped: unknown;
  try {
    wrapped = await provider.wrapKey(dataKey, context);
  } catch (error) {
    throw asCryptoError(error, ErrorCodes.CRYPTO_KEY_PROVIDER, `Key provider ${provider.name} failed`);
  }
  if (typeof wrapped !== 'string' || wrapped === '') {
    throw cryptoError(
      ErrorCodes.CRYPTO_KEY_PROVIDER,
      `Key provider ${provider.name} returned no wrapped key`,
    );
  }
  return wrapped;
}

async function unwrapWith(provider: KeyProvider, wrapped: string, context: KeyWrapContext): Promise<Buffer> {
  let key: unknown;
  try {
    key = await provider.unwrapKey(wrapped, context);
  } catch (error) {
    throw asCryptoError(error, ErrorCodes.CRYPTO_KEY_PROVIDER, `Key provider ${provider.name} failed`);
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
