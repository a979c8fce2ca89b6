import { BulwarkCryptoError, ErrorCodes } from '../errors';
import { IV_LENGTH, TAG_LENGTH } from './aead';
import { decodeBase64url } from './base64url';

/**
 * Envelope grammar (ABNF, RFC 5234). Every part is ASCII; binary parts are unpadded base64url.
 *
 *   envelope     = key-env / subject-env
 *   key-env      = key-fmt "." key-id "." key-version "." iv "." payload
 *   key-fmt      = "bw1" / "bw1d"                 ; d = deterministic (synthetic IV)
 *   subject-env  = subject-fmt "." subject-ref "." iv "." payload
 *   subject-fmt  = "bw1s" / "bw1sd"
 *   key-id       = 1*64( ALPHA / DIGIT / "_" / "-" )
 *   key-version  = %x31-39 *9DIGIT               ; 1..4294967295, no leading zero
 *   subject-ref  = 22base64url                    ; HMAC-SHA256(subject-id key, subject id)[0..16]
 *   iv           = 16base64url                    ; 12 bytes
 *   payload      = 22*base64url                   ; ciphertext || 16-byte tag
 *
 * The header is everything before `iv` INCLUDING the trailing ".". It is fed to the AEAD as the
 * first part of the associated data (AAD = header || caller aad), so changing the format, a flag,
 * the key id, the version or the subject reference breaks the tag. The header has a fixed number
 * of dots and ends with one, so it is prefix-free and the concatenation is unambiguous.
 */
export const KEY_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
const VERSION_PATTERN = /^[1-9][0-9]{0,9}$/;
/** Largest key version (fits the 10-digit grammar and a uint32). */
export const MAX_KEY_VERSION = 0xffffffff;
/** Length in bytes of a subject reference (128 bits: collision-free for any realistic population). */
export const SUBJECT_REF_BYTES = 16;
const SUBJECT_REF_LENGTH = 22;
const IV_TEXT_LENGTH = 16;
const KEY_ENVELOPE =
  /^(bw1d?)\.([A-Za-z0-9_-]{1,64})\.([1-9][0-9]{0,9})\.([A-Za-z0-9_-]{16})\.([A-Za-z0-9_-]{22,})$/;

/** @internal */
export interface KeyEnvelope {
  readonly kind: 'key';
  readonly deterministic: boolean;
  readonly keyId: string;
  readonly version: number;
  readonly iv: Buffer;
  readonly payload: string;
}

/** @internal */
export interface SubjectEnvelope {
  readonly kind: 'subject';
  readonly deterministic: boolean;
  readonly subjectRef: string;
  readonly iv: Buffer;
  readonly payload: string;
}

/** @internal */
export type ParsedEnvelope = KeyEnvelope | SubjectEnvelope;

function malformed(reason: string): BulwarkCryptoError {
  return new BulwarkCryptoError(ErrorCodes.CRYPTO_MALFORMED, `Not a valid Bulwark envelope: ${reason}`);
}

/** Header of a key envelope. @internal */
export function keyHeader(keyId: string, version: number, deterministic: boolean): string {
  return `${deterministic ? 'bw1d' : 'bw1'}.${keyId}.${version}.`;
}

/** Header of a subject envelope. @internal */
export function subjectHeader(subjectRef: string, deterministic: boolean): string {
  return `${deterministic ? 'bw1sd' : 'bw1s'}.${subjectRef}.`;
}

/** True if `keyId` may be used as a key id (it cannot break the envelope grammar). */
export function isValidKeyId(keyId: unknown): keyId is string {
  return typeof keyId === 'string' && KEY_ID_PATTERN.test(keyId);
}

/**
 * Parses the textual structure of an envelope: format, header fields and IV. The payload stays
 * text (decoded later by `decodePayload`) so that callers that only need the header
 * (needsRewrap) do not pay for it. Throws ERR_CRYPTO_MALFORMED / ERR_CRYPTO_UNSUPPORTED_VERSION.
 * @internal
 */
export function parseEnvelope(envelope: unknown): ParsedEnvelope {
  if (typeof envelope !== 'string') throw malformed('expected a string');
  // Fast path for the common, well-formed key envelope: one regex pass over the whole string.
  // A 16-character IV has no unused bits, so any match of the IV group is canonical.
  const m = KEY_ENVELOPE.exec(envelope);
  if (m !== null) {
    const version = Number(m[3]);
    if (version <= MAX_KEY_VERSION) {
      return {
        kind: 'key',
        deterministic: m[1] === 'bw1d',
        keyId: m[2],
        version,
        iv: Buffer.from(m[4], 'base64url'),
        payload: m[5],
      };
    }
  }
  return parseSlow(envelope);
}

/** Full parse with a precise error for whatever is wrong. */
function parseSlow(envelope: string): ParsedEnvelope {
  const parts = envelope.split('.');
  const format = parts[0];
  let deterministic: boolean;
  let subject: boolean;
  switch (format) {
    case 'bw1':
      subject = false;
      deterministic = false;
      break;
    case 'bw1d':
      subject = false;
      deterministic = true;
      break;
    case 'bw1s':
      subject = true;
      deterministic = false;
      break;
    case 'bw1sd':
      subject = true;
      deterministic = true;
      break;
    default:
      if (/^bw[0-9]+[a-z]*$/.test(format) && parts.length >= 4) {
        throw new BulwarkCryptoError(
          ErrorCodes.CRYPTO_UNSUPPORTED_VERSION,
          'Unsupported envelope format version; upgrade Bulwark to read it',
        );
      }
      throw malformed('unknown format');
  }
  const expectedParts = subject ? 4 : 5;
  if (parts.length !== expectedParts) throw malformed(`expected ${expectedParts} dot-separated parts`);
  const ivText = parts[expectedParts - 2];
  const payload = parts[expectedParts - 1];
  if (ivText.length !== IV_TEXT_LENGTH) throw malformed('bad IV');
  const iv = decodeBase64url(ivText);
  if (iv === undefined || iv.length !== IV_LENGTH) throw malformed('bad IV');
  // 16-byte tag => at least 22 characters of payload.
  if (payload.length < 22) throw malformed('truncated payload');
  if (subject) {
    const subjectRef = parts[1];
    if (subjectRef.length !== SUBJECT_REF_LENGTH || decodeBase64url(subjectRef) === undefined) {
      throw malformed('bad subject reference');
    }
    return { kind: 'subject', deterministic, subjectRef, iv, payload };
  }
  const keyId = parts[1];
  if (!KEY_ID_PATTERN.test(keyId)) throw malformed('bad key id');
  const versionText = parts[2];
  if (!VERSION_PATTERN.test(versionText)) throw malformed('bad key version');
  const version = Number(versionText);
  if (version > MAX_KEY_VERSION) throw malformed('bad key version');
  return { kind: 'key', deterministic, keyId, version, iv, payload };
}

/** Decodes the payload into ciphertext and tag views. @internal */
export function decodePayload(payload: string): { ciphertext: Buffer; tag: Buffer } {
  const bytes = decodeBase64url(payload);
  if (bytes === undefined || bytes.length < TAG_LENGTH) throw malformed('bad payload');
  const split = bytes.length - TAG_LENGTH;
  return { ciphertext: bytes.subarray(0, split), tag: bytes.subarray(split) };
}
