import type { BulwarkPrivacyError } from '../errors';
import {
  checkDate,
  checkId,
  checkObject,
  checkOptionalText,
  checkText,
  checkTextList,
  compareText,
  frozenCopy,
  privacyError,
} from './privacy-input';
import { duplicateId, notFound, RegisterRecords } from './register-records';
import { conflict, type RegisterStore } from './register-store';

/**
 * Recipients of personal data. `processor` / `sub-processor`: GDPR Art. 28 (needs a data
 * processing agreement, DPA; a sub-processor also needs the controller's authorisation, Art. 28(2)).
 * `business-associate`: HIPAA 45 CFR 164.502(e), 164.308(b) (needs a business associate
 * agreement, BAA). `controller` / `joint-controller`: independent recipients (Art. 26 arrangement
 * for joint controllers).
 */
export type RecipientRole =
  'processor' | 'sub-processor' | 'business-associate' | 'controller' | 'joint-controller';
export type AgreementType = 'DPA' | 'BAA' | 'SCC' | 'joint-controller-arrangement' | 'other';
/** Chapter V transfer tool for recipients outside the EEA. */
export type TransferMechanism = 'none' | 'adequacy' | 'SCC' | 'BCR' | 'derogation' | 'other';

export interface Agreement {
  type: AgreementType;
  /** When it was signed (ISO-8601); absent = not signed yet. */
  signedAt?: string;
  /** When it ends (ISO-8601); absent = open-ended. */
  expiresAt?: string;
  /** Document reference (contract number, URL of the signed copy). */
  reference?: string;
}

export interface ProcessorInput {
  id: string;
  name: string;
  role: RecipientRole;
  /** For sub-processors: the processor that engaged them. */
  parentId?: string;
  agreements?: {
    type: AgreementType;
    signedAt?: Date | string;
    expiresAt?: Date | string;
    reference?: string;
  }[];
  scope: { dataCategories: string[]; purposes: string[] };
  /** Country (ISO 3166-1 alpha-2) where data is processed. */
  country?: string;
  transferMechanism?: TransferMechanism;
  contact?: string;
  /** Services / what they do for you. */
  description?: string;
}

export interface Processor {
  id: string;
  name: string;
  role: RecipientRole;
  parentId?: string;
  agreements: Agreement[];
  scope: { dataCategories: string[]; purposes: string[] };
  country?: string;
  transferMechanism: TransferMechanism;
  contact?: string;
  description?: string;
}

export interface AgreementGap {
  processorId: string;
  required: AgreementType;
  reason: 'missing' | 'not-signed' | 'expired';
  /** The standard that asks for it. */
  basis: string;
}

const ROLES: readonly RecipientRole[] = [
  'processor',
  'sub-processor',
  'business-associate',
  'controller',
  'joint-controller',
];
const AGREEMENTS: readonly AgreementType[] = ['DPA', 'BAA', 'SCC', 'joint-controller-arrangement', 'other'];
const MECHANISMS: readonly TransferMechanism[] = ['none', 'adequacy', 'SCC', 'BCR', 'derogation', 'other'];
/** Data categories that make a recipient a HIPAA business associate's concern. */
const PHI_CATEGORIES = new Set(['phi', 'PHI', 'health']);

/** Which agreements a recipient needs, and under which rule. */
function requiredAgreements(p: Processor): { type: AgreementType; basis: string }[] {
  const out: { type: AgreementType; basis: string }[] = [];
  if (p.role === 'processor' || p.role === 'sub-processor')
    out.push({ type: 'DPA', basis: 'GDPR Art. 28(3)' });
  if (p.role === 'joint-controller')
    out.push({ type: 'joint-controller-arrangement', basis: 'GDPR Art. 26(1)' });
  if (
    p.role === 'business-associate' ||
    (p.role !== 'controller' && p.scope.dataCategories.some((c) => PHI_CATEGORIES.has(c)))
  ) {
    out.push({ type: 'BAA', basis: 'HIPAA 45 CFR 164.502(e), 164.308(b)' });
  }
  if (p.transferMechanism === 'SCC') out.push({ type: 'SCC', basis: 'GDPR Art. 46(2)(c)' });
  return out;
}

/**
 * Register of processors, sub-processors, business associates and other recipients with their
 * agreements. Feeds the record of processing activities (recipients) and the GDPR Art. 28 /
 * HIPAA 164.308(b) controls (`missingAgreements`, `expired`).
 */
export class ProcessorRegister {
  private readonly records: RegisterRecords<Processor>;

