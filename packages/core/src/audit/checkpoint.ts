import type { KeyObject } from 'node:crypto';
import type { CryptoKey, JWK } from 'jose';
import { BulwarkAuditError, ErrorCodes } from '../errors';
import { jose } from '../lib/jose';
import { normalizeAuditTime } from './audit-event';

/**
 * Signed tree heads ("checkpoints", RFC 9162 §4.10 / the transparency-dev checkpoint idea):
 * `{ treeSize, rootHash, time, logId? }` signed with Ed25519 as a compact JWS. Kept apart from
 * the log (and ideally published or shipped off-host), a checkpoint lets a verifier prove that
 * the current log still contains exactly the first `treeSize` entries it signed, so truncating,
 * rewriting or replacing the whole log is caught even by someone who controls the log's storage.
 */

export interface TreeHead {
  treeSize: number;
  /** Hex Merkle root of the first `treeSize` leaves. */
  rootHash: string;
  /** UTC ISO-8601 signing time. */
  time: string;
  logId?: string;
}

export interface Checkpoint extends TreeHead {
  /** Compact JWS over the canonical tree head; the only part a verifier trusts. */
  jws: string;
}

/** JWS `typ` of checkpoints (explicit typing, RFC 8725 §3.11), so no other JWS is accepted as one. */
export const CHECKPOINT_JWS_TYPE = 'bulwark-checkpoint+jws';
/** The only algorithm accepted: Ed25519 (RFC 8037), as `EdDSA`. */
export const CHECKPOINT_ALGORITHMS = Object.freeze(['EdDSA']);

/** A public key a checkpoint is verified with: an Ed25519 public JWK, CryptoKey or KeyObject. */
export type CheckpointPublicKey = JWK | CryptoKey | KeyObject;

const HEX64 = /^[0-9a-f]{64}$/;
const EXPORT_FORMAT = 'bulwark-checkpoint/1';

function invalid(
  message: string,
  reason: 'malformed' | 'bad-signature' | 'wrong-key',
  cause?: unknown,
): BulwarkAuditError {
  return new BulwarkAuditError(
    ErrorCodes.AUDIT_CHECKPOINT_INVALID,
    message,
    { reason },
    cause === undefined ? undefined : { cause },
  );
}

/** Validates a decoded tree head payload; throws ERR_AUDIT_CHECKPOINT_INVALID. */
export function parseTreeHead(value: unknown): TreeHead {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw invalid('checkpoint payload is not an object', 'malformed');
  const v = value as Record<string, unknown>;
  if (!Number.isSafeInteger(v.treeSize) || (v.treeSize as number) < 0)
    throw invalid('checkpoint treeSize is not a non-negative integer', 'malformed');
  if (typeof v.rootHash !== 'string' || !HEX64.test(v.rootHash))
    throw invalid('checkpoint rootHash is not 64 hex characters', 'malformed');
  let time: string;
  try {
    time = normalizeAuditTime(v.time);
  } catch {
    throw invalid('checkpoint time is not a valid UTC time', 'malformed');
  }
  const head: TreeHead = { treeSize: v.treeSize as number, rootHash: v.rootHash, time };
  if (v.logId !== undefined) {
    if (typeof v.logId !== 'string' || v.logId.length === 0 || v.logId.length > 256)
      throw invalid('checkpoint logId is not a string', 'malformed');
    head.logId = v.logId;
  }
  return head;
}

/**
 * Reads a checkpoint JWS WITHOUT verifying its signature (for stores and listings). Never base
 * a security decision on the result; use `verifyCheckpoint`.
 */
export function decodeCheckpoint(jws: string): Checkpoint {
  if (typeof jws !== 'string' || jws.length > 4096)
    throw invalid('checkpoint is not a compact JWS', 'malformed');
  const parts = jws.split('.');
  if (parts.length !== 3) throw invalid('checkpoint is not a compact JWS', 'malformed');
  let payload: unknown;
  try {
    const header = jose().decodeProtectedHeader(jws);
    if (header.typ !== CHECKPOINT_JWS_TYPE) throw new Error('typ');
    payload = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8'));
  } catch (err) {
    throw invalid('checkpoint is not a Bulwark checkpoint JWS', 'malformed', err);
  }
  return { ...parseTreeHead(payload), jws };
}

