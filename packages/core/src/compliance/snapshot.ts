import { canonicalBytes } from '../audit/canonical-json';
import { BulwarkComplianceError, ErrorCodes } from '../errors';
import { configError } from '../util/options';
import { parseAttestationView, type AttestationView } from './attestation';
import { verifyComplianceJws, type CompliancePublicKey, type ComplianceSigner } from './compliance-signing';
import type { Evidence, EvidenceBundle, EvidenceProvenance } from './evidence';

/**
 * Evidence collected by one process and carried to another (`bulwark report --config
 * snapshot.json`): the kit's evidence bundle and attestations, signed with Ed25519 (compact JWS,
 * typ `bulwark-evidence-snapshot+jws`) by the collecting process with a key the operator names.
 * The JWS payload is the canonical JSON of the snapshot; nothing outside the JWS is trusted.
 */
export interface SignedEvidenceSnapshot {
  readonly format: typeof EVIDENCE_SNAPSHOT_FORMAT;
  readonly jws: string;
}

export const EVIDENCE_SNAPSHOT_FORMAT = 'bulwark-evidence-snapshot/1';

/** Default maximum age of a snapshot a report accepts: 24 hours. */
export const DEFAULT_SNAPSHOT_MAX_AGE_MS = 24 * 3_600_000;

/** What a verified snapshot holds. Every evidence item is marked `provenance: 'snapshot'`. */
export interface VerifiedEvidenceSnapshot {
  readonly bundle: EvidenceBundle;
  readonly attestations: readonly AttestationView[];
  readonly collectedAt: string;
  readonly signedAt: string;
  readonly keyId?: string;
  /** now - collectedAt, in milliseconds, at verification. */
  readonly ageMs: number;
}

interface SnapshotPayload {
  format: typeof EVIDENCE_SNAPSHOT_FORMAT;
  signedAt: string;
  bundle: EvidenceBundle;
  attestations: readonly AttestationView[];
}

const SKEW_MS = 5 * 60_000;
const META_KEYS = new Set(['collectedAt', 'settings', 'errors']);

/** Signs a collected bundle and the kit's attestations. */
export async function signEvidenceSnapshot(
  bundle: EvidenceBundle,
  attestations: readonly AttestationView[],
  signer: ComplianceSigner,
  now: Date,
): Promise<SignedEvidenceSnapshot> {
  if (signer.purpose !== 'snapshot')
    throw configError('compliance.snapshot.privateKey', 'must be a snapshot signer');
  const payload: SnapshotPayload = {
    format: EVIDENCE_SNAPSHOT_FORMAT,
    signedAt: now.toISOString(),
    bundle,
    attestations,
  };
  return { format: EVIDENCE_SNAPSHOT_FORMAT, jws: await signer.sign(canonicalBytes(payload)) };
}

function invalid(message: string, cause?: unknown): BulwarkComplianceError {
  return new BulwarkComplianceError(
    ErrorCodes.COMPLIANCE_SNAPSHOT_INVALID,
    `evidence snapshot ${message}`,
    undefined,
    cause === undefined ? undefined : { cause },
  );
}

/**
 * Verifies a signed snapshot document (as parsed from its JSON file) and returns its evidence,
 * each item marked `provenance: 'snapshot'` (evidence the collector marked `declared` stays
 * `declared`: a signature proves who collected it, not that it was observed). Refuses, with
 * ERR_COMPLIANCE_SNAPSHOT_INVALID, anything unsigned, malformed, tampered or signed by another
 * key, and with ERR_COMPLIANCE_SNAPSHOT_STALE a snapshot collected more than `maxAgeMs` ago
 * (default 24 h) or dated in the future.
 */
