import { randomUUID } from 'node:crypto';
import type { AuditActor } from '../audit/audit-event';
import type { AuditLog } from '../audit/audit-log';
import type { KeyRing } from '../crypto/key-ring';
import { BulwarkPrivacyError, ErrorCodes } from '../errors';
import type { ClassificationRegistry } from './classification-registry';
import type { DataSubjectRequest, DsrFilter, DsrStore, DsrType } from './dsr-store';
import type { ErasureReceipt, ErasureReceiptSigner } from './erasure-receipt';
import {
  formatSubjectExport,
  type FormattedSubjectExport,
  type SubjectExport,
  type SubjectExportFormat,
} from './format-subject-export';
import { ErasureEvidence, type ErasureEvidenceOptions, type SubjectSecurityEvents } from './erasure-evidence';
import { DsrLifecycle, OPEN } from './dsr-lifecycle';
import { MemoryDsrStore } from './memory-dsr-store';
import {
  checkDate,
  checkId,
  checkObject,
  checkOptionalText,
  checkPositiveInt,
  checkSubjectId,
  checkText,
  DAY_MS,
  privacyError,
  subjectHash,
} from './privacy-input';
import type { SubjectDataSource, SubjectDataValue } from './subject-data-source';
import { jsonValue, SubjectDataSources } from './subject-data-sources';
import { SubjectErasure } from './subject-erasure';
import { readSecurityEvents } from './subject-security-events';
import { positiveInt } from '../util/options';

/** The app's identity check: was the requester proven to be the data subject (GDPR Art. 12(6))? */
export type IdentityVerifier = (input: {
  requestId: string;
  type: DsrType;
  subjectId: string;
  evidence: unknown;
}) =>
  | boolean
  | { verified: boolean; method?: string }
  | Promise<boolean | { verified: boolean; method?: string }>;

export interface DataSubjectRequestsOptions {
  /** Required: requests cannot proceed until this passes (fail closed). */
  verifyIdentity: IdentityVerifier;
  store?: DsrStore;
  /** Crypto-shredding on erasure (`keyRing.shred(subjectId)`). */
  keyRing?: Pick<KeyRing, 'shred'>;
  /**
   * Lifecycle events, and redaction of the subject's entries on erasure. With `query`, the
   * officer's `securityEvents()` view reads the requester's recent denied / failed entries.
   */
  auditLog?: Pick<AuditLog, 'append' | 'redact'> & Partial<Pick<AuditLog, 'query'>>;
  /**
   * What erasure keeps of the subject's audit entries, pseudonymised (default: denied and failed
   * outcomes, `security` / `auth` / `authentication` categories). `pseudonymKey` is required
   * with an `auditLog` unless `discardSecurityEvidence` (which weakens security) is set.
   */
  evidence?: ErasureEvidenceOptions;
  /** Signs erasure receipts; without one, erasures complete without a receipt. */
  receiptSigner?: ErasureReceiptSigner;
  /** Labels export fields a source left unlabelled. */
  classification?: ClassificationRegistry;
  /** Days to respond from receipt. Default 30 (GDPR Art. 12(3): one month). */
  responseDays?: number;
  /** Most extension days in total. Default 60 (Art. 12(3): "by two further months"). */
  maxExtensionDays?: number;
  /** Actor of lifecycle audit events. Default `{ id: 'bulwark-privacy', type: 'system' }`. */
  actor?: AuditActor;
  clock?: () => Date;
  /** Config path of the numeric limits in error messages. Default `dsr.options`. */
  configPath?: string;
}

export interface ReceiveRequestInput {
  type: DsrType;
  subjectId: string;
  /** Rectification: `field -> corrected value`. */
  changes?: Record<string, SubjectDataValue>;
  channel?: string;
  /** Default: now. */
  receivedAt?: Date | string;
  /**
   * The submission's own key (a form token, an e-mail's Message-ID): receiving it again, on any
   * instance sharing the store, returns the request already logged instead of a duplicate with a
   * second deadline. Needs a store with `findByIdempotencyKey` (the memory and SQL stores have it).
   */
  idempotencyKey?: string;
}

