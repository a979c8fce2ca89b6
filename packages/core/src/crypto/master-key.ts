import { createHmac, randomBytes } from 'node:crypto';
import { BulwarkCryptoError, ErrorCodes } from '../errors';
import { IV_LENGTH, KEY_LENGTH, open, seal, TAG_LENGTH } from './aead';
import { decodeBase64url } from './base64url';
import type { KeyWrapContext } from './key-provider';

/**
 * Generates a new master key: 32 random bytes from the CSPRNG, base64url encoded (43 characters).
 * Put it in BULWARK_MASTER_KEY or a 0600 file read by FileKeyProvider.
 */
export function generateMasterKey(): string {
  const key = randomBytes(KEY_LENGTH);
  const text = key.toString('base64url');
  key.fill(0);
  return text;
}

/**
 * Parses a 32-byte master key written as hex (64 chars), base64 or base64url (43/44 chars).
 * `source` names where it came from; the value itself never appears in an error message.
 * @internal
 */
export function parseMasterKey(text: string | undefined, source: string): Buffer {
  if (text === undefined || text.trim() === '') {
    throw new BulwarkCryptoError(
      ErrorCodes.CRYPTO_KEY_PROVIDER,
      `No master key in ${source}; generate one with \`bulwark keys master\` (32 random bytes, base64url)`,
      { source },
    );
  }
  const value = text.trim();
  let key: Buffer | undefined;
  if (/^[0-9a-fA-F]{64}$/.test(value)) {
    key = Buffer.from(value, 'hex');
  } else if (/^[A-Za-z0-9+/]{43}=?$/.test(value) || /^[A-Za-z0-9_-]{43}$/.test(value)) {
    key = Buffer.from(
      value.replace(/=$/, ''),
      value.includes('+') || value.includes('/') ? 'base64' : 'base64url',
    );
  }
  if (key === undefined || key.length !== KEY_LENGTH) {
    key?.fill(0);
    throw new BulwarkCryptoError(
      ErrorCodes.CRYPTO_KEY_PROVIDER,
      `The master key in ${source} must be exactly 32 bytes encoded as base64, base64url or hex ` +
        `(got ${value.length} characters); generate one with \`bulwark keys master\``,
      { source, length: value.length },
    );
  }
  return key;
}

/**
 * A master key's public identifier: HMAC-SHA256 of a fixed label under the key, first 12 bytes,
 * base64url (16 characters). Like a key check value it names the key without revealing it, so a
 * wrapped key can record which master key wraps it (see master-key rotation).
 * @internal
 */
export function masterKeyFingerprint(masterKey: Buffer): string {
  const mac = createHmac('sha256', masterKey).update('bulwark/master-key-id/v1').digest();
  const id = `k1-${mac.subarray(0, 12).toString('base64url')}`;
  mac.fill(0);
  return id;
}

const WRAP_PREFIX = 'kw1';
const WRAP_LABEL = 'bulwark/key-wrap/v1';

function wrapAad(context: KeyWrapContext): Buffer {
  if (
    context === null ||
    typeof context !== 'object' ||
    typeof context.keyId !== 'string' ||
    !Number.isSafeInteger(context.version)
  ) {
    throw new BulwarkCryptoError(ErrorCodes.CRYPTO_INVALID_ARGUMENT, 'Invalid key wrap context');
  }
  // JSON of a fixed-shape array is an unambiguous encoding of (key id, version).
  return Buffer.from(`${WRAP_LABEL}${JSON.stringify([context.keyId, context.version])}`, 'utf8');
}

/**
 * Wraps a data key under a local master key: AES-256-GCM, random IV, AAD binding the key id and
 * version. Output: `kw1.<iv>.<ciphertext||tag>` (base64url).
 * @internal
 */
export function wrapWithMasterKey(masterKey: Buffer, dataKey: Buffer, context: KeyWrapContext): string {
  if (!(dataKey instanceof Uint8Array) || dataKey.length !== KEY_LENGTH) {
    throw new BulwarkCryptoError(ErrorCodes.CRYPTO_INVALID_ARGUMENT, 'Data keys must be 32 bytes');
  }
  const iv = randomBytes(IV_LENGTH);
  const sealed = seal('aes-256-gcm', masterKey, iv, dataKey, wrapAad(context));
  return `${WRAP_PREFIX}.${iv.toString('base64url')}.${sealed.toString('base64url')}`;
}

/**
 * The wrapped key as a user knows it. The reserved ids (`$ring`, `$subject:<ref>`, see
 * KeyWrapContext) are internals: a message naming `"$ring"` tells an operator nothing, and a
 * subject reference does not belong in an error message.
 */
export function describeWrappedKey(context: KeyWrapContext | undefined): string {
  const id = context?.keyId;
  if (id === '$ring') return "the key ring's internal secret";
  if (typeof id === 'string' && id.startsWith('$subject:')) return "a data subject's key";
  return `the data key ${JSON.stringify(id)} v${context?.version}`;
}

/** Inverse of wrapWithMasterKey; ERR_CRYPTO_KEY_UNWRAP_FAILED on any mismatch. @internal */
export function unwrapWithMasterKey(masterKey: Buffer, wrapped: string, context: KeyWrapContext): Buffer {
  const fail = (cause?: unknown) =>
    new BulwarkCryptoError(
      ErrorCodes.CRYPTO_KEY_UNWRAP_FAILED,
      `Cannot unwrap ${describeWrappedKey(context)}: wrong master key, or the key store was modified`,
      { keyId: context?.keyId, version: context?.version },
      cause === undefined ? undefined : { cause },
    );
  const aad = wrapAad(context);
  if (typeof wrapped !== 'string') throw fail();
  const parts = wrapped.split('.');
  if (parts.length !== 3 || parts[0] !== WRAP_PREFIX) throw fail();
  const iv = decodeBase64url(parts[1]);
  const sealed = decodeBase64url(parts[2]);
  if (iv === undefined || iv.length !== IV_LENGTH || sealed === undefined) throw fail();
  if (sealed.length !== KEY_LENGTH + TAG_LENGTH) throw fail();
  try {
    return open(
      'aes-256-gcm',
      masterKey,
      iv,
      sealed.subarray(0, KEY_LENGTH),
      sealed.subarray(KEY_LENGTH),
      aad,
    );
  } catch (cause) {
    throw fail(cause);
  }
}
