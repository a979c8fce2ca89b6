import { BulwarkCryptoError, ErrorCodes } from '../errors';
import { IV_LENGTH, TAG_LENGTH } from './aead';
import { decodeBase64url, decodeBase64urlInto } from './base64url';
import { COMMITMENT_TEXT_LENGTH } from './key-commitment';

/**
 * Envelope grammar (ABNF, RFC 5234). Every part is ASCII; binary parts are unpadded base64url.
 *
 *   envelope     = key-env / subject-env / key-env2 / subject-env2
 *   key-env      = key-fmt "." key-id "." key-version "." iv "." payload
 *   key-fmt      = "bw1" / "bw1d"                 ; d = deterministic (synthetic IV)
 *   subject-env  = subject-fmt "." subject-ref "." iv "." payload
 *   subject-fmt  = "bw1s" / "bw1sd"
 *   key-env2     = key-fmt2 "." key-id "." key-version "." commitment "." iv "." payload
 *   key-fmt2     = "bw2" / "bw2d"
 *   subject-env2 = subject-fmt2 "." subject-ref "." commitment "." iv "." payload
 *   subject-fmt2 = "bw2s" / "bw2sd"
 *   commitment   = 43base64url                    ; 32 bytes, see key-commitment.ts
 *   key-id       = 1*64( ALPHA / DIGIT / "_" / "-" )
 *   key-version  = %x31-39 *9DIGIT               ; 1..4294967295, no leading zero
 *   subject-ref  = 22base64url                    ; HMAC-SHA256(subject-id key, subject id)[0..16]
 *   iv           = 16base64url                    ; 12 bytes
 *   payload      = 22*base64url                   ; ciphertext || 16-byte tag
 *
 * Format 2 (`bw2*`) is key-committing: the commitment is a 256-bit value derived from the data key
 * (key-commitment.ts), checked in constant time before decryption, so an envelope opens under one
 * key only. Format 1 envelopes are still read.
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
/**
 * Header + IV of a well-formed key envelope. Deliberately NOT anchored at the end: the regex reads
 * only the ~40 header characters, never the payload (a character-class scan over a 10 KiB payload
 * cost ~20 µs, more than the AES-GCM work). The payload is validated once, when it is decoded
 * (decodeBody: strict canonical base64url), and must hold no further ".".
 */
const KEY_HEADER = /^(bw1d?)\.([A-Za-z0-9_-]{1,64})\.([1-9][0-9]{0,9})\.([A-Za-z0-9_-]{16})\./;
/** The same for format 2, with the 43-character commitment before the IV. */
const KEY_HEADER_2 =
  /^(bw2d?)\.([A-Za-z0-9_-]{1,64})\.([1-9][0-9]{0,9})\.([A-Za-z0-9_-]{43})\.([A-Za-z0-9_-]{16})\./;

/** Shortest payload: a 16-byte tag is 22 base64url characters. */
const MIN_PAYLOAD_LENGTH = 22;

/** Envelope format version: 1 (not key-committing) or 2 (key-committing). */
export type EnvelopeFormat = 1 | 2;

/** @internal */
export interface KeyEnvelope {
  readonly kind: 'key';
  readonly format: EnvelopeFormat;
  /** Format 2: the key commitment as text (43 base64url characters); '' for format 1. */
  readonly commitment: string;
  readonly deterministic: boolean;
  readonly keyId: string;
  readonly version: number;
  /** The IV as text (16 canonical base64url characters, checked by the parser). */
  readonly ivText: string;
  readonly payload: string;
}

/** @internal */
export interface SubjectEnvelope {
  readonly kind: 'subject';
  readonly format: EnvelopeFormat;
  /** Format 2: the key commitment as text; '' for format 1. */
  readonly commitment: string;
  readonly deterministic: boolean;
  readonly subjectRef: string;
  /** The IV as text (16 canonical base64url characters, checked by the parser). */
  readonly ivText: string;
  readonly payload: string;
}