export interface ErasureResult {
  request: DataSubjectRequest;
  summary: ErasureReceipt;
  /** Compact JWS (present when a receiptSigner is configured). */
  receipt?: string;
  /** Audit entries kept because of a legal hold. */
  auditHeld: number;
  /** Audit entries kept as evidence, as pseudonymised copies (see `evidence`). */
  auditPreserved: number;
  /** The subject's pseudonym in those copies (query the audit log by this actor id). */
  evidencePseudonym?: string;
}

const TYPES: readonly DsrType[] = ['access', 'portability', 'erasure', 'rectification'];

/** What `DataSubjectRequests.selfTest()` found (no subject id, no record content). */
export interface DsrSelfTestResult {
  readonly at: string;
  /** Every source exported at least one record for the test subject. */
  readonly ok: boolean;
  readonly sources: readonly { id: string; ok: boolean; records: number; types: string[] }[];
}

/**
 * Data-subject rights (GDPR Art. 15-17, 20) over registered data sources: access / portability
 * exports (JSON, CSV, XML), erasure (source deletion + crypto-shredding + audit redaction + a signed
 * receipt), rectification, and the request lifecycle with the Art. 12(3) deadline.
 *
 * Subject ids are personal data: they are kept in the request only while needed (cleared once an
 * erasure completes), never put in audit events or error messages (a hashed `subjectRef` is).
 */
export class DataSubjectRequests {
  private readonly store: DsrStore;
  private readonly verifier: IdentityVerifier;
  private readonly auditLog?: Pick<AuditLog, 'append' | 'redact'> & Partial<Pick<AuditLog, 'query'>>;
  private readonly sourceRegistry: SubjectDataSources;
  private readonly erasure: SubjectErasure;
  private readonly clock: () => Date;
  private readonly lifecycle: DsrLifecycle;

  constructor(options: DataSubjectRequestsOptions) {
    const o = checkObject(options, 'dsr.options');
    if (typeof o.verifyIdentity !== 'function') {
      throw privacyError(
        'dsr.options.verifyIdentity',
        'must be a function (requests cannot proceed unverified)',
      );
    }
    if (o.keyRing !== undefined && typeof (o.keyRing as KeyRing).shred !== 'function') {
      throw privacyError('dsr.options.keyRing', 'must have shred(subjectId)');
    }
    if (
      o.auditLog !== undefined &&
      (typeof (o.auditLog as AuditLog).append !== 'function' ||
        typeof (o.auditLog as AuditLog).redact !== 'function')
    ) {
      throw privacyError('dsr.options.auditLog', 'must have append() and redact()');
    }
    this.verifier = options.verifyIdentity;
    this.store = options.store ?? new MemoryDsrStore();
    this.auditLog = options.auditLog;
    // Option mistakes are configuration: ERR_CONFIG_INVALID naming `configPath` (createBulwark's
    // `privacy.dsr`), from the option kit createBulwark shares.
    const path = typeof o.configPath === 'string' ? o.configPath : 'dsr.options';
    const evidence = new ErasureEvidence(options.evidence, `${path}.evidence`, o.auditLog !== undefined);
    this.sourceRegistry = new SubjectDataSources(options.classification);
    this.erasure = new SubjectErasure({
      sources: this.sourceRegistry,
      ...(options.keyRing === undefined ? {} : { keyRing: options.keyRing }),
      ...(options.auditLog === undefined ? {} : { auditLog: options.auditLog }),
      evidence,
      ...(options.receiptSigner === undefined ? {} : { signer: options.receiptSigner }),
      now: () => this.lifecycle.now(),
    });
    this.clock = options.clock ?? (() => new Date());
    this.lifecycle = new DsrLifecycle({
      store: this.store,
      ...(options.auditLog === undefined ? {} : { auditLog: options.auditLog }),
      actor: options.actor ?? { id: 'bulwark-privacy', type: 'system' },
      clock: this.clock,
      responseDays: positiveInt(options.responseDays, `${path}.responseDays`, 30),
      maxExtensionDays: positiveInt(options.maxExtensionDays, `${path}.maxExtensionDays`, 60),
    });
  }

  // ------------------------------------------------------------------ sources

  #lastSelfTest?: DsrSelfTestResult;

  registerSource(source: SubjectDataSource): void {
    this.sourceRegistry.register(source);
  }

