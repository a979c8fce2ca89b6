import type { AuditEntry } from '../audit/audit-event';
import type { AuditLog } from '../audit/audit-log';
import { SubjectPseudonymizer } from '../audit/subject-pseudonymizer';
import type { KeyRing } from '../crypto/key-ring';
import type { ErasureEvidence } from './erasure-evidence';
import {
  ERASURE_RECEIPT_FORMAT,
  erasureSubjectRef,
  type ErasureReceipt,
  type ErasureReceiptSigner,
} from './erasure-receipt';
import { sourceFailed, type SubjectDataSources } from './subject-data-sources';

const ERASURE_REASON = 'GDPR Art. 17 erasure';

/** What one erasure did, before the request records it. */
export interface ErasureOutcome {
  summary: ErasureReceipt;
  /** Compact JWS (present when a receiptSigner is configured). */
  receipt?: string;
  sourcesErased: string[];
  shredded: boolean;
  auditRedacted: number;
  auditHeld: number;
  auditPreserved: number;
  evidencePseudonym?: string;
}

export interface SubjectErasureParts {
  sources: SubjectDataSources;
  keyRing?: Pick<KeyRing, 'shred'>;
  auditLog?: Pick<AuditLog, 'redact'>;
  evidence: ErasureEvidence;
  signer?: ErasureReceiptSigner;
  now: () => string;
}

/**
 * Erasure of one data subject (GDPR Art. 17) across everything that holds their data: the
 * sources' erase(), crypto-shredding of their key, redaction of their audit entries (keeping the
 * security-relevant ones under a keyed pseudonym, Art. 17(3)(b), (e)), and the signed receipt.
 */
export class SubjectErasure {
  private readonly sources: SubjectDataSources;
  private readonly keyRing?: Pick<KeyRing, 'shred'>;
  private readonly auditLog?: Pick<AuditLog, 'redact'>;
  private readonly evidence: ErasureEvidence;
  private readonly pseudonymizer?: SubjectPseudonymizer;
  private readonly signer?: ErasureReceiptSigner;
  private readonly now: () => string;

  constructor(parts: SubjectErasureParts) {
    this.sources = parts.sources;
    this.keyRing = parts.keyRing;
    this.auditLog = parts.auditLog;
    this.evidence = parts.evidence;
    if (this.evidence.pseudonymKey !== undefined) {
      this.pseudonymizer = new SubjectPseudonymizer({ key: this.evidence.pseudonymKey });
    }
    this.signer = parts.signer;
    this.now = parts.now;
  }

  /**
   * Erases `subjectId` for request `requestId`. A failing source stops the run with
   * ERR_DSR_SOURCE_FAILED; every step is idempotent, so the run can be repeated.
   */
  async run(requestId: string, subjectId: string): Promise<ErasureOutcome> {
    const identifiers = await this.evidence.identifiers(subjectId);
    const recordsErased: Record<string, number> = {};
    const sourcesErased: string[] = [];
    for (const source of this.sources.sorted()) {
      if (source.erase === undefined) continue;
      const n = await this.sources.call(source, 'erase', () => source.erase!(subjectId));
      if (n !== undefined) {
        if (!Number.isSafeInteger(n) || (n as number) < 0) {
          throw sourceFailed(source.id, 'erase', 'returned a count that is not a non-negative integer');
        }
        recordsErased[source.id] = n as number;
      }
      sourcesErased.push(source.id);
    }
    let shredded = false;
    if (this.keyRing !== undefined) {
      await this.keyRing.shred(subjectId);
      shredded = true;
    }
    let auditRedacted = 0;
    let auditHeld = 0;
    let auditPreserved = 0;
    let evidencePseudonym: string | undefined;
    if (this.auditLog !== undefined) {
      const pseudonymizer = this.evidence.enabled ? this.pseudonymizer : undefined;
      // GDPR Art. 17(3)(b), (e): the subject's attacks stay on record, under a keyed pseudonym.
      const options =
        pseudonymizer === undefined
          ? {}
          : {
              preserve: (e: AuditEntry) =>
                this.evidence.keeps(e, identifiers) ? pseudonymizer.preserve(e, identifiers) : undefined,
            };
      for (const filter of [{ actorId: subjectId }, { resourceId: subjectId }]) {
        const report = await this.auditLog.redact(filter, ERASURE_REASON, options);
        auditRedacted += report.removed;
        auditHeld += report.held.count;
        auditPreserved += report.preserved ?? 0;
      }
      if (auditPreserved > 0) evidencePseudonym = pseudonymizer!.pseudonym(subjectId);
    }
    const completedAt = this.now();
    const summary: ErasureReceipt = {
      format: ERASURE_RECEIPT_FORMAT,
      requestId,
      subjectRef: erasureSubjectRef(requestId, subjectId),
      sourcesErased,
      recordsErased,
      shredded,
      auditRedacted,
      completedAt,
    };
    const receipt = this.signer === undefined ? undefined : await this.signer.sign(summary);
    return {
      summary,
      ...(receipt === undefined ? {} : { receipt }),
      sourcesErased,
      shredded,
      auditRedacted,
      auditHeld,
      auditPreserved,
      ...(evidencePseudonym === undefined ? {} : { evidencePseudonym }),
    };
  }
}
