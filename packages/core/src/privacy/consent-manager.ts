import { createHash, randomUUID } from 'node:crypto';
import { isIP } from 'node:net';
import type { AuditEvent } from '../audit/audit-event';
import { BulwarkConsentError, BulwarkError, ErrorCodes } from '../errors';
import type { ConsentAction, ConsentRecord, ConsentStore } from './consent-store';
import { MemoryConsentStore } from './memory-consent-store';
import {
  checkId,
  checkObject,
  checkOptionalText,
  checkPositiveInt,
  checkSubjectId,
  checkText,
  compareText,
  subjectHash,
  type ErrorFactory,
} from './privacy-input';
import type { SubjectDataSource, SubjectRecord } from './subject-data-source';
import { AUDIT_LIMITS } from '../audit/audit-event';
import { nonEmptyString } from '../util/options';

/** What ConsentManager needs from an audit log (an `AuditLog` fits). */
export interface PrivacyAuditSink {
  append(event: AuditEvent): Promise<unknown>;
}

/** A purpose as registered by the application (one version of its consent text). */
export interface ConsentPurposeInput {
  id: string;
  name: string;
  description?: string;
  /** Version of `text`; a higher version is a new text, registered by calling registerPurpose again. */
  version: number;
  /** The consent text shown to the subject; its SHA-256 is recorded with every grant. */
  text: string;
  /**
   * Consent given to a text version below this is not valid for `check()` (the subject must
   * renew). Set it to the new version when the text changes materially. Default 1, or the
   * value of an earlier registration.
   */
  minVersion?: number;
  /** Alias of `minVersion`. */
  requiresRenewalBelow?: number;
  /** Direct marketing (GDPR Art. 21(2), ePrivacy Art. 13): compliance checks expect consent. */
  marketing?: boolean;
  /** Processing under this purpose needs consent (lawful basis Art. 6(1)(a)). Default true. */
  requiresConsent?: boolean;
  /** Data categories processed for this purpose (for the record of processing activities). */
  dataCategories?: string[];
}

export interface ConsentTextVersion {
  version: number;
  text: string;
  /** SHA-256 (hex) of the UTF-8 text. */
  textHash: string;
  registeredAt: string;
}

/** A registered purpose, as `listPurposes()` reports it. */
export interface ConsentPurpose {
  id: string;
  name: string;
  description?: string;
  currentVersion: number;
  minVersion: number;
  marketing: boolean;
  requiresConsent: boolean;
  dataCategories: string[];
  versions: ConsentTextVersion[];
}

export interface ConsentChangeOptions {
  /** Text version the subject saw; default: for grant the current version, for withdraw the granted one. */
  version?: number;
  ip?: string;
  userAgent?: string;
  /** Where the change was made (`signup-form`, `preferences-page`, `api`). */
  source?: string;
}

export interface ConsentStatus {
  purposeId: string;
  /** True only for a standing grant of a text version >= the purpose's minVersion. */
  granted: boolean;
  /** `none`: never asked; `outdated`: granted to a text below minVersion. */
  state: 'granted' | 'withdrawn' | 'none' | 'outdated';
  /** Version of the latest grant / withdrawal, null when none. */
  version: number | null;
  /** Time of the latest grant / withdrawal, null when none. */
  at: string | null;
  /**
   * The standing grant is to an older text than the current one: show the new text. With
   * `granted: true` the old consent still counts (minor change); with `granted: false` it no
   * longer does (below minVersion).
   */
  needsRenewal: boolean;
}

export interface ConsentManagerOptions {
  store?: ConsentStore;
  auditLog?: PrivacyAuditSink;
  /** Audit retention category of consent events. Default `consent`. */
  auditCategory?: string;
  clock?: () => Date;
  /** Config path of `auditCategory` in error messages. Default `consent.options`. */
  configPath?: string;
}

const consentError: ErrorFactory = (path, message) =>
  new BulwarkConsentError(ErrorCodes.CONSENT_INVALID_ARGUMENT, `consent ${path} ${message}`, { path });

const MAX_TEXT = 100_000;

function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/**
 * Consent per purpose with versioned texts (GDPR Art. 4(11), 6(1)(a), 7). Every grant and
 * withdrawal is appended to the store (history is never rewritten) and, when an audit log is
 * given, written to it as `consent.granted` / `consent.withdrawn` with the proof the controller
 * must be able to show (Art. 7(1)): text version, its SHA-256, time, ip and user agent.
 * Withdrawal takes exactly the inputs of grant (Art. 7(3): as easy to withdraw as to give).
 */