  /**
   * Runs an export for a test subject through every registered source (nothing is erased or
   * changed) and keeps the result as compliance evidence: when it ran, and per source whether the
   * export worked, how many records it returned and of which types (entities). Seed a synthetic
   * subject in every store and run this on a schedule: a source that exports nothing for it, or
   * an entity of the ClassificationRegistry no source exported, fails \`dsr.capabilities\`. The
   * subject id is not kept.
   */
  async selfTest(options: { subjectId: string }): Promise<DsrSelfTestResult> {
    const o = checkObject(options, 'dsr.selfTest');
    const subjectId = checkSubjectId(o.subjectId, 'dsr.selfTest.subjectId');
    const sources: { id: string; ok: boolean; records: number; types: string[] }[] = [];
    for (const source of this.sourceRegistry.sorted()) {
      try {
        const records = await this.sourceRegistry.call(source, 'export', () => source.export(subjectId));
        const list: unknown[] = Array.isArray(records) ? records : [];
        const types = new Set<string>();
        for (const r of list) {
          const type = (r as { type?: unknown } | null)?.type;
          if (typeof type === 'string' && type !== '') types.add(type);
        }
        sources.push({
          id: source.id,
          ok: Array.isArray(records),
          records: list.length,
          types: [...types].sort(),
        });
      } catch {
        // The cause may hold personal data: only the failure is kept.
        sources.push({ id: source.id, ok: false, records: 0, types: [] });
      }
    }
    const result: DsrSelfTestResult = Object.freeze({
      at: this.clock().toISOString(),
      ok: sources.length > 0 && sources.every((s) => s.ok && s.records > 0),
      sources: Object.freeze(sources.map((s) => Object.freeze(s))) as DsrSelfTestResult['sources'],
    });
    this.#lastSelfTest = result;
    return result;
  }

  /** The last \`selfTest()\` result (undefined before the first). */
  lastSelfTest(): DsrSelfTestResult | undefined {
    return this.#lastSelfTest;
  }

  /** Registered sources and what they support (evidence: erasure reaches every source). */
  sources(): { id: string; describe: string; erase: boolean; rectify: boolean }[] {
    return this.sourceRegistry.list();
  }

  // ------------------------------------------------------------------ lifecycle

  /** Logs a new request (status `received`) with its deadline. */
  async receive(input: ReceiveRequestInput): Promise<DataSubjectRequest> {
    const i = checkObject(input, 'dsr.request');
    if (!TYPES.includes(i.type as DsrType))
      throw privacyError('dsr.request.type', `must be one of ${TYPES.join(', ')}`);
    const type = i.type as DsrType;
    const subjectId = checkSubjectId(i.subjectId, 'dsr.request.subjectId');
    const channel = i.channel === undefined ? undefined : checkId(i.channel, 'dsr.request.channel');
    const idempotencyKey =
      i.idempotencyKey === undefined ? undefined : checkId(i.idempotencyKey, 'dsr.request.idempotencyKey');
    if (idempotencyKey !== undefined) {
      if (this.store.findByIdempotencyKey === undefined) {
        throw new BulwarkPrivacyError(
          ErrorCodes.DSR_UNSUPPORTED,
          'idempotency keys need a DsrStore with findByIdempotencyKey',
        );
      }
      const existing = await this.store.findByIdempotencyKey(idempotencyKey);
      if (existing !== undefined) return this.resubmitted(existing, type, subjectId);
    }
    let changes: Record<string, SubjectDataValue> | undefined;
    if (type === 'rectification') {
      const c = checkObject(i.changes, 'dsr.request.changes');
      if (Object.keys(c).length === 0)
        throw privacyError('dsr.request.changes', 'must name at least one field');
      changes = {};
      for (const [k, v] of Object.entries(c))
        changes[checkText(k, 'dsr.request.changes key', 128)] = jsonValue(v, 'changes');
    } else if (i.changes !== undefined) {
      throw privacyError('dsr.request.changes', 'is only allowed on rectification requests');
    }
    const receivedAt =
      i.receivedAt === undefined ? this.clock() : checkDate(i.receivedAt, 'dsr.request.receivedAt');
    const due = this.lifecycle.dueAt(receivedAt);
    const request: DataSubjectRequest = {
      id: randomUUID(),
      type,
      subjectId,
      subjectRef: subjectHash(subjectId),
      status: 'received',
      receivedAt: receivedAt.toISOString(),
      dueAt: due,
      effectiveDueAt: due,
      extensions: [],
      identity: { verified: false, failures: 0 },
      ...(changes === undefined ? {} : { changes }),
      ...(channel === undefined ? {} : { channel }),
      ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
      history: [{ status: 'received', at: receivedAt.toISOString() }],
    };
    try {
      await this.store.save(request);
    } catch (error) {
      // Received on another instance at the same moment: the stored one is the request.
      const existing =
        idempotencyKey !== undefined &&
        error instanceof BulwarkPrivacyError &&
        error.code === ErrorCodes.PRIVACY_DUPLICATE_ID
          ? await this.store.findByIdempotencyKey!(idempotencyKey)
          : undefined;
      if (existing === undefined) throw error;
      return this.resubmitted(existing, type, subjectId);
    }
    await this.lifecycle.audit('dsr.received', request);
    return request;
  }

