import type { AuditEntry, AuditOutcome, AuditResource } from '../audit/audit-event';
import { privacyError } from './privacy-input';
import {
  configError,
  invalid,
  isPlainObject,
  optionalFunction,
  optionKeys,
  rejectUnknown,
} from '../util/options';

/**
 * What erasure keeps of a subject's audit entries, as evidence (GDPR Art. 17(3)(b): a legal
 * obligation to keep security logs, e.g. PCI DSS 10.5, HIPAA 164.316(b)(2); Art. 17(3)(e): the
 * establishment, exercise or defence of legal claims). A kept entry is not left as it was: the
 * original is redacted and a copy with the subject's identifiers replaced by a keyed pseudonym is
 * appended (see `AuditLog.redact`'s `preserve`), so one attacker's entries still correlate while
 * their id, name and e-mail are gone.
 */
export interface ErasureEvidenceOptions {
  /**
   * HMAC key (>= 32 bytes) of the pseudonyms. Required when an audit log is wired, unless
   * `discardSecurityEvidence`. Keep it stable: the same subject then always gets the same
   * pseudonym, and the key holder can recompute a suspect's pseudonym for a legal claim.
   */
  pseudonymKey?: Uint8Array;
  /** Outcomes kept. Default `['denied', 'failure']` (refused and failed attempts). */
  outcomes?: readonly AuditOutcome[];
  /** Categories kept whatever the outcome. Default `['security', 'auth', 'authentication']`. */
  categories?: readonly string[];
  /**
   * The data subject a resource belongs to, if any (e.g. `(r) => r.type === 'patients' ? r.id :
   * undefined`). An entry in which the subject acted on another subject's resource is kept,
   * whatever its outcome (it is the other subject's evidence too). Default: none (the rule is off,
   * because only the app knows who owns a resource).
   */
  resourceSubject?: (resource: AuditResource) => string | undefined;
  /**
   * The subject's other identifiers (e-mail, name, user name...), read before the sources erase
   * them: each is replaced by the pseudonym wherever it occurs in a kept entry. The subject id is
   * always replaced.
   */
  subjectIdentifiers?: (subjectId: string) => readonly string[] | Promise<readonly string[]>;
  /**
   * WEAKENS SECURITY: erasure redacts every entry of the subject, the evidence of their own attacks
   * included (the behaviour before evidence was kept). Default false.
   */
  discardSecurityEvidence?: boolean;
}

/** The defaults of `ErasureEvidenceOptions` (documented in docs/privacy). */
export const DEFAULT_ERASURE_EVIDENCE = Object.freeze({
  outcomes: Object.freeze(['denied', 'failure'] as const),
  categories: Object.freeze(['security', 'auth', 'authentication'] as const),
});

/** What the privacy officer sees of a requester's recent security events before running a request. */
export interface SubjectSecurityEvents {
  /** Entries by the subject with outcome denied or failure since `since`. */
  count: number;
  since: string;
  byAction: { action: string; outcome: AuditOutcome; count: number }[];
  /** Newest first, at most `limit`. No resource ids: they may name other subjects. */
  recent: {
    seq: number;
    time: string;
    action: string;
    outcome: AuditOutcome;
    category: string;
    resourceType?: string;
  }[];
  /** True when the scan stopped at its bound before reaching `since`. */
  truncated: boolean;
}

const OUTCOMES: readonly AuditOutcome[] = ['success', 'failure', 'denied'];
const MAX_IDENTIFIERS = 32;
const KNOWN_OPTIONS = optionKeys<ErasureEvidenceOptions>({
  pseudonymKey: true,
  outcomes: true,
  categories: true,
  resourceSubject: true,
  subjectIdentifiers: true,
  discardSecurityEvidence: true,
});

/** The validated rule set. Internal to the privacy services. */
export class ErasureEvidence {
  readonly enabled: boolean;
  readonly pseudonymKey?: Uint8Array;
  readonly outcomes: ReadonlySet<AuditOutcome>;
  readonly categories: ReadonlySet<string>;
  private readonly resourceSubject?: (resource: AuditResource) => string | undefined;
  private readonly extraIdentifiers?: ErasureEvidenceOptions['subjectIdentifiers'];