async function toVerifyKey(key: CheckpointPublicKey): Promise<CryptoKey | KeyObject> {
  if (key !== null && typeof key === 'object' && 'kty' in key) {
    const jwk = key as JWK;
    if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') {
      throw invalid('checkpoint public key must be an Ed25519 JWK (kty OKP, crv Ed25519)', 'wrong-key');
    }
    if (jwk.d !== undefined)
      throw invalid('pass the public key, not the private key, to verify checkpoints', 'wrong-key');
    try {
      return (await jose().importJWK({ kty: 'OKP', crv: 'Ed25519', x: jwk.x }, 'EdDSA')) as CryptoKey;
    } catch (err) {
      throw invalid('checkpoint public key is not a valid Ed25519 key', 'wrong-key', err);
    }
  }
  return key as CryptoKey | KeyObject;
}

/**
 * Verifies a checkpoint's signature (EdDSA only, `typ` bulwark-checkpoint+jws) and returns the
 * tree head from the signed payload. Throws ERR_AUDIT_CHECKPOINT_INVALID with
 * `details.reason` 'malformed' | 'bad-signature' | 'wrong-key'.
 */
export async function verifyCheckpoint(
  checkpoint: string | Pick<Checkpoint, 'jws'>,
  publicKey: CheckpointPublicKey,
  options: { logId?: string } = {},
): Promise<Checkpoint> {
  const jws = typeof checkpoint === 'string' ? checkpoint : checkpoint?.jws;
  decodeCheckpoint(jws); // shape, typ and payload first: a clear 'malformed' before crypto
  const key = await toVerifyKey(publicKey);
  let payload: Uint8Array;
  try {
    const result = await jose().compactVerify(jws, key, { algorithms: [...CHECKPOINT_ALGORITHMS] });
    if (result.protectedHeader.typ !== CHECKPOINT_JWS_TYPE) throw new Error('typ');
    payload = result.payload;
  } catch (err) {
    throw invalid('checkpoint signature does not verify with the given public key', 'bad-signature', err);
  }
  const head = parseTreeHead(JSON.parse(Buffer.from(payload).toString('utf8')));
  if (options.logId !== undefined && head.logId !== options.logId) {
    throw invalid('checkpoint belongs to another log (logId differs)', 'malformed');
  }
  return { ...head, jws };
}

/**
 * Portable text form of a checkpoint (JSON), e.g. to hand to an auditor or store off-host. The
 * readable fields are a convenience; `importCheckpoint` takes them from the signed JWS only.
 * `publicKey` (a public JWK) may be included for identification, but a verifier must use a key it
 * already trusts, never the one shipped alongside.
 */
export function exportCheckpoint(checkpoint: Checkpoint, options: { publicKey?: JWK } = {}): string {
  const head = decodeCheckpoint(checkpoint.jws);
  const doc: Record<string, unknown> = { format: EXPORT_FORMAT, ...head };
  if (options.publicKey !== undefined) {
    const { kty, crv, x, kid } = options.publicKey;
    doc.publicKey = { kty, crv, x, ...(kid === undefined ? {} : { kid }) };
  }
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/** Parses `exportCheckpoint` output (or a bare JWS); fields come from the JWS payload. Unverified. */
export function importCheckpoint(text: string): Checkpoint {
  if (typeof text !== 'string') throw invalid('checkpoint export is not text', 'malformed');
  const trimmed = text.trim();
  if (!trimmed.startsWith('{')) return decodeCheckpoint(trimmed);
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(trimmed) as Record<string, unknown>;
  } catch (err) {
    throw invalid('checkpoint export is not JSON', 'malformed', err);
  }
  if (doc === null || doc.format !== EXPORT_FORMAT || typeof doc.jws !== 'string') {
    throw invalid(`checkpoint export is not in ${EXPORT_FORMAT} format`, 'malformed');
  }
  return decodeCheckpoint(doc.jws);
}