  /** A resubmission must be the same request: a key reused for another subject or type is refused. */
  private resubmitted(existing: DataSubjectRequest, type: DsrType, subjectId: string): DataSubjectRequest {
    if (existing.type !== type || existing.subjectRef !== subjectHash(subjectId)) {
      throw new BulwarkPrivacyError(
        ErrorCodes.PRIVACY_DUPLICATE_ID,
        'this idempotency key belongs to another request',
        { path: 'dsr.request.idempotencyKey' },
      );
    }
    return existing;
  }

  /**
   * Runs the app's identity check. Passing moves the request to `identity-verified`; failing
   * leaves it `received`, counts the failure and audits it (outcome `failure`).
   */
  async verifyIdentity(requestId: string, evidence?: unknown): Promise<DataSubjectRequest> {
    const request = await this.lifecycle.load(requestId);
    this.lifecycle.expect(request, ['received'], 'verify identity');
    let verdict: boolean | { verified: boolean; method?: string };
    try {
      verdict = await this.verifier({
        requestId: request.id,
        type: request.type,
        subjectId: request.subjectId as string,
        evidence,
      });
    } catch (error) {
      // A verifier that throws has not verified anyone (fail closed).
      verdict = false;
      void error;
    }
    const verified =
      verdict === true || (typeof verdict === 'object' && verdict !== null && verdict.verified === true);
    const method =
      typeof verdict === 'object' && verdict !== null && typeof verdict.method === 'string'
        ? verdict.method.slice(0, 64)
        : undefined;
    const now = this.lifecycle.now();
    if (!verified) {
      request.identity = { ...request.identity, failures: request.identity.failures + 1 };
      await this.store.save(request);
      await this.lifecycle.audit('dsr.identity-failed', request, 'failure');
      return request;
    }
    request.identity = {
      verified: true,
      at: now,
      ...(method === undefined ? {} : { method }),
      failures: request.identity.failures,
    };
    return this.lifecycle.transition(request, 'identity-verified', 'dsr.identity-verified');
  }

  /** identity-verified -> in-progress. */
  async start(requestId: string): Promise<DataSubjectRequest> {
    const request = await this.lifecycle.load(requestId);
    this.lifecycle.requireVerified(request);
    this.lifecycle.expect(request, ['identity-verified'], 'start');
    return this.lifecycle.transition(request, 'in-progress', 'dsr.started');
  }

  /** Marks a request handled outside the built-in operations as completed. */
  async complete(requestId: string, note?: string): Promise<DataSubjectRequest> {
    const request = await this.lifecycle.load(requestId);
    this.lifecycle.requireVerified(request);
    this.lifecycle.expect(request, ['in-progress'], 'complete');
    return this.lifecycle.transition(
      request,
      'completed',
      'dsr.completed',
      checkOptionalText(note, 'dsr.complete.note', 1024),
    );
  }

  /** Refuses a request (GDPR Art. 12(4): the subject must be told why). Allowed from any open status. */
  async reject(requestId: string, reason: string): Promise<DataSubjectRequest> {
    const r = checkText(reason, 'dsr.reject.reason', 1024);
    const request = await this.lifecycle.load(requestId);
    this.lifecycle.expect(request, OPEN, 'reject');
    request.rejectedReason = r;
    return this.lifecycle.transition(request, 'rejected', 'dsr.rejected', r);
  }

