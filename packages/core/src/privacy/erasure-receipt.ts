import { createHash, type KeyObject } from 'node:crypto';
import type { CryptoKey, JWK, ProtectedHeaderParameters } from 'jose';
import { canonicalBytes } from '../audit/canonical-json';
import { BulwarkPrivacyError, ErrorCodes } from '../errors';
import { jose } from '../lib/jose';
import { Ed25519JwsSigner } from '../lib/ed25519-jws-signer';

/**
 * Signed proof that an erasure request (GDPR Art. 17) was carried out: a compact JWS (Ed25519,
 * RFC 8037) over the RFC 8785 canonical JSON of the summary below. It names the subject only by
 * `subjectRef` = SHA-256("bulwark/erasure-receipt/v1\n" + requestId + "\n" + subjectId), so the
 * subject (who knows both) can check it is theirs while the receipt itself holds no identifier
 * and two receipts of one subject cannot be linked.
 */
export interface ErasureReceipt {
  format: typeof ERASURE_RECEIPT_FORMAT;
  requestId: string;
  subjectRef: string;
  /** Ids of the data sources whose erase() ran, sorted. */
  sourcesErased: string[];
  /** Records each source reported deleted (absent when the source did not say). */
  recordsErased: Record<string, number>;
  /** True when the subject's encryption key was crypto-shredded (copies and backups unreadable). */
  shredded: boolean;
  /** Audit entries whose content was removed (chain kept verifiable). */
  auditRedacted: number;
  /** UTC ISO-8601. */
  completedAt: string;
}

export const ERASURE_RECEIPT_FORMAT = 'bulwark-erasure-receipt/1';
/** JWS `typ` (RFC 8725 §3.11 explicit typing): no other Bulwark JWS verifies as a receipt. */
export const ERASURE_RECEIPT_JWS_TYPE = 'bulwark-erasure-receipt+jws';

/** The subject reference a receipt carries (see ErasureReceipt). */
export function erasureSubjectRef(requestId: string, subjectId: string): string {
  return createHash('sha256')
    .update(`bulwark/erasure-receipt/v1\n${requestId}\n${subjectId}`, 'utf8')
    .digest('hex');
}

function invalid(message: string, cause?: unknown): BulwarkPrivacyError {
  return new BulwarkPrivacyError(
    ErrorCodes.DSR_RECEIPT_INVALID,
    message,
    undefined,
    cause === undefined ? undefined : { cause },
  );
}

/** Signs erasure receipts with an Ed25519 key (JWS typ ERASURE_RECEIPT_JWS_TYPE). Keep the private key secret. */
export class ErasureReceiptSigner {
  private constructor(private readonly key: Ed25519JwsSigner) {}

  static async generate(options: { kid?: string } = {}): Promise<ErasureReceiptSigner> {
    return new ErasureReceiptSigner(await Ed25519JwsSigner.generate(ERASURE_RECEIPT_JWS_TYPE, options.kid));
  }

  /** From a private Ed25519 JWK (`{ kty: 'OKP', crv: 'Ed25519', x, d }`). */
  static async fromJWK(jwk: JWK): Promise<ErasureReceiptSigner> {
    return new ErasureReceiptSigner(
      await Ed25519JwsSigner.fromJWK(jwk, ERASURE_RECEIPT_JWS_TYPE, 'privacy.erasureReceipts.key'),
    );
  }

  get publicKey(): CryptoKey {
    return this.key.publicKey;
  }

  get kid(): string | undefined {
    return this.key.kid;
  }

  /** The public JWK to give to whoever verifies receipts. */
  exportPublicJwk(): Promise<JWK> {
    return this.key.exportPublicJwk();
  }

  /** The private JWK, for persisting the key (handle as a secret). */
  exportPrivateJwk(): Promise<JWK> {
    return this.key.exportPrivateJwk();
  }

  /** Compact JWS over the canonical receipt. */
  async sign(receipt: ErasureReceipt): Promise<string> {
    return this.key.sign(canonicalBytes(parseErasureReceipt(receipt)));
  }
}

