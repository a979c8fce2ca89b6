import { createSecretKey, hkdfSync, type KeyObject } from 'node:crypto';
import { BulwarkCryptoError, BulwarkError, ErrorCodes } from '../errors';
import { AEAD_ALGORITHMS, isAeadAlgorithm, type AeadAlgorithm } from './aead';
import { keyHeader, subjectHeader } from './envelope';

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
  return buildEntry(algorithm, raw, keyHeader(keyId, version, false), keyHeader(keyId, version, true));
}

export function makeSubjectEntry(algorithm: AeadAlgorithm, raw: Buffer, ref: string): CipherEntry {
  return buildEntry(algorithm, raw, subjectHeader(ref, false), subjectHeader(ref, true));
}

function buildEntry(
  algorithm: AeadAlgorithm,
  raw: Buffer,
  headerText: string,
  detHeaderText: string,
): CipherEntry {
  const detRaw = derive(raw, INFO_DETERMINISTIC);
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
  };
}

export function wipeEntry(entry: CipherEntry): void {
  entry.raw.fill(0);
  entry.detRaw.fill(0);
}
