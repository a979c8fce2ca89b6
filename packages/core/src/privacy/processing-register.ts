import type { BulwarkPrivacyError } from '../errors';
import type { ClassificationCategory, ClassificationRegistry } from './classification-registry';
import {
  checkId,
  checkObject,
  checkOptionalText,
  checkPositiveInt,
  checkText,
  checkTextList,
  compareText,
  frozenCopy,
  privacyError,
} from './privacy-input';
import type { Processor, ProcessorRegister, RecipientRole, TransferMechanism } from './processor-register';
import { duplicateId, RegisterRecords } from './register-records';
import type { RegisterStore } from './register-store';

/** A third-country transfer (GDPR Art. 30(1)(e)). */
export interface ProcessingTransfer {
  /** ISO 3166-1 alpha-2 destination. */
  country: string;
  mechanism: Exclude<TransferMechanism, 'none'>;
  recipient?: string;
}

export interface ProcessingActivityInput {
  id: string;
  name: string;
  description?: string;
  /** Art. 30(1)(b). */
  purposes: string[];
  /** Lawful basis (Art. 6), e.g. `consent`, `contract`, `legal-obligation`. */
  lawfulBasis?: string;
  /** Entities whose classified fields this activity processes (read from the ClassificationRegistry). */
  entities?: string[];
  /** Categories named by hand, on top of those from the registry (`payment history`). */
  dataCategories?: string[];
  /** Art. 30(1)(c): categories of data subjects (`customers`, `patients`, `employees`). */
  subjectCategories: string[];
  /** Art. 30(1)(d): ProcessorRegister ids. */
  recipients?: string[];
  /** Art. 30(1)(f): time limits for erasure. */
  retention: { days?: number; description: string };
  transfers?: ProcessingTransfer[];
  /** Art. 30(1)(g): technical and organisational security measures (Art. 32). */
  securityMeasures: string[];
}

export interface ProcessingActivity {
  id: string;
  name: string;
  description?: string;
  purposes: string[];
  lawfulBasis?: string;
  entities: string[];
  dataCategories: string[];
  subjectCategories: string[];
  recipients: string[];
  retention: { days?: number; description: string };
  transfers: ProcessingTransfer[];
  securityMeasures: string[];
}

/** An activity with its data categories resolved from the registry and recipients from the ProcessorRegister. */
export interface ResolvedProcessingActivity extends Omit<
  ProcessingActivity,
  'recipients' | 'dataCategories'
> {
  dataCategories: {
    /** Classification class, or `declared` for a category named by hand. */
    category: ClassificationCategory | 'declared';
    name: string;
    fields: string[];
  }[];
  recipients: { id: string; name: string; role: RecipientRole | 'unknown'; country?: string }[];
}

export interface RecordOfProcessing {
  format: typeof ROPA_FORMAT;
  controller: { name: string; contact?: string; dpo?: string; representative?: string };
  generatedAt: string;
  activities: ResolvedProcessingActivity[];
}

export interface ProcessingRegisterOptions {
  /** Art. 30(1)(a): name and contact details of the controller, its DPO and representative. */
  controller: { name: string; contact?: string; dpo?: string; representative?: string };
  classification?: ClassificationRegistry;
  processors?: ProcessorRegister;
  clock?: () => Date;
  /** Where activities are kept. Default: process memory (`@bulwark/typeorm` for SQL). */
  store?: RegisterStore<ProcessingActivity>;
}

export const ROPA_FORMAT = 'bulwark-ropa/1';

const CLASS_NAMES: Record<ClassificationCategory, string> = {
  personal: 'Personal data',
  sensitive: 'Special-category / sensitive data',
  phi: 'Protected health information',
  cardholder: 'Cardholder data',
};

/**
 * Record of processing activities (GDPR Art. 30(1)): one entry per activity with purposes, data
 * categories (read live from the ClassificationRegistry, so the record follows the code), subject
 * categories, recipients (from the ProcessorRegister), retention, transfers and security measures.
 * Exported as JSON (`bulwark-ropa/1`) and Markdown.
 */
export class ProcessingRegister {
  private readonly controller: RecordOfProcessing['controller'];
  private readonly classification?: ClassificationRegistry;
  private readonly processors?: ProcessorRegister;
  private readonly clock: () => Date;
  private readonly records: RegisterRecords<ProcessingActivity>;

  constructor(options: ProcessingRegisterOptions) {
    const o = checkObject(options, 'ropa.options');
    const c = checkObject(o.controller, 'ropa.options.controller');
    this.controller = frozenCopy({
      name: checkText(c.name, 'ropa.options.controller.name', 256),
      ...optional('contact', checkOptionalText(c.contact, 'ropa.options.controller.contact', 512)),
      ...optional('dpo', checkOptionalText(c.dpo, 'ropa.options.controller.dpo', 512)),
      ...optional(
        'representative',
        checkOptionalText(c.representative, 'ropa.options.controller.representative', 512),
      ),
    });
    this.classification = options.classification;
    this.processors = options.processors;
    this.clock = options.clock ?? (() => new Date());
    this.records = new RegisterRecords('processing register', o.store, 'ropa.options.store', (v) =>
      ProcessingRegister.prepare(v as ProcessingActivityInput),
    );
  }