export class ConsentManager {
  private readonly store: ConsentStore;
  private readonly auditLog?: PrivacyAuditSink;
  private readonly auditCategory: string;
  private readonly clock: () => Date;
  private readonly purposeMap = new Map<string, ConsentPurpose>();

  constructor(options: ConsentManagerOptions = {}) {
    checkObject(options, 'options', consentError);
    const store = options.store ?? new MemoryConsentStore();
    for (const m of ['append', 'latest', 'history'] as const) {
      if (typeof (store as unknown as Record<string, unknown>)?.[m] !== 'function') {
        throw consentError('options.store', 'must implement ConsentStore (append, latest, history)');
      }
    }
    if (options.auditLog !== undefined && typeof options.auditLog?.append !== 'function') {
      throw consentError('options.auditLog', 'must have an append(event) method');
    }
    if (options.clock !== undefined && typeof options.clock !== 'function') {
      throw consentError('options.clock', 'must be a function');
    }
    this.store = store;
    this.auditLog = options.auditLog;
    const path = typeof options.configPath === 'string' ? options.configPath : 'consent.options';
    this.auditCategory = nonEmptyString(
      options.auditCategory,
      `${path}.auditCategory`,
      AUDIT_LIMITS.category,
      'consent',
    );
    this.clock = options.clock ?? (() => new Date());
  }

  /**
   * Registers a purpose, or a new text version of one. Re-registering a version with the same
   * text is a no-op; with a different text it throws ERR_CONSENT_VERSION_CONFLICT (a version
   * number must always mean one text, or the recorded hashes would prove nothing).
   */
  registerPurpose(input: ConsentPurposeInput): ConsentPurpose {
    const p = checkObject(input, 'purpose', consentError);
    const id = checkId(p.id, 'purpose.id', consentError);
    const name = checkText(p.name, `purpose ${id}.name`, 256, consentError);
    const description = checkOptionalText(p.description, `purpose ${id}.description`, 4096, consentError);
    const version = checkPositiveInt(p.version, `purpose ${id}.version`, consentError);
    const text = checkText(p.text, `purpose ${id}.text`, MAX_TEXT, consentError);
    if (
      p.minVersion !== undefined &&
      p.requiresRenewalBelow !== undefined &&
      p.minVersion !== p.requiresRenewalBelow
    ) {
      throw consentError(`purpose ${id}.minVersion`, 'and requiresRenewalBelow differ; give one of them');
    }
    const minInput = p.minVersion ?? p.requiresRenewalBelow;
    const existing = this.purposeMap.get(id);
    const minVersion =
      minInput === undefined
        ? (existing?.minVersion ?? 1)
        : checkPositiveInt(minInput, `purpose ${id}.minVersion`, consentError);
    for (const flag of ['marketing', 'requiresConsent'] as const) {
      if (p[flag] !== undefined && typeof p[flag] !== 'boolean') {
        throw consentError(`purpose ${id}.${flag}`, 'must be a boolean');
      }
    }
    let dataCategories: string[] = existing?.dataCategories ?? [];
    if (p.dataCategories !== undefined) {
      if (!Array.isArray(p.dataCategories))
        throw consentError(`purpose ${id}.dataCategories`, 'must be an array');
      dataCategories = [
        ...new Set(
          p.dataCategories.map((c, i) =>
            checkText(c, `purpose ${id}.dataCategories[${i}]`, 128, consentError),
          ),
        ),
      ].sort(compareText);
    }
    const textHash = sha256Hex(text);
    const versions = [...(existing?.versions ?? [])];
    const same = versions.find((v) => v.version === version);
    if (same !== undefined && same.textHash !== textHash) {
      throw new BulwarkConsentError(
        ErrorCodes.CONSENT_VERSION_CONFLICT,
        `consent purpose ${id} version ${version} is already registered with a different text; bump the version`,
        { purposeId: id, version },
      );
    }
    if (same === undefined) {
      versions.push(Object.freeze({ version, text, textHash, registeredAt: this.now() }));
      versions.sort((a, b) => a.version - b.version);
    }
    const currentVersion = versions[versions.length - 1]!.version;
    if (minVersion > currentVersion) {
      throw consentError(`purpose ${id}.minVersion`, 'must not exceed the highest registered version');
    }
    const purpose: ConsentPurpose = Object.freeze({
      id,
      name,
      ...(description === undefined ? {} : { description }),
      currentVersion,
      minVersion,
      marketing: (p.marketing as boolean | undefined) ?? existing?.marketing ?? false,
      requiresConsent: (p.requiresConsent as boolean | undefined) ?? existing?.requiresConsent ?? true,
      dataCategories: Object.freeze([...dataCategories]) as string[],
      versions: Object.freeze(versions) as ConsentTextVersion[],
    });
    this.purposeMap.set(id, purpose);
    return purpose;
  }

