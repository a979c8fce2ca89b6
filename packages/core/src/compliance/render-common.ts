import type { AttestationView } from './attestation';
import type { ComplianceReportResult, ControlResult } from './compliance-report';
import { formatAge } from './snapshot';

// Plain-text pieces every renderer shows the same way (each renderer escapes them for its format).

/** How to read the counts: said once at the top of every format. */
export const HEADLINE_NOTE =
  'Counts, not a score. Automated controls pass only on evidence read from the system; a partial ' +
  'pass evidences the slice of the clause named next to it, not the whole clause. Manual controls ' +
  'are attested by a person (never a pass) or unattested. Failures include controls not demonstrated.';

export function statusLabel(c: Pick<ControlResult, 'status' | 'passLevel'>): string {
  switch (c.status) {
    case 'pass':
      return c.passLevel === 'full' ? 'Pass (full)' : 'Pass (partial)';
    case 'fail':
      return 'Fail';
    case 'not-demonstrated':
      return 'Not demonstrated';
    case 'not-applicable':
      return 'Not applicable';
    case 'attested':
      return 'Attested';
    case 'unattested':
      return 'Unattested';
    default:
      return String(c.status);
  }
}

/** "full: ...", "partial: HSTS observed; not covered: TLS configuration", or "" for manual controls. */
export function coverageText(c: ControlResult): string {
  if (c.kind !== 'automated') return '';
  const cov = c.coverage;
  if (cov === undefined) return 'coverage not declared (a pass counts as partial)';
  if (cov.level === 'full') return `full: ${cov.evidences}`;
  return `partial: ${cov.evidences}${cov.notCovered ? `; not covered: ${cov.notCovered}` : ''}`;
}

export function periodText(p: { from: string; to: string }): string {
  return `${p.from} to ${p.to}`;
}

/** Where the evidence came from and how old it was when the report was generated. */
export function evidenceSourceLine(result: ComplianceReportResult): string {
  const e = result.metadata.evidence;
  const age = formatAge(e.ageSeconds * 1000);
  if (e.source === 'snapshot') {
    const key = e.snapshot?.keyId === undefined ? '' : ` with key ${e.snapshot.keyId}`;
    return `signed snapshot${key} (signed ${e.snapshot?.signedAt ?? 'unknown'}), collected ${e.collectedAt}, ${age} old at generation`;
  }
  return `read live from the running services at ${e.collectedAt}, ${age} before generation`;
}

export function signatureText(result: ComplianceReportResult): string {
  const s = result.signature;
  if (s === undefined) return 'unsigned';
  return `detached JWS (${s.alg}${s.keyId === undefined ? '' : `, key ${s.keyId}`}) over the canonical JSON report`;
}

function signatureState(a: AttestationView): string {
  switch (a.signature) {
    case 'verified':
      return 'signed, signature verified';
    case 'unverified':
      return 'signed, not verified (no attestation key configured)';
    case 'invalid':
      return 'signature INVALID (does not count)';
    default:
      return 'unsigned';
  }
}

/** One line describing an attestation. */
export function attestationLine(a: AttestationView): string {
  return (
    `Attested by ${a.by} (${a.role}) on ${a.at}, valid until ${a.expiresAt}: "${a.statement}"` +
    `${a.evidenceUri === undefined ? '' : ` (document: ${a.evidenceUri})`}; ${signatureState(a)}.`
  );
}

/** The controls that cite an evidence item, e.g. `3 controls: gdpr-art32, ...`. */
export function evidenceUse(result: ComplianceReportResult, id: string): string {
  const ids = result.controls.filter((c) => c.evidenceRefs.includes(id)).map((c) => c.id);
  const shown = ids.slice(0, 8).join(', ');
  return `${ids.length} control${ids.length === 1 ? '' : 's'}: ${shown}${ids.length > 8 ? ', ...' : ''}`;
}
