// The stored form of a human attestation and its shape check, apart from the kit and the signing
// code: stores (and @bulwark/core/store, which the CLI loads) read records without loading either.

export const ATTESTATION_FORMAT = 'bulwark-attestation/1';

/** An attestation as stored. `jws` (when a signer is configured) signs every other field. */
export interface AttestationRecord {
  readonly format: typeof ATTESTATION_FORMAT;
  readonly id: string;
  readonly controlId: string;
  readonly by: string;
  readonly role: string;
  readonly statement: string;
  readonly evidenceUri?: string;
  /** UTC ISO 8601. */
  readonly at: string;
  readonly expiresAt: string;
  readonly recordedAt: string;
  /** Compact JWS (EdDSA, typ `bulwark-attestation+jws`) over the canonical record without `jws`. */
  readonly jws?: string;
  /** Key id of the signature, when signed with a keyed signer. */
  readonly keyId?: string;
}

const ID = /^[A-Za-z0-9._:-]{1,200}$/;

/** Validates a record read from a store or a snapshot (shape only; signatures are checked apart). */
export function parseAttestationRecord(value: unknown, where: string): AttestationRecord {
  const bad = (field: string): Error => new TypeError(`attestation ${where}: ${field} is malformed`);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw bad('record');
  const v = value as Record<string, unknown>;
  if (v.format !== ATTESTATION_FORMAT) throw bad('format');
  for (const f of ['id', 'controlId'] as const) if (typeof v[f] !== 'string' || !ID.test(v[f])) throw bad(f);
  for (const f of ['by', 'role', 'statement'] as const)
    if (typeof v[f] !== 'string' || v[f] === '') throw bad(f);
  for (const f of ['at', 'expiresAt', 'recordedAt'] as const)
    if (typeof v[f] !== 'string' || !Number.isFinite(Date.parse(v[f]))) throw bad(f);
  if (v.evidenceUri !== undefined && typeof v.evidenceUri !== 'string') throw bad('evidenceUri');
  if (v.jws !== undefined && typeof v.jws !== 'string') throw bad('jws');
  if (v.keyId !== undefined && typeof v.keyId !== 'string') throw bad('keyId');
  return {
    format: ATTESTATION_FORMAT,
    id: v.id as string,
    controlId: v.controlId as string,
    by: v.by as string,
    role: v.role as string,
    statement: v.statement as string,
    ...(v.evidenceUri === undefined ? {} : { evidenceUri: v.evidenceUri as string }),
    at: v.at as string,
    expiresAt: v.expiresAt as string,
    recordedAt: v.recordedAt as string,
    ...(v.jws === undefined ? {} : { jws: v.jws as string }),
    ...(v.keyId === undefined ? {} : { keyId: v.keyId as string }),
  };
}