/** @internal */
export type ParsedEnvelope = KeyEnvelope | SubjectEnvelope;

function malformed(reason: string): BulwarkCryptoError {
  return new BulwarkCryptoError(ErrorCodes.CRYPTO_MALFORMED, `Not a valid Bulwark envelope: ${reason}`);
}

/** Header of a format-1 key envelope. @internal */
export function keyHeader(keyId: string, version: number, deterministic: boolean): string {
  return `${deterministic ? 'bw1d' : 'bw1'}.${keyId}.${version}.`;
}

/** Header of a format-1 subject envelope. @internal */
export function subjectHeader(subjectRef: string, deterministic: boolean): string {
  return `${deterministic ? 'bw1sd' : 'bw1s'}.${subjectRef}.`;
}

/** Header of a format-2 (key-committing) key envelope. @internal */
export function keyHeader2(
  keyId: string,
  version: number,
  deterministic: boolean,
  commitment: string,
): string {
  return `${deterministic ? 'bw2d' : 'bw2'}.${keyId}.${version}.${commitment}.`;
}

/** Header of a format-2 (key-committing) subject envelope. @internal */
export function subjectHeader2(subjectRef: string, deterministic: boolean, commitment: string): string {
  return `${deterministic ? 'bw2sd' : 'bw2s'}.${subjectRef}.${commitment}.`;
}

/** True if `keyId` may be used as a key id (it cannot break the envelope grammar). */
export function isValidKeyId(keyId: unknown): keyId is string {
  return typeof keyId === 'string' && KEY_ID_PATTERN.test(keyId);
}

/**
 * Parses the textual structure of an envelope: format, header fields and IV. IV and payload stay
 * text (decoded later by `decodeBody`) so that callers that only need the header (needsRewrap)
 * do not pay for it. Throws ERR_CRYPTO_MALFORMED / ERR_CRYPTO_UNSUPPORTED_VERSION.
 * @internal
 */
export function parseEnvelope(envelope: unknown): ParsedEnvelope {
  if (typeof envelope !== 'string') throw malformed('expected a string');
  // Fast path for the common, well-formed key envelope: one regex over the header only.
  // A 16-character IV has no unused bits, so any match of the IV group is canonical.
  // The format digit picks the one regex that can match ("bw1..." / "bw2...").
  const m = envelope.charCodeAt(2) === 0x31 ? KEY_HEADER.exec(envelope) : null;
  if (m !== null) {
    const start = m[0].length;
    const version = Number(m[3]);
    // indexOf is a native scan; a "." in the payload is an extra part (the slow path says so).
    if (
      version <= MAX_KEY_VERSION &&
      envelope.length - start >= MIN_PAYLOAD_LENGTH &&
      envelope.indexOf('.', start) === -1
    ) {
      return {
        kind: 'key',
        format: 1,
        commitment: '',
        deterministic: m[1] === 'bw1d',
        keyId: m[2],
        version,
        ivText: m[4],
        payload: envelope.slice(start),
      };
    }
  }
  const m2 = m === null && envelope.charCodeAt(2) === 0x32 ? KEY_HEADER_2.exec(envelope) : null;
  if (m2 !== null) {
    const start = m2[0].length;
    const version = Number(m2[3]);
    if (
      version <= MAX_KEY_VERSION &&
      envelope.length - start >= MIN_PAYLOAD_LENGTH &&
      envelope.indexOf('.', start) === -1
    ) {
      // The commitment is compared as text with the key's canonical one, so a non-canonical
      // spelling of the same bytes simply does not match (no decoding needed here).
      return {
        kind: 'key',
        format: 2,
        commitment: m2[4],
        deterministic: m2[1] === 'bw2d',
        keyId: m2[2],
        version,
        ivText: m2[5],
        payload: envelope.slice(start),
      };
    }
  }
  return parseSlow(envelope);
}