  /**
   * `path` is the options' config path (`dsr.options.evidence`, or `privacy.dsr.evidence` through
   * createBulwark): a mistake is a config error (ERR_CONFIG_INVALID) naming `<path>.<option>`.
   */
  constructor(options: ErasureEvidenceOptions | undefined, path: string, keyRequired: boolean) {
    if (options !== undefined && !isPlainObject(options)) throw invalid(path, 'an object', options);
    const o = (options ?? {}) as Record<string, unknown>;
    rejectUnknown(o, KNOWN_OPTIONS, `${path}.`);
    if (o.discardSecurityEvidence !== undefined && typeof o.discardSecurityEvidence !== 'boolean') {
      throw invalid(`${path}.discardSecurityEvidence`, 'a boolean', o.discardSecurityEvidence);
    }
    this.enabled = o.discardSecurityEvidence !== true;
    const outcomes = o.outcomes ?? DEFAULT_ERASURE_EVIDENCE.outcomes;
    if (!Array.isArray(outcomes) || !outcomes.every((x) => OUTCOMES.includes(x as AuditOutcome))) {
      throw configError(`${path}.outcomes`, `must list outcomes among ${OUTCOMES.join(', ')}`);
    }
    this.outcomes = new Set(outcomes as AuditOutcome[]);
    const categories = o.categories ?? DEFAULT_ERASURE_EVIDENCE.categories;
    if (
      !Array.isArray(categories) ||
      !categories.every((c) => typeof c === 'string' && c !== '' && c.length <= 64)
    ) {
      throw configError(`${path}.categories`, 'must be an array of category names (1 to 64 characters)');
    }
    this.categories = new Set(categories as string[]);
    optionalFunction(o.resourceSubject, `${path}.resourceSubject`);
    optionalFunction(o.subjectIdentifiers, `${path}.subjectIdentifiers`);
    this.resourceSubject = o.resourceSubject as ErasureEvidence['resourceSubject'];
    this.extraIdentifiers = o.subjectIdentifiers as ErasureEvidenceOptions['subjectIdentifiers'];
    if (o.pseudonymKey !== undefined) {
      if (!(o.pseudonymKey instanceof Uint8Array) || o.pseudonymKey.length < 32) {
        // The key itself is never described: only that it is not a long enough Uint8Array.
        throw configError(`${path}.pseudonymKey`, 'must be a Uint8Array of at least 32 bytes');
      }
      this.pseudonymKey = Uint8Array.from(o.pseudonymKey);
    } else if (this.enabled && keyRequired) {
      throw configError(
        `${path}.pseudonymKey`,
        "is required with an audit log: erasure keeps the subject's security-relevant entries under a " +
          'keyed pseudonym (or set discardSecurityEvidence: true, which erases that evidence)',
      );
    }
  }

  /** The subject id first, then the app's other identifiers for it (deduplicated, bounded). */
  async identifiers(subjectId: string): Promise<string[]> {
    const extra = this.extraIdentifiers === undefined ? [] : await this.extraIdentifiers(subjectId);
    if (!Array.isArray(extra)) throw privacyError('evidence.subjectIdentifiers', 'must return an array');
    const out = [subjectId];
    for (const id of extra) {
      if (typeof id !== 'string') throw privacyError('evidence.subjectIdentifiers', 'must return strings');
      const t = id.trim();
      if (t !== '' && t.length <= 1024 && !out.includes(t)) out.push(t);
    }
    if (out.length > MAX_IDENTIFIERS) {
      throw privacyError(
        'evidence.subjectIdentifiers',
        `must return at most ${MAX_IDENTIFIERS - 1} identifiers`,
      );
    }
    return out;
  }

  /** True when `entry` (matched by the subject's erasure) must be kept, pseudonymised. */
  keeps(entry: AuditEntry, identifiers: readonly string[]): boolean {
    if (!this.enabled || entry.redacted !== undefined || entry.outcome === undefined) return false;
    if (this.outcomes.has(entry.outcome) || this.categories.has(entry.category)) return true;
    if (this.resourceSubject === undefined || entry.resource === undefined) return false;
    if (entry.actor === undefined || !identifiers.includes(entry.actor.id)) return false;
    let owner: string | undefined;
    try {
      owner = this.resourceSubject(entry.resource);
    } catch {
      return true; // unsure whose resource it is: keep the evidence (pseudonymised)
    }
    return typeof owner === 'string' && owner !== '' && !identifiers.includes(owner);
  }
}