  /** `store`: where recipients are kept (default: process memory; `@bulwark/typeorm` for SQL). */
  constructor(options: { store?: RegisterStore<Processor> } = {}) {
    const o = checkObject(options, 'processors.options');
    this.records = new RegisterRecords('processor register', o.store, 'processors.options.store', (v) =>
      ProcessorRegister.prepare(v as ProcessorInput),
    );
  }

  /** Adds a recipient; ERR_PRIVACY_DUPLICATE_ID when the id is taken (on any instance sharing the store). */
  async register(input: ProcessorInput): Promise<Processor> {
    const processor = ProcessorRegister.prepare(input);
    await this.checkParent(processor);
    await this.records.insertNew(processor.id, processor, () => duplicateProcessor(processor.id));
    return processor;
  }

  /**
   * Registers a recipient declared in configuration: inserted when absent, replaced when the
   * stored one differs (the configuration is the source of truth), left alone when equal. Every
   * instance starting with the same configuration converges on the same record.
   */
  async ensure(input: ProcessorInput): Promise<Processor> {
    const processor = ProcessorRegister.prepare(input);
    await this.checkParent(processor);
    return this.records.ensure(processor.id, processor, 'processor');
  }

  private async checkParent(processor: Processor): Promise<void> {
    if (processor.parentId !== undefined && !(await this.has(processor.parentId))) {
      throw unknownParent(processor);
    }
  }

  /** Validates a recipient without storing it (createBulwark checks configuration with it). */
  static prepare(input: ProcessorInput): Processor {
    const i = checkObject(input, 'processor');
    const id = checkId(i.id, 'processor.id');
    const at = `processor ${id}`;
    const name = checkText(i.name, `${at}.name`, 256);
    if (!ROLES.includes(i.role as RecipientRole))
      throw privacyError(`${at}.role`, `must be one of ${ROLES.join(', ')}`);
    const role = i.role as RecipientRole;
    let parentId: string | undefined;
    if (role === 'sub-processor') {
      parentId = checkId(i.parentId, `${at}.parentId`);
    } else if (i.parentId !== undefined) {
      throw privacyError(`${at}.parentId`, 'is only allowed for sub-processors');
    }
    const agreementsIn = i.agreements ?? [];
    if (!Array.isArray(agreementsIn)) throw privacyError(`${at}.agreements`, 'must be an array');
    const agreements = agreementsIn.map((a, n): Agreement => {
      const path = `${at}.agreements[${n}]`;
      const o = checkObject(a, path);
      if (!AGREEMENTS.includes(o.type as AgreementType)) {
        throw privacyError(`${path}.type`, `must be one of ${AGREEMENTS.join(', ')}`);
      }
      const signedAt = o.signedAt === undefined ? undefined : checkDate(o.signedAt, `${path}.signedAt`);
      const expiresAt = o.expiresAt === undefined ? undefined : checkDate(o.expiresAt, `${path}.expiresAt`);
      if (signedAt && expiresAt && expiresAt.getTime() <= signedAt.getTime()) {
        throw privacyError(`${path}.expiresAt`, 'must be after signedAt');
      }
      const reference = checkOptionalText(o.reference, `${path}.reference`, 512);
      return {
        type: o.type as AgreementType,
        ...(signedAt === undefined ? {} : { signedAt: signedAt.toISOString() }),
        ...(expiresAt === undefined ? {} : { expiresAt: expiresAt.toISOString() }),
        ...(reference === undefined ? {} : { reference }),
      };
    });
    const scope = checkObject(i.scope, `${at}.scope`);
    const country = i.country === undefined ? undefined : String(i.country);
    if (country !== undefined && !/^[A-Z]{2}$/.test(country)) {
      throw privacyError(`${at}.country`, 'must be an ISO 3166-1 alpha-2 code such as DE or US');
    }
    const mechanism = (i.transferMechanism ?? 'none') as TransferMechanism;
    if (!MECHANISMS.includes(mechanism)) {
      throw privacyError(`${at}.transferMechanism`, `must be one of ${MECHANISMS.join(', ')}`);
    }
    const contact = checkOptionalText(i.contact, `${at}.contact`, 256);
    const description = checkOptionalText(i.description, `${at}.description`, 2048);
    const processor: Processor = frozenCopy({
      id,
      name,
      role,
      ...(parentId === undefined ? {} : { parentId }),
      agreements,
      scope: {
        dataCategories: checkTextList(scope.dataCategories, `${at}.scope.dataCategories`, {
          min: 1,
          max: 128,
        }).sort(compareText),
        purposes: checkTextList(scope.purposes, `${at}.scope.purposes`, { min: 1, max: 128 }).sort(
          compareText,
        ),
      },
      ...(country === undefined ? {} : { country }),
      transferMechanism: mechanism,
      ...(contact === undefined ? {} : { contact }),
      ...(description === undefined ? {} : { description }),
    });
    return processor;
  }