  /** Adds an activity; ERR_PRIVACY_DUPLICATE_ID when the id is taken (on any instance sharing the store). */
  async register(input: ProcessingActivityInput): Promise<ProcessingActivity> {
    const activity = ProcessingRegister.prepare(input);
    await this.checkRecipients(activity);
    await this.records.insertNew(activity.id, activity, () => duplicateActivity(activity.id));
    return activity;
  }

  /**
   * Registers an activity declared in configuration: inserted when absent, replaced when the
   * stored one differs (the configuration is the source of truth), left alone when equal.
   */
  async ensure(input: ProcessingActivityInput): Promise<ProcessingActivity> {
    const activity = ProcessingRegister.prepare(input);
    await this.checkRecipients(activity);
    return this.records.ensure(activity.id, activity, 'processing activity');
  }

  private async checkRecipients(activity: ProcessingActivity): Promise<void> {
    if (this.processors === undefined) return;
    checkRecipientsKnown(activity, new Set((await this.processors.list()).map((p) => p.id)));
  }

  /** Validates an activity without storing it (createBulwark checks configuration with it). */
  static prepare(input: ProcessingActivityInput): ProcessingActivity {
    const i = checkObject(input, 'activity');
    const id = checkId(i.id, 'activity.id');
    const at = `activity ${id}`;
    const recipients = checkTextList(i.recipients ?? [], `${at}.recipients`, { max: 128 });
    recipients.forEach((r, n) => checkId(r, `${at}.recipients[${n}]`));
    const retention = checkObject(i.retention, `${at}.retention`);
    const transfers = i.transfers ?? [];
    if (!Array.isArray(transfers)) throw privacyError(`${at}.transfers`, 'must be an array');
    const activity: ProcessingActivity = frozenCopy({
      id,
      name: checkText(i.name, `${at}.name`, 256),
      ...optional('description', checkOptionalText(i.description, `${at}.description`, 4096)),
      purposes: checkTextList(i.purposes, `${at}.purposes`, { min: 1 }),
      ...optional('lawfulBasis', checkOptionalText(i.lawfulBasis, `${at}.lawfulBasis`, 128)),
      entities: checkTextList(i.entities ?? [], `${at}.entities`, { max: 128 }),
      dataCategories: checkTextList(i.dataCategories ?? [], `${at}.dataCategories`),
      subjectCategories: checkTextList(i.subjectCategories, `${at}.subjectCategories`, { min: 1 }),
      recipients,
      retention: {
        ...optional(
          'days',
          retention.days === undefined ? undefined : checkPositiveInt(retention.days, `${at}.retention.days`),
        ),
        description: checkText(retention.description, `${at}.retention.description`, 1024),
      },
      transfers: transfers.map((t, n) => {
        const o = checkObject(t, `${at}.transfers[${n}]`);
        if (typeof o.country !== 'string' || !/^[A-Z]{2}$/.test(o.country)) {
          throw privacyError(`${at}.transfers[${n}].country`, 'must be an ISO 3166-1 alpha-2 code');
        }
        if (!['adequacy', 'SCC', 'BCR', 'derogation', 'other'].includes(o.mechanism as string)) {
          throw privacyError(
            `${at}.transfers[${n}].mechanism`,
            'must be adequacy, SCC, BCR, derogation or other',
          );
        }
        return {
          country: o.country,
          mechanism: o.mechanism as ProcessingTransfer['mechanism'],
          ...optional('recipient', checkOptionalText(o.recipient, `${at}.transfers[${n}].recipient`, 256)),
        };
      }),
      securityMeasures: checkTextList(i.securityMeasures, `${at}.securityMeasures`, { min: 1 }),
    });
    return activity;
  }

  async get(id: string): Promise<ProcessingActivity | undefined> {
    return (await this.records.read(id))?.value;
  }

  /** Activities as registered, sorted by id. */
  async list(): Promise<ProcessingActivity[]> {
    return (await this.records.values()).sort((a, b) => compareText(a.id, b.id));
  }

  /**
   * Gaps a reviewer should see: activities with no data categories at all, recipients no longer
   * in the ProcessorRegister, processors whose scope omits one of the activity's purposes.
   */
  async gaps(): Promise<{ activityId: string; issue: string }[]> {
    const out: { activityId: string; issue: string }[] = [];
    const processors = await this.processorMap();
    for (const a of await this.resolve(processors)) {
      if (a.dataCategories.length === 0) out.push({ activityId: a.id, issue: 'no data categories' });
      for (const r of a.recipients) {
        if (r.role === 'unknown')
          out.push({ activityId: a.id, issue: `recipient ${r.id} is not in the processor register` });
        const p = processors.get(r.id);
        if (p !== undefined && !a.purposes.every((x) => p.scope.purposes.includes(x))) {
          out.push({
            activityId: a.id,
            issue: `recipient ${r.id} is not engaged for all purposes of the activity`,
          });
        }
      }
    }
    return out;
  }