  /** The registered purpose, or ERR_CONSENT_UNKNOWN_PURPOSE. */
  purpose(purposeId: string): ConsentPurpose {
    const purpose = typeof purposeId === 'string' ? this.purposeMap.get(purposeId) : undefined;
    if (purpose === undefined) {
      throw new BulwarkConsentError(
        ErrorCodes.CONSENT_UNKNOWN_PURPOSE,
        'unknown consent purpose; register it with registerPurpose() first',
        typeof purposeId === 'string' && purposeId.length <= 128 ? { purposeId } : undefined,
      );
    }
    return purpose;
  }

  /** All registered purposes, sorted by id (evidence: which purposes exist, which are marketing). */
  listPurposes(): ConsentPurpose[] {
    return [...this.purposeMap.values()].sort((a, b) => compareText(a.id, b.id));
  }

  /** Same as `listPurposes()` (the evidence read API name). */
  purposes(): ConsentPurpose[] {
    return this.listPurposes();
  }

  /** Records that the subject consented to the purpose's text (default: its current version). */
  grant(subjectId: string, purposeId: string, options: ConsentChangeOptions = {}): Promise<ConsentRecord> {
    return this.change('granted', subjectId, purposeId, options);
  }

  /** Records withdrawal (GDPR Art. 7(3)); same inputs as grant. Withdrawing twice is allowed and recorded. */
  withdraw(subjectId: string, purposeId: string, options: ConsentChangeOptions = {}): Promise<ConsentRecord> {
    return this.change('withdrawn', subjectId, purposeId, options);
  }

  /** The subject's standing consent to the purpose. */
  async check(subjectId: string, purposeId: string): Promise<ConsentStatus> {
    checkSubjectId(subjectId, 'subjectId', consentError);
    const purpose = this.purpose(purposeId);
    const latest = await this.storeCall(() => this.store.latest(subjectId, purpose.id));
    if (latest === undefined) {
      return {
        purposeId: purpose.id,
        granted: false,
        state: 'none',
        version: null,
        at: null,
        needsRenewal: false,
      };
    }
    const base = { purposeId: purpose.id, version: latest.version, at: latest.at };
    if (latest.action === 'withdrawn')
      return { ...base, granted: false, state: 'withdrawn', needsRenewal: false };
    const valid = latest.version >= purpose.minVersion;
    return {
      ...base,
      granted: valid,
      state: valid ? 'granted' : 'outdated',
      needsRenewal: latest.version < purpose.currentVersion,
    };
  }

  /** Throws ERR_CONSENT_REQUIRED unless `check()` says granted (for guards and middleware). */
  async enforce(subjectId: string, purposeId: string): Promise<ConsentStatus> {
    const status = await this.check(subjectId, purposeId);
    if (!status.granted) {
      throw new BulwarkConsentError(
        ErrorCodes.CONSENT_REQUIRED,
        `consent to purpose ${status.purposeId} is required (${status.state})`,
        { purposeId: status.purposeId, state: status.state, needsRenewal: status.needsRenewal },
      );
    }
    return status;
  }

  /** Every consent event of the subject (optionally one purpose), oldest first. */
  async history(subjectId: string, purposeId?: string): Promise<ConsentRecord[]> {
    checkSubjectId(subjectId, 'subjectId', consentError);
    if (purposeId !== undefined) this.purpose(purposeId);
    return this.storeCall(() => this.store.history(subjectId, purposeId));
  }

  /** Number of subjects with a standing grant per purpose (no ids), when the store can count. */
  async grantCounts(): Promise<Record<string, number | null>> {
    const out: Record<string, number | null> = {};
    for (const p of this.listPurposes()) {
      out[p.id] =
        this.store.countGranted === undefined
          ? null
          : await this.storeCall(() => this.store.countGranted!(p.id));
    }
    return out;
  }