  /**
   * Extends the deadline (GDPR Art. 12(3): by up to two further months where necessary, with the
   * reasons given to the subject). Extensions add up to at most `maxExtensionDays`.
   */
  async extend(requestId: string, input: { days: number; reason: string }): Promise<DataSubjectRequest> {
    const i = checkObject(input, 'dsr.extend');
    const request = await this.lifecycle.load(requestId);
    this.lifecycle.expect(request, OPEN, 'extend');
    if (typeof i.reason !== 'string' || i.reason.trim() === '' || i.reason.length > 1024) {
      throw new BulwarkPrivacyError(ErrorCodes.DSR_EXTENSION_INVALID, 'a deadline extension needs a reason', {
        path: 'dsr.extend.reason',
      });
    }
    if (!Number.isSafeInteger(i.days) || (i.days as number) < 1) {
      throw new BulwarkPrivacyError(
        ErrorCodes.DSR_EXTENSION_INVALID,
        'extension days must be a positive integer',
        {
          path: 'dsr.extend.days',
        },
      );
    }
    return this.lifecycle.extend(request, i.days as number, i.reason as string);
  }

  async get(requestId: string): Promise<DataSubjectRequest | undefined> {
    if (typeof requestId !== 'string' || requestId === '') return undefined;
    return this.store.get(requestId);
  }

  /** Requests by status / type (evidence: open and completed requests with their deadlines). */
  async list(filter: DsrFilter = {}): Promise<DataSubjectRequest[]> {
    checkObject(filter, 'dsr.list.filter');
    return this.store.list(filter);
  }

  /** Open requests whose (extended) deadline is before `now`. */
  async overdue(now: Date = this.clock()): Promise<DataSubjectRequest[]> {
    const t = checkDate(now, 'dsr.overdue.now').getTime();
    return (await this.store.list({ status: [...OPEN] })).filter((r) => Date.parse(r.effectiveDueAt) < t);
  }

  /**
   * The requester's recent security events, for the privacy officer to see before running a
   * request (an erasure request may follow an attack): the subject's denied and failed audit
   * entries in the last `days` (default 90), counted per action, the
   * newest `limit` (default 10) listed without resource ids. Scans at most 10,000 entries.
   */
  async securityEvents(
    requestId: string,
    options: { days?: number; limit?: number } = {},
  ): Promise<SubjectSecurityEvents> {
    const o = checkObject(options, 'dsr.securityEvents.options');
    const days = o.days === undefined ? 90 : checkPositiveInt(o.days, 'dsr.securityEvents.days');
    const limit = o.limit === undefined ? 10 : checkPositiveInt(o.limit, 'dsr.securityEvents.limit');
    const request = await this.lifecycle.load(requestId);
    const since = new Date(this.clock().getTime() - Math.min(days, 3660) * DAY_MS).toISOString();
    if (request.subjectId === undefined) {
      // erased: the identifier is gone
      return { count: 0, since, byAction: [], recent: [], truncated: false };
    }
    const auditLog = this.auditLog;
    if (auditLog?.query === undefined) {
      throw new BulwarkPrivacyError(
        ErrorCodes.DSR_UNSUPPORTED,
        'security events need an audit log with query() (dsr.options.auditLog)',
      );
    }
    return readSecurityEvents(auditLog as Pick<AuditLog, 'query'>, request.subjectId, since, limit);
  }

  // ------------------------------------------------------------------ operations

  /**
   * Access / portability: collects every source's records and returns the export in each of
   * `formats` (default JSON), then completes the request. The app delivers the files securely.
   */
  async export(
    requestId: string,
    options: { formats?: SubjectExportFormat[] } = {},
  ): Promise<{ request: DataSubjectRequest; document: SubjectExport; files: FormattedSubjectExport[] }> {
    const formats = options.formats ?? ['json'];
    if (
      !Array.isArray(formats) ||
      formats.length === 0 ||
      !formats.every((f) => ['json', 'csv', 'xml'].includes(f))
    ) {
      throw privacyError('dsr.export.formats', 'must list one or more of json, csv, xml');
    }
    let request = await this.lifecycle.load(requestId);
    if (request.type !== 'access' && request.type !== 'portability') {
      throw new BulwarkPrivacyError(
        ErrorCodes.DSR_INVALID_TRANSITION,
        `a ${request.type} request cannot be exported`,
        {
          requestId: request.id,
        },
      );
    }
    request = await this.lifecycle.begin(request);
    const document = await this.collect(request.id, request.subjectId as string);
    const files = [...new Set(formats)].map((f) => formatSubjectExport(document, f));
    request = await this.lifecycle.transition(request, 'completed', 'dsr.exported', undefined, {
      formats: files.map((f) => f.format),
      sources: document.sources.length,
    });
    return { request, document, files };
  }