/**
 * Verifies a receipt JWS with the signer's public key (JWK, CryptoKey or KeyObject) and returns
 * the receipt. Only EdDSA and the receipt `typ` are accepted. Throws ERR_DSR_RECEIPT_INVALID.
 */
export async function verifyErasureReceipt(
  jws: string,
  publicKey: JWK | CryptoKey | KeyObject,
): Promise<ErasureReceipt> {
  if (typeof jws !== 'string' || jws.length > 64 * 1024 || jws.split('.').length !== 3) {
    throw invalid('erasure receipt is not a compact JWS');
  }
  let header: ProtectedHeaderParameters;
  try {
    header = jose().decodeProtectedHeader(jws);
  } catch (err) {
    throw invalid('erasure receipt header is malformed', err);
  }
  if (header.alg !== 'EdDSA' || header.typ !== ERASURE_RECEIPT_JWS_TYPE) {
    throw invalid('erasure receipt must be an EdDSA JWS of type ' + ERASURE_RECEIPT_JWS_TYPE);
  }
  let key: CryptoKey | KeyObject;
  try {
    key =
      publicKey !== null && typeof publicKey === 'object' && 'kty' in publicKey
        ? ((await jose().importJWK(
            { kty: publicKey.kty, crv: publicKey.crv, x: publicKey.x } as JWK,
            'EdDSA',
          )) as CryptoKey)
        : (publicKey as CryptoKey | KeyObject);
  } catch (err) {
    throw invalid('erasure receipt public key is not a usable Ed25519 key', err);
  }
  let payload: Uint8Array;
  try {
    ({ payload } = await jose().compactVerify(jws, key, { algorithms: ['EdDSA'] }));
  } catch (err) {
    throw invalid('erasure receipt signature does not verify', err);
  }
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(payload).toString('utf8'));
  } catch (err) {
    throw invalid('erasure receipt payload is not JSON', err);
  }
  return parseErasureReceipt(decoded);
}

const HEX64 = /^[0-9a-f]{64}$/;

function parseErasureReceipt(value: unknown): ErasureReceipt {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw invalid('receipt is not an object');
  const v = value as Record<string, unknown>;
  if (v.format !== ERASURE_RECEIPT_FORMAT) throw invalid('receipt format is not ' + ERASURE_RECEIPT_FORMAT);
  if (typeof v.requestId !== 'string' || v.requestId === '') throw invalid('receipt requestId is missing');
  if (typeof v.subjectRef !== 'string' || !HEX64.test(v.subjectRef))
    throw invalid('receipt subjectRef is malformed');
  if (!Array.isArray(v.sourcesErased) || !v.sourcesErased.every((s) => typeof s === 'string')) {
    throw invalid('receipt sourcesErased is malformed');
  }
  const counts = v.recordsErased;
  if (
    counts === null ||
    typeof counts !== 'object' ||
    Array.isArray(counts) ||
    !Object.values(counts).every((n) => Number.isSafeInteger(n) && (n as number) >= 0)
  ) {
    throw invalid('receipt recordsErased is malformed');
  }
  if (typeof v.shredded !== 'boolean') throw invalid('receipt shredded is malformed');
  if (!Number.isSafeInteger(v.auditRedacted) || (v.auditRedacted as number) < 0) {
    throw invalid('receipt auditRedacted is malformed');
  }
  if (typeof v.completedAt !== 'string' || !Number.isFinite(Date.parse(v.completedAt))) {
    throw invalid('receipt completedAt is malformed');
  }
  return {
    format: ERASURE_RECEIPT_FORMAT,
    requestId: v.requestId,
    subjectRef: v.subjectRef,
    sourcesErased: [...(v.sourcesErased as string[])],
    recordsErased: { ...(counts as Record<string, number>) },
    shredded: v.shredded,
    auditRedacted: v.auditRedacted as number,
    completedAt: v.completedAt,
  };
}