/** Full parse with a precise error for whatever is wrong. */
function parseSlow(envelope: string): ParsedEnvelope {
  const parts = envelope.split('.');
  const kind = Object.hasOwn(KINDS, parts[0]) ? KINDS[parts[0]] : undefined;
  if (kind === undefined) {
    if (/^bw[0-9]+[a-z]*$/.test(parts[0]) && parts.length >= 4) {
      throw new BulwarkCryptoError(
        ErrorCodes.CRYPTO_UNSUPPORTED_VERSION,
        'Unsupported envelope format version; upgrade Bulwark to read it',
      );
    }
    throw malformed('unknown format');
  }
  const { subject, deterministic, format } = kind;
  const expectedParts = (subject ? 4 : 5) + (format === 2 ? 1 : 0);
  if (parts.length !== expectedParts) throw malformed(`expected ${expectedParts} dot-separated parts`);
  const ivText = parts[expectedParts - 2];
  const payload = parts[expectedParts - 1];
  const commitment = format === 2 ? parts[expectedParts - 3] : '';
  if (
    format === 2 &&
    (commitment.length !== COMMITMENT_TEXT_LENGTH || decodeBase64url(commitment) === undefined)
  ) {
    throw malformed('bad key commitment');
  }
  if (ivText.length !== IV_TEXT_LENGTH) throw malformed('bad IV');
  if (decodeBase64url(ivText)?.length !== IV_LENGTH) throw malformed('bad IV');
  if (payload.length < MIN_PAYLOAD_LENGTH) throw malformed('truncated payload');
  if (subject) {
    const subjectRef = parts[1];
    if (subjectRef.length !== SUBJECT_REF_LENGTH || decodeBase64url(subjectRef) === undefined) {
      throw malformed('bad subject reference');
    }
    return { kind: 'subject', format, commitment, deterministic, subjectRef, ivText, payload };
  }
  const keyId = parts[1];
  if (!KEY_ID_PATTERN.test(keyId)) throw malformed('bad key id');
  const versionText = parts[2];
  if (!VERSION_PATTERN.test(versionText)) throw malformed('bad key version');
  const version = Number(versionText);
  if (version > MAX_KEY_VERSION) throw malformed('bad key version');
  return { kind: 'key', format, commitment, deterministic, keyId, version, ivText, payload };
}

/** What an envelope's format prefix says: whose key opens it, and whether it is deterministic. */
export interface EnvelopeKind {
  /** `bw1s` / `bw1sd` / `bw2s` / `bw2sd`: under a data subject's own key; else a named ring key. */
  readonly subject: boolean;
  /** `bw1d` / `bw1sd` / `bw2d` / `bw2sd`: synthetic IV, equal inputs give equal envelopes. */
  readonly deterministic: boolean;
  /** 2: key-committing (`bw2*`); 1: the format before key commitment. */
  readonly format: EnvelopeFormat;
}

const KINDS: Readonly<Record<string, EnvelopeKind>> = Object.freeze({
  bw1: Object.freeze({ subject: false, deterministic: false, format: 1 }),
  bw1d: Object.freeze({ subject: false, deterministic: true, format: 1 }),
  bw1s: Object.freeze({ subject: true, deterministic: false, format: 1 }),
  bw1sd: Object.freeze({ subject: true, deterministic: true, format: 1 }),
  bw2: Object.freeze({ subject: false, deterministic: false, format: 2 }),
  bw2d: Object.freeze({ subject: false, deterministic: true, format: 2 }),
  bw2s: Object.freeze({ subject: true, deterministic: false, format: 2 }),
  bw2sd: Object.freeze({ subject: true, deterministic: true, format: 2 }),
} satisfies Record<string, EnvelopeKind>);

/**
 * The kind of a value shaped like a Bulwark envelope (its format prefix), or `undefined` for
 * anything else: how an ORM adapter tells a stored envelope from plaintext written around it, and
 * a subject envelope from a named-key one, without its own copy of the grammar. Reads only the
 * prefix and validates nothing else: decrypting is what checks the rest (ERR_CRYPTO_MALFORMED).
 */