export async function verifyEvidenceSnapshot(
  document: unknown,
  options: { publicKey: CompliancePublicKey; maxAgeMs?: number; now?: Date },
): Promise<VerifiedEvidenceSnapshot> {
  const maxAgeMs = options.maxAgeMs ?? DEFAULT_SNAPSHOT_MAX_AGE_MS;
  if (!Number.isFinite(maxAgeMs) || maxAgeMs <= 0) throw configError('maxAgeMs', 'must be a positive number');
  const now = options.now ?? new Date();
  const doc = document as Partial<SignedEvidenceSnapshot> | null;
  if (
    doc === null ||
    typeof doc !== 'object' ||
    doc.format !== EVIDENCE_SNAPSHOT_FORMAT ||
    typeof doc.jws !== 'string'
  ) {
    throw invalid(`is not signed: expected { "format": "${EVIDENCE_SNAPSHOT_FORMAT}", "jws": ... }`);
  }
  const { payload, header } = await verifyComplianceJws(
    doc.jws,
    'snapshot',
    options.publicKey,
    ErrorCodes.COMPLIANCE_SNAPSHOT_INVALID,
    'evidence snapshot',
  );
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(payload).toString('utf8'));
  } catch (err) {
    throw invalid('payload is not JSON', err);
  }
  const p = parsed as Partial<SnapshotPayload> | null;
  if (p === null || typeof p !== 'object' || p.format !== EVIDENCE_SNAPSHOT_FORMAT)
    throw invalid('payload has no format');
  const signedAt = typeof p.signedAt === 'string' ? Date.parse(p.signedAt) : Number.NaN;
  if (!Number.isFinite(signedAt)) throw invalid('signedAt is malformed');
  const bundle = parseBundle(p.bundle);
  const collectedAt = Date.parse(bundle.collectedAt);
  if (signedAt < collectedAt) throw invalid('was signed before its evidence was collected');
  if (collectedAt > now.getTime() + SKEW_MS || signedAt > now.getTime() + SKEW_MS) {
    throw new BulwarkComplianceError(
      ErrorCodes.COMPLIANCE_SNAPSHOT_STALE,
      `evidence snapshot is dated in the future (collected ${bundle.collectedAt}): check the clocks`,
    );
  }
  const ageMs = Math.max(0, now.getTime() - collectedAt);
  if (ageMs > maxAgeMs) {
    throw new BulwarkComplianceError(
      ErrorCodes.COMPLIANCE_SNAPSHOT_STALE,
      `evidence snapshot is stale: collected ${bundle.collectedAt}, ${formatAge(ageMs)} ago, over the maximum age of ${formatAge(maxAgeMs)}; collect a fresh one`,
      { collectedAt: bundle.collectedAt, maxAgeMs },
    );
  }
  if (!Array.isArray(p.attestations)) throw invalid('attestations are malformed');
  let attestations: AttestationView[];
  try {
    attestations = p.attestations.map((a, i) => parseAttestationView(a, `[${i}]`));
  } catch (err) {
    throw invalid('attestations are malformed', err);
  }
  return {
    bundle,
    attestations,
    collectedAt: bundle.collectedAt,
    signedAt: new Date(signedAt).toISOString(),
    ...(typeof header.kid === 'string' ? { keyId: header.kid } : {}),
    ageMs,
  };
}

function parseBundle(value: unknown): EvidenceBundle {
  const b = value as Record<string, unknown> | null;
  if (b === null || typeof b !== 'object' || Array.isArray(b)) throw invalid('bundle is missing');
  if (typeof b.collectedAt !== 'string' || !Number.isFinite(Date.parse(b.collectedAt)))
    throw invalid('bundle collectedAt is malformed');
  const settings = b.settings as Record<string, unknown> | null;
  if (
    settings === null ||
    typeof settings !== 'object' ||
    !Array.isArray(settings.privilegedRoles) ||
    typeof settings.httpSurface !== 'boolean' ||
    (settings.tlsTerminator !== undefined &&
      (settings.tlsTerminator === null ||
        typeof settings.tlsTerminator !== 'object' ||
        typeof (settings.tlsTerminator as { name?: unknown }).name !== 'string' ||
        !['TLSv1.2', 'TLSv1.3'].includes(
          (settings.tlsTerminator as { minVersion?: string }).minVersion ?? '',
        )))
  ) {
    throw invalid('bundle settings are malformed');
  }
  if (b.errors === null || typeof b.errors !== 'object' || Array.isArray(b.errors))
    throw invalid('bundle errors are malformed');
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(b)) {
    if (META_KEYS.has(key)) {
      out[key] = item;
      continue;
    }
    const e = item as Partial<Evidence> | null;
    if (
      e === null ||
      typeof e !== 'object' ||
      typeof e.source !== 'string' ||
      typeof e.observedAt !== 'string' ||
      !('data' in e)
    ) {
      throw invalid(`bundle ${key} is not evidence`);
    }
    out[key] = Object.freeze({ ...e, provenance: snapshotProvenance(e.provenance) });
  }
  return Object.freeze(out) as unknown as EvidenceBundle;
}

function snapshotProvenance(original: EvidenceProvenance | undefined): EvidenceProvenance {
  return original === 'declared' ? 'declared' : 'snapshot';
}

/** A short human age: `45s`, `12m`, `3h 5m`, `2d 4h`. */
export function formatAge(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return m % 60 === 0 ? `${h}h` : `${h}h ${m % 60}m`;
  const d = Math.floor(h / 24);
  return h % 24 === 0 ? `${d}d` : `${d}d ${h % 24}h`;
}
