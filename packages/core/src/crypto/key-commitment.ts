import { hkdfSync } from 'node:crypto';

/**
 * Key commitment for format-2 envelopes (`bw2*`).
 *
 * AES-GCM and ChaCha20-Poly1305 are not key-committing: an attacker who chooses two keys can build
 * one ciphertext that authenticates under both and decrypts to two different plaintexts
 * (Albertini, Duong, Gueron, Kölbl, Luykx, Schmieg, "How to Abuse and Fix Authenticated
 * Encryption Without Key Commitment", USENIX Security 2022; Len, Grubbs, Ristenpart, "Partitioning
 * Oracle Attacks", USENIX Security 2021). Format 2 applies the generic fix those papers describe
 * and the AWS Encryption SDK ships (its "committing" algorithm suites): from the data key K derive,
 * with HKDF-SHA256 (RFC 5869) under distinct labels,
 *
 *   encryption key  Ke = HKDF(K, info = "bulwark/v2/aead-key")      used by the AEAD
 *   commitment      C  = HKDF(K, info = "bulwark/v2/key-commitment") 32 bytes, in the envelope
 *
 * and, on decryption, recompute C from the candidate key and compare it in constant time with the
 * envelope's before the AEAD runs. Two keys giving one envelope would need an HKDF (HMAC-SHA256)
 * collision on C (~2^128 work), so an envelope opens under one key only (CMT-1 / "key
 * commitment" in Bellare-Hoang's terms). The commitment is also part of the authenticated header.
 * Unlike the AWS SDK, the derivation has no per-message salt: Bulwark's data keys already live in a
 * key ring with one key per version, so Ke and C are computed once per key version (no per-message
 * cost) and C is a public fingerprint of the version, revealing nothing the header's key id and
 * version do not already say.
 */
const INFO_AEAD_KEY = 'bulwark/v2/aead-key';
const INFO_COMMITMENT = 'bulwark/v2/key-commitment';
/** 256 bits, as the AWS Encryption SDK: collision resistance against an attacker choosing keys. */
export const COMMITMENT_BYTES = 32;
/** The commitment as envelope text: 32 bytes in unpadded base64url. */
export const COMMITMENT_TEXT_LENGTH = 43;

const NO_SALT = Buffer.alloc(0);

/** The AEAD key of format-2 envelopes under data key `raw`. @internal */
export function committedAeadKey(raw: Uint8Array): Buffer {
  return Buffer.from(hkdfSync('sha256', raw, NO_SALT, INFO_AEAD_KEY, raw.length));
}

/** The key commitment of data key `raw`, as the 43 base64url characters envelopes carry. @internal */
export function keyCommitment(raw: Uint8Array): string {
  return Buffer.from(hkdfSync('sha256', raw, NO_SALT, INFO_COMMITMENT, COMMITMENT_BYTES)).toString(
    'base64url',
  );
}

/**
 * Compares an envelope's commitment text with the key's without an early exit (every character is
 * looked at whatever differs: no data-dependent shortcut). The commitment is no secret (every
 * envelope under the key carries it), so this needs no native timingSafeEqual round trip, which
 * cost more than the rest of the check. Lengths are public (43 for well-formed input). @internal
 */
export function commitmentMatches(actual: string, expected: string): boolean {
  if (actual.length !== COMMITMENT_TEXT_LENGTH || expected.length !== COMMITMENT_TEXT_LENGTH) return false;
  let diff = 0;
  for (let i = 0; i < COMMITMENT_TEXT_LENGTH; i++) diff |= actual.charCodeAt(i) ^ expected.charCodeAt(i);
  return diff === 0;
}