  /** Removes a recipient (and fails if sub-processors still point at it). */
  async remove(id: string): Promise<void> {
    const found = typeof id === 'string' && id !== '' ? await this.records.raw(id) : undefined;
    if (found === undefined) throw notFound('processor', id);
    if ((await this.list()).some((p) => p.parentId === id)) {
      throw privacyError(`processor ${id}`, 'still has sub-processors; remove them first');
    }
    if (!(await this.records.delete(id, found.version))) {
      throw conflict('processor', id);
    }
  }

  async get(id: string): Promise<Processor | undefined> {
    return (await this.records.read(id))?.value;
  }

  async has(id: string): Promise<boolean> {
    return (await this.get(id)) !== undefined;
  }

  /** Every recipient, sorted by id (evidence). */
  async list(filter: { role?: RecipientRole } = {}): Promise<Processor[]> {
    return (await this.records.values())
      .filter((p) => filter.role === undefined || p.role === filter.role)
      .sort((a, b) => compareText(a.id, b.id));
  }

  /** Agreements that have ended by `now` (one row per expired agreement). */
  async expired(now: Date = new Date()): Promise<{ processorId: string; agreement: Agreement }[]> {
    const t = checkDate(now, 'processors.expired.now').getTime();
    const out: { processorId: string; agreement: Agreement }[] = [];
    for (const p of await this.list()) {
      for (const a of p.agreements) {
        if (a.expiresAt !== undefined && Date.parse(a.expiresAt) <= t)
          out.push({ processorId: p.id, agreement: a });
      }
    }
    return out;
  }

  /** Agreements ending within `days` after `now` (renewal planning). */
  async expiringWithin(
    days: number,
    now: Date = new Date(),
  ): Promise<{ processorId: string; agreement: Agreement }[]> {
    const t = checkDate(now, 'processors.expiringWithin.now').getTime();
    if (!Number.isFinite(days) || days < 0)
      throw privacyError('processors.expiringWithin.days', 'must be >= 0');
    const end = t + days * 86_400_000;
    const out: { processorId: string; agreement: Agreement }[] = [];
    for (const p of await this.list()) {
      for (const a of p.agreements) {
        const e = a.expiresAt === undefined ? undefined : Date.parse(a.expiresAt);
        if (e !== undefined && e > t && e <= end) out.push({ processorId: p.id, agreement: a });
      }
    }
    return out;
  }

  /**
   * Recipients lacking an agreement their role requires: a processor or sub-processor without a
   * signed, unexpired DPA (GDPR Art. 28(3)); anyone handling PHI (or a business associate) without
   * a BAA (HIPAA 164.502(e)); SCC transfers without signed SCCs; joint controllers without an
   * Art. 26 arrangement.
   */
  async missingAgreements(now: Date = new Date()): Promise<AgreementGap[]> {
    const t = checkDate(now, 'processors.missingAgreements.now').getTime();
    const gaps: AgreementGap[] = [];
    for (const p of await this.list()) {
      for (const need of requiredAgreements(p)) {
        const candidates = p.agreements.filter((a) => a.type === need.type);
        let reason: AgreementGap['reason'] | undefined;
        if (candidates.length === 0) reason = 'missing';
        else if (!candidates.some((a) => a.signedAt !== undefined && Date.parse(a.signedAt) <= t))
          reason = 'not-signed';
        else if (
          !candidates.some(
            (a) =>
              a.signedAt !== undefined &&
              Date.parse(a.signedAt) <= t &&
              (a.expiresAt === undefined || Date.parse(a.expiresAt) > t),
          )
        ) {
          reason = 'expired';
        }
        if (reason !== undefined)
          gaps.push({ processorId: p.id, required: need.type, reason, basis: need.basis });
      }
    }
    return gaps;
  }
}

/** ERR_PRIVACY_DUPLICATE_ID: a recipient with this id is registered already. */
export function duplicateProcessor(id: string): BulwarkPrivacyError {
  return duplicateId(`processor ${id} is already registered`, id);
}

/** A sub-processor whose parent is not registered (register the parent first). */
export function unknownParent(processor: Processor): BulwarkPrivacyError {
  return privacyError(`processor ${processor.id}.parentId`, 'must name a registered processor');
}