export function envelopeKind(value: unknown): EnvelopeKind | undefined {
  // Read by character codes, no substring: an ORM calls this for every value it loads. The
  // prefixes are `bw` + format digit + optional `s` + optional `d`, then the first ".".
  if (typeof value !== 'string' || value.charCodeAt(0) !== 0x62 || value.charCodeAt(1) !== 0x77) {
    return undefined;
  }
  const digit = value.charCodeAt(2);
  if (digit !== 0x31 && digit !== 0x32) return undefined;
  let at = 3;
  const subject = value.charCodeAt(at) === 0x73; // s
  if (subject) at++;
  const deterministic = value.charCodeAt(at) === 0x64; // d
  if (deterministic) at++;
  if (value.charCodeAt(at) !== 0x2e) return undefined; // "." (NaN past the end)
  return KIND_TABLE[(digit - 0x31) * 4 + (subject ? 2 : 0) + (deterministic ? 1 : 0)];
}

/** KINDS by (format - 1) * 4 + subject * 2 + deterministic, for envelopeKind. */
const KIND_TABLE: readonly EnvelopeKind[] = [
  KINDS.bw1,
  KINDS.bw1d,
  KINDS.bw1s,
  KINDS.bw1sd,
  KINDS.bw2,
  KINDS.bw2d,
  KINDS.bw2s,
  KINDS.bw2sd,
];

/** Decoded bodies up to this size reuse one scratch buffer; larger ones get their own. */
const SCRATCH_LIMIT = 64 * 1024;
let scratch: Buffer = Buffer.allocUnsafeSlow(1024);
/** scratch's IV view, made once per scratch buffer instead of once per decryption. */
let scratchIv: Buffer = scratch.subarray(0, IV_LENGTH);

/** IV, ciphertext and tag of an envelope, as views. @internal */
export interface EnvelopeBody {
  readonly iv: Buffer;
  readonly ciphertext: Buffer;
  readonly tag: Buffer;
}

/**
 * Decodes IV and payload (strict canonical base64url) into views of ONE buffer: a scratch buffer
 * shared by every call, so a decryption allocates no ArrayBuffer for its input (~2 µs saved at
 * 10 KiB). The views are valid only until the next call: consume them synchronously (the AEAD
 * copies its inputs) and run no caller code in between. They hold IV, ciphertext and tag, which
 * are public, so reusing the buffer leaks nothing.
 * @internal
 */
export function decodeBody(parsed: ParsedEnvelope): EnvelopeBody {
  const { ivText, payload } = parsed;
  // Upper bound; decodeBase64urlInto rejects anything whose exact size differs.
  const size = IV_LENGTH + ((payload.length >>> 2) + 1) * 3;
  let target = scratch;
  if (size > target.length) {
    target = Buffer.allocUnsafeSlow(size);
    if (size <= SCRATCH_LIMIT) {
      scratch = target;
      scratchIv = target.subarray(0, IV_LENGTH);
    }
  }
  // 16 characters carry exactly 96 bits (no unused bits, one spelling); the strict decoder
  // checks every character again anyway, at about a third of a native write's cost.
  if (ivText.length !== IV_TEXT_LENGTH || decodeBase64urlInto(ivText, target, 0) !== IV_LENGTH) {
    throw malformed('bad IV');
  }
  const length = decodeBase64urlInto(payload, target, IV_LENGTH);
  if (length < TAG_LENGTH) throw malformed('bad payload');
  const split = IV_LENGTH + length - TAG_LENGTH;
  return {
    iv: target === scratch ? scratchIv : target.subarray(0, IV_LENGTH),
    ciphertext: target.subarray(IV_LENGTH, split),
    tag: target.subarray(split, split + TAG_LENGTH),
  };
}