  /** The export document for a subject, outside any request (e.g. an authenticated self-service download). */
  async collect(requestId: string, subjectId: string): Promise<SubjectExport> {
    checkSubjectId(subjectId);
    return this.sourceRegistry.collect(requestId, subjectId, () => this.lifecycle.now());
  }

  /**
   * Erasure (GDPR Art. 17): every source's erase(), then `keyRing.shred(subjectId)` (ciphertext
   * the deletion cannot reach, backups included, becomes unreadable), then redaction of the
   * subject's audit entries (as actor and as resource; the chain still verifies), then a signed
   * receipt. Security-relevant entries (see `evidence`: denied / failed outcomes, security and
   * authentication categories, the subject acting on another subject's resource) are not lost:
   * each is appended again with the subject's identifiers replaced by a keyed pseudonym before
   * its original is redacted (Art. 17(3)(b) legal obligation, (e) legal claims). A failing source stops the run with ERR_DSR_SOURCE_FAILED and leaves the request
   * in progress: erasers are idempotent, so call erase() again.
   */
  async erase(requestId: string): Promise<ErasureResult> {
    let request = await this.lifecycle.load(requestId);
    if (request.type !== 'erasure') {
      throw new BulwarkPrivacyError(
        ErrorCodes.DSR_INVALID_TRANSITION,
        `a ${request.type} request cannot erase`,
        {
          requestId: request.id,
        },
      );
    }
    request = await this.lifecycle.begin(request);
    const subjectId = request.subjectId as string;
    const outcome = await this.erasure.run(request.id, subjectId);
    const { summary, receipt, sourcesErased, shredded, auditRedacted, auditHeld, auditPreserved } = outcome;
    const { evidencePseudonym } = outcome;
    // Storage limitation: once erased, the request no longer needs the identifier itself.
    delete request.subjectId;
    if (receipt !== undefined) request.receipt = receipt;
    request = await this.lifecycle.transition(request, 'completed', 'dsr.erased', undefined, {
      sourcesErased,
      shredded,
      auditRedacted,
      auditHeld,
      auditPreserved,
      ...(evidencePseudonym === undefined ? {} : { evidencePseudonym }),
    });
    return {
      request,
      summary,
      ...(receipt === undefined ? {} : { receipt }),
      auditHeld,
      auditPreserved,
      ...(evidencePseudonym === undefined ? {} : { evidencePseudonym }),
    };
  }

  /** Rectification (GDPR Art. 16): hands the request's changes to every source with rectify(). */
  async rectify(
    requestId: string,
  ): Promise<{ request: DataSubjectRequest; updated: Record<string, number | null> }> {
    let request = await this.lifecycle.load(requestId);
    if (request.type !== 'rectification') {
      throw new BulwarkPrivacyError(
        ErrorCodes.DSR_INVALID_TRANSITION,
        `a ${request.type} request cannot rectify`,
        {
          requestId: request.id,
        },
      );
    }
    const targets = this.sourceRegistry.sorted().filter((s) => s.rectify !== undefined);
    if (targets.length === 0) {
      throw new BulwarkPrivacyError(
        ErrorCodes.DSR_UNSUPPORTED,
        'no registered data source supports rectification',
      );
    }
    request = await this.lifecycle.begin(request);
    const updated: Record<string, number | null> = {};
    for (const source of targets) {
      const n = await this.sourceRegistry.call(source, 'rectify', () =>
        source.rectify!(request.subjectId as string, structuredClone(request.changes ?? {})),
      );
      updated[source.id] = Number.isSafeInteger(n) ? (n as number) : null;
    }
    request = await this.lifecycle.transition(request, 'completed', 'dsr.rectified', undefined, {
      fields: Object.keys(request.changes ?? {}).sort(),
    });
    return { request, updated };
  }
}