  /**
   * The subject's consent history as a DataSubjectRequests source (id `consent`). Erasure keeps
   * the records unless `eraseRecords` is set (they prove lawful processing, GDPR Art. 7(1),
   * 17(3)(e)) and the store supports deleting them.
   */
  dataSource(options: { id?: string; eraseRecords?: boolean } = {}): SubjectDataSource {
    const source: SubjectDataSource = {
      id: options.id ?? 'consent',
      describe: 'Consent you gave or withdrew, with the version of the text you saw',
      export: async (subjectId: string): Promise<SubjectRecord[]> =>
        (await this.history(subjectId)).map((r) => ({
          type: 'ConsentRecord',
          id: r.id,
          fields: {
            purposeId: r.purposeId,
            action: r.action,
            version: r.version,
            textHash: r.textHash,
            at: r.at,
            ip: r.ip ?? null,
            userAgent: r.userAgent ?? null,
            source: r.source ?? null,
          },
          classification: { ip: 'personal', userAgent: 'personal' },
        })),
    };
    const store = this.store;
    if (options.eraseRecords === true && typeof store.deleteSubject === 'function') {
      source.erase = (subjectId: string) => this.storeCall(() => store.deleteSubject!(subjectId));
    }
    return source;
  }

  private async change(
    action: ConsentAction,
    subjectId: string,
    purposeId: string,
    options: ConsentChangeOptions,
  ): Promise<ConsentRecord> {
    checkSubjectId(subjectId, 'subjectId', consentError);
    const purpose = this.purpose(purposeId);
    const o = checkObject(options ?? {}, 'options', consentError);
    const ip = checkOptionalText(o.ip, 'options.ip', 64, consentError);
    if (ip !== undefined && isIP(ip) === 0)
      throw consentError('options.ip', 'must be an IPv4 or IPv6 address');
    // User agents are attacker-controlled: truncated rather than rejected, so a long one cannot
    // suppress the record of a withdrawal.
    const userAgent =
      typeof o.userAgent === 'string' && o.userAgent !== '' ? o.userAgent.slice(0, 512) : undefined;
    if (o.userAgent !== undefined && typeof o.userAgent !== 'string') {
      throw consentError('options.userAgent', 'must be a string');
    }
    const source = o.source === undefined ? undefined : checkId(o.source, 'options.source', consentError);
    let version: number;
    if (o.version !== undefined) {
      version = checkPositiveInt(o.version, 'options.version', consentError);
    } else if (action === 'withdrawn') {
      const latest = await this.storeCall(() => this.store.latest(subjectId, purpose.id));
      version = latest?.version ?? purpose.currentVersion;
    } else {
      version = purpose.currentVersion;
    }
    const text = purpose.versions.find((v) => v.version === version);
    if (text === undefined) {
      throw new BulwarkConsentError(
        ErrorCodes.CONSENT_UNKNOWN_VERSION,
        `consent purpose ${purpose.id} has no text version ${version}`,
        { purposeId: purpose.id, version },
      );
    }
    if (action === 'granted' && version < purpose.minVersion) {
      throw new BulwarkConsentError(
        ErrorCodes.CONSENT_UNKNOWN_VERSION,
        `consent purpose ${purpose.id} text version ${version} is below the minimum ${purpose.minVersion}; show the current text`,
        { purposeId: purpose.id, version, minVersion: purpose.minVersion },
      );
    }
    const record: ConsentRecord = Object.freeze({
      id: randomUUID(),
      subjectId,
      purposeId: purpose.id,
      action,
      version,
      textHash: text.textHash,
      at: this.now(),
      ...(ip === undefined ? {} : { ip }),
      ...(userAgent === undefined ? {} : { userAgent }),
      ...(source === undefined ? {} : { source }),
    });
    // Audit first, then store: a change that cannot be audited is not made (fail closed).
    if (this.auditLog !== undefined) {
      try {
        await this.auditLog.append({
          actor: {
            id: subjectId,
            type: 'user',
            ...(ip === undefined ? {} : { ip }),
            ...(userAgent === undefined ? {} : { userAgent }),
          },
          action: `consent.${action}`,
          resource: { type: 'consent-purpose', id: purpose.id },
          outcome: 'success',
          time: record.at,
          category: this.auditCategory,
          details: {
            recordId: record.id,
            purposeId: purpose.id,
            version,
            textHash: text.textHash,
            at: record.at,
            ...(source === undefined ? {} : { source }),
          },
        });
      } catch (error) {
        throw new BulwarkConsentError(
          ErrorCodes.CONSENT_STORE,
          `consent change not recorded: the audit log refused the event`,
          { purposeId: purpose.id, subject: subjectHash(subjectId) },
          { cause: error },
        );
      }
    }
    await this.storeCall(() => this.store.append(record));
    return record;
  }

  private async storeCall<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      if (error instanceof BulwarkError) throw error;
      throw new BulwarkConsentError(ErrorCodes.CONSENT_STORE, 'consent store operation failed', undefined, {
        cause: error,
      });
    }
  }

  private now(): string {
    return this.clock().toISOString();
  }
}
