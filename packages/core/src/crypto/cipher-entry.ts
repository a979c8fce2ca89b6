import { createSecretKey, hkdfSync, type KeyObject } from 'node:crypto';
import { BulwarkCryptoError, BulwarkError, ErrorCodes } from '../errors';
import { AEAD_ALGORITHMS, isAeadAlgorithm, type AeadAlgorithm } from './aead';
import { keyHeader, keyHeader2, subjectHeader, subjectHeader2 } from './envelope';
import { committedAeadKey, keyCommitment } from './key-commitment';

// The unwrapped key material of the key ring and the HKDF derivations made from it. Internal to
// crypto/: nothing here is exported from the package.

/** Key material for one key version or one subject, ready for the hot path. */
export interface CipherEntry {
  readonly algorithm: AeadAlgorithm;
  /** Unwrapped data key; kept only so close() can zero it. */
  readonly raw: Buffer;
  readonly key: KeyObject;
  /** HKDF-derived key for synthetic IVs (deterministic mode). */
  readonly detRaw: Buffer;
  readonly detKey: KeyObject;
  readonly headerText: string;
  readonly header: Buffer;
  readonly detHeaderText: string;
  readonly detHeader: Buffer;
  /** Format 2 (key-committing): the derived AEAD key, the commitment and the headers. */
  readonly v2: CommittedEntry;
}

/** What format-2 envelopes need of a key (see key-commitment.ts). */
export interface CommittedEntry {
  readonly raw: Buffer;
  readonly key: KeyObject;
  /** The commitment as envelope text. */
  readonly commitment: string;
  readonly headerText: string;
  readonly header: Buffer;
  readonly detHeaderText: string;
  readonly detHeader: Buffer;
}

// HKDF-SHA256 (RFC 5869) "info" labels: one per purpose, so no two derived keys coincide.
const INFO_DETERMINISTIC = 'bulwark/v1/deterministic-iv';
export const INFO_BLIND_INDEX = 'bulwark/v1/blind-index/';
export const INFO_SUBJECT_REF = 'bulwark/v1/subject-ref';
export const EMPTY = Buffer.alloc(0);

export function derive(raw: Buffer, info: string): Buffer {
  return Buffer.from(hkdfSync('sha256', raw, EMPTY, info, 32));
}

export function cryptoError(
  code: string,
  message: string,
  details?: Record<string, unknown>,
): BulwarkCryptoError {
  return new BulwarkCryptoError(code, message, details);
}

/** Anything that escapes the ring is a BulwarkCryptoError (fail closed, typed). */
export function asCryptoError(error: unknown, code: string, message: string): BulwarkError {
  if (error instanceof BulwarkError) return error;
  return new BulwarkCryptoError(code, message, undefined, { cause: error });
}

export function checkAlgorithm(algorithm: unknown): AeadAlgorithm {
  if (!isAeadAlgorithm(algorithm)) {
    throw cryptoError(
      ErrorCodes.CRYPTO_UNSUPPORTED_ALGORITHM,
      `Unsupported algorithm; use one of ${AEAD_ALGORITHMS.join(', ')}`,
    );
  }
  return algorithm;
}

export function makeEntry(
  algorithm: AeadAlgorithm,
  raw: Buffer,
  keyId: string,
  version: number,
): CipherEntry {
  const commitment = keyCommitment(raw);
  return buildEntry(
    algorithm,
    raw,
    keyHeader(keyId, version, false),
    keyHeader(keyId, version, true),
    commitment,
    keyHeader2(keyId, version, false, commitment),
    keyHeader2(keyId, version, true, commitment),
  );
}

export function makeSubjectEntry(algorithm: AeadAlgorithm, raw: Buffer, ref: string): CipherEntry {
  const commitment = keyCommitment(raw);
  return buildEntry(
    algorithm,
    raw,
    subjectHeader(ref, false),
    subjectHeader(ref, true),
    commitment,
    subjectHeader2(ref, false, commitment),
    subjectHeader2(ref, true, commitment),
  );
}

function buildEntry(
  algorithm: AeadAlgorithm,
  raw: Buffer,
  headerText: string,
  detHeaderText: string,
  commitment: string,
  header2Text: string,
  detHeader2Text: string,
): CipherEntry {
  const detRaw = derive(raw, INFO_DETERMINISTIC);
  const raw2 = committedAeadKey(raw);
  return {
    algorithm,
    raw,
    key: createSecretKey(raw),
    detRaw,
    detKey: createSecretKey(detRaw),
    headerText,
    header: Buffer.from(headerText, 'latin1'),
    detHeaderText,
    detHeader: Buffer.from(detHeaderText, 'latin1'),
    v2: {
      raw: raw2,
      key: createSecretKey(raw2),
      commitment,
      headerText: header2Text,
      header: Buffer.from(header2Text, 'latin1'),
      detHeaderText: detHeader2Text,
      detHeader: Buffer.from(detHeader2Text, 'latin1'),
    },
  };
}

export function wipeEntry(entry: CipherEntry): void {
  entry.raw.fill(0);
  entry.detRaw.fill(0);
  entry.v2.raw.fill(0);
}