  /** The full record (Art. 30(1)), resolved against the registry and the processor register. */
  async toJSON(): Promise<RecordOfProcessing> {
    return {
      format: ROPA_FORMAT,
      controller: { ...this.controller },
      generatedAt: this.clock().toISOString(),
      activities: await this.resolve(await this.processorMap()),
    };
  }

  async toMarkdown(): Promise<string> {
    const ropa = await this.toJSON();
    const c = ropa.controller;
    const lines: string[] = [
      '# Record of processing activities',
      '',
      `GDPR Art. 30(1). Generated ${ropa.generatedAt} (format \`${ROPA_FORMAT}\`).`,
      '',
      `**Controller:** ${md(c.name)}${c.contact ? ` (${md(c.contact)})` : ''}`,
    ];
    if (c.dpo) lines.push(`**Data protection officer:** ${md(c.dpo)}`);
    if (c.representative) lines.push(`**Representative:** ${md(c.representative)}`);
    for (const a of ropa.activities) {
      lines.push('', `## ${md(a.name)} (\`${a.id}\`)`, '');
      if (a.description) lines.push(md(a.description), '');
      lines.push('| Item | Value |', '| --- | --- |');
      const row = (k: string, v: string) => lines.push(`| ${k} | ${v === '' ? '—' : v} |`);
      row('Purposes', a.purposes.map(md).join('; '));
      if (a.lawfulBasis) row('Lawful basis', md(a.lawfulBasis));
      row(
        'Categories of personal data',
        a.dataCategories
          .map((d) =>
            d.fields.length > 0 ? `${md(d.name)}: ${d.fields.map((f) => `\`${f}\``).join(', ')}` : md(d.name),
          )
          .join('; '),
      );
      row('Categories of data subjects', a.subjectCategories.map(md).join('; '));
      row(
        'Recipients',
        a.recipients.map((r) => `${md(r.name)} (${r.role}${r.country ? `, ${r.country}` : ''})`).join('; '),
      );
      row(
        'Retention',
        `${md(a.retention.description)}${a.retention.days ? ` (${a.retention.days} days)` : ''}`,
      );
      row(
        'Transfers to third countries',
        a.transfers.length === 0
          ? 'None'
          : a.transfers
              .map((t) => `${t.country} (${t.mechanism}${t.recipient ? `, ${md(t.recipient)}` : ''})`)
              .join('; '),
      );
      row('Security measures', a.securityMeasures.map(md).join('; '));
    }
    return lines.join('\n') + '\n';
  }

  private async processorMap(): Promise<Map<string, Processor>> {
    return new Map((this.processors === undefined ? [] : await this.processors.list()).map((p) => [p.id, p]));
  }

  private async resolve(processors: Map<string, Processor>): Promise<ResolvedProcessingActivity[]> {
    return (await this.list()).map((a) => {
      const fromRegistry =
        this.classification === undefined || (a.entities.length === 0 && a.purposes.length === 0)
          ? []
          : this.classification.dataCategories({ entities: a.entities, purposes: a.purposes });
      return {
        id: a.id,
        name: a.name,
        ...optional('description', a.description),
        purposes: [...a.purposes],
        ...optional('lawfulBasis', a.lawfulBasis),
        entities: [...a.entities],
        dataCategories: [
          ...fromRegistry.map((d) => ({
            category: d.category,
            name: CLASS_NAMES[d.category],
            fields: [...d.fields],
          })),
          ...a.dataCategories.map((name) => ({ category: 'declared' as const, name, fields: [] })),
        ],
        subjectCategories: [...a.subjectCategories],
        recipients: a.recipients.map((id) => {
          const p = processors.get(id);
          return p === undefined
            ? { id, name: id, role: 'unknown' as const }
            : { id, name: p.name, role: p.role, ...optional('country', p.country) };
        }),
        retention: { ...a.retention },
        transfers: a.transfers.map((t) => ({ ...t })),
        securityMeasures: [...a.securityMeasures],
      };
    });
  }
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

/** Markdown-safe inline text: table pipes, emphasis, links and HTML are escaped; newlines become spaces. */
function md(text: string): string {
  return text.replace(/[\r\n]+/g, ' ').replace(/([\\`*_[\]|<>#])/g, '\\$1');
}

/** ERR_PRIVACY_DUPLICATE_ID: an activity with this id is registered already. */
export function duplicateActivity(id: string): BulwarkPrivacyError {
  return duplicateId(`activity ${id} is already registered`, id);
}

/** Every recipient of the activity is a registered processor (`known`: their ids). */
export function checkRecipientsKnown(activity: ProcessingActivity, known: ReadonlySet<string>): void {
  const unknown = activity.recipients.filter((r) => !known.has(r));
  if (unknown.length > 0) {
    throw privacyError(
      `activity ${activity.id}.recipients`,
      `names unregistered processors: ${unknown.join(', ')}`,
    );
  }
}
