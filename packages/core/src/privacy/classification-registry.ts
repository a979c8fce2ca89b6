import type { BulwarkConfigError } from '../errors';
import { configError } from '../util/options';

/** DESIGN "Classification": the four data classes a field can carry. */
export type ClassificationCategory = 'personal' | 'sensitive' | 'phi' | 'cardholder';

export const CLASSIFICATION_CATEGORIES: readonly ClassificationCategory[] = Object.freeze([
  'personal',
  'sensitive',
  'phi',
  'cardholder',
]);

/** One classified field of one entity (or any named record type). */
export interface ClassifiedField {
  /** Entity / record type name, e.g. `Patient`. */
  readonly entity: string;
  /** Property name, e.g. `diagnosis`. */
  readonly field: string;
  readonly category: ClassificationCategory;
  /** Whether the value is stored encrypted (compliance checks flag classified fields that are not). */
  readonly encrypted: boolean;
  /** Whether an equality blind index exists for the field. */
  readonly blindIndexed: boolean;
  /** Processing purpose for the record of processing activities (GDPR art. 30), e.g. `treatment`. */
  readonly purpose?: string;
  /**
   * Plaintext values read from the (encrypted) column since the process started: rows not yet
   * encrypted, served by a transitional read mode (@bulwark/typeorm `plaintextReads: 'accept'`).
   * Absent when none; while present the field counts as not (yet) encrypted at rest.
   */
  readonly plaintextReads?: number;
}

export interface ClassificationInput {
  entity: string;
  field: string;
  category: ClassificationCategory;
  encrypted: boolean;
  blindIndexed?: boolean;
  purpose?: string;
  plaintextReads?: number;
}

export interface ClassificationRegistryOptions {
  /** Config path used in error messages. Default `classification` (createBulwark: `privacy.classification`). */
  configPath?: string;
}

/**
 * Which fields hold personal, sensitive, health (PHI) or cardholder data, and whether they are
 * encrypted. Framework-free: ORM adapters (e.g. @bulwark/typeorm's `@PHI()`) register fields at
 * decoration time; redaction, encryption checks, exports and the record of processing activities
 * read it. Registering the same entity + field again replaces the entry (decorators on one
 * property run one after another, each re-registering what it knows so far).
 */
export class ClassificationRegistry {
  private readonly fields = new Map<string, ClassifiedField>();
  readonly #configPath: string;

  constructor(options: ClassificationRegistryOptions = {}) {
    this.#configPath =
      options !== null && typeof options === 'object' && typeof options.configPath === 'string'
        ? options.configPath
        : 'classification';
  }

  register(input: ClassificationInput): ClassifiedField {
    const config = (path: string, message: string): BulwarkConfigError =>
      configError(`${this.#configPath}.${path}`, message);
    if (input === null || typeof input !== 'object') throw config('field', 'must be an object');
    const { entity, field, category, encrypted, blindIndexed = false, purpose, plaintextReads } = input;
    if (typeof entity !== 'string' || entity === '') throw config('entity', 'must be a non-empty string');
    if (typeof field !== 'string' || field === '') throw config('field', 'must be a non-empty string');
    if (!CLASSIFICATION_CATEGORIES.includes(category)) {
      throw config(`${entity}.${field}.category`, `must be one of ${CLASSIFICATION_CATEGORIES.join(', ')}`);
    }
    if (typeof encrypted !== 'boolean') throw config(`${entity}.${field}.encrypted`, 'must be a boolean');
    if (typeof blindIndexed !== 'boolean') {
      throw config(`${entity}.${field}.blindIndexed`, 'must be a boolean');
    }
    if (purpose !== undefined && (typeof purpose !== 'string' || purpose === '')) {
      throw config(`${entity}.${field}.purpose`, 'must be a non-empty string');
    }
    if (plaintextReads !== undefined && (!Number.isSafeInteger(plaintextReads) || plaintextReads < 0)) {
      throw config(`${entity}.${field}.plaintextReads`, 'must be a non-negative integer');
    }
    const entry: ClassifiedField = Object.freeze({
      entity,
      field,
      category,
      encrypted,
      blindIndexed,
      ...(purpose === undefined ? {} : { purpose }),
      ...(plaintextReads === undefined || plaintextReads === 0 ? {} : { plaintextReads }),
    });
    this.fields.set(key(entity, field), entry);
    return entry;
  }

  get(entity: string, field: string): ClassifiedField | undefined {
    return this.fields.get(key(entity, field));
  }

  /** All entries (optionally of one entity), sorted by entity then field. */
  list(entity?: string): ClassifiedField[] {
    return [...this.fields.values()]
      .filter((f) => entity === undefined || f.entity === entity)
      .sort((a, b) => compare(a.entity, b.entity) || compare(a.field, b.field));
  }

  /** Classified fields stored in clear: what an "encryption on classified fields" control reports. */
  unencrypted(): ClassifiedField[] {
    return this.list().filter((f) => !f.encrypted);
  }

  /** `{ field: category }` for one entity, the shape Redactor's `classification` option takes. */
  redactionMap(entity: string): Record<string, ClassificationCategory> {
    const out: Record<string, ClassificationCategory> = {};
    for (const f of this.list(entity)) out[f.field] = f.category;
    return out;
  }

  /**
   * `{ field: category }` over several entities (default all), for a Redactor that sees events of
   * many entity types. A field name classified differently in two entities gets the stricter
   * class (cardholder > phi > sensitive > personal), so merging never weakens redaction.
   */
  redactorClassification(entities?: readonly string[]): Record<string, ClassificationCategory> {
    const out: Record<string, ClassificationCategory> = {};
    for (const f of this.list()) {
      if (entities !== undefined && !entities.includes(f.entity)) continue;
      const prev = out[f.field];
      if (prev === undefined || STRICTNESS[f.category] > STRICTNESS[prev]) out[f.field] = f.category;
    }
    return out;
  }

  /**
   * Classified fields stored in clear vs encrypted, per category (evidence for the "encryption on
   * classified fields" control and PCI DSS 3.5 / HIPAA 164.312(a)(2)(iv)).
   */
  encryptionStatus(): {
    total: number;
    encrypted: number;
    unencrypted: ClassifiedField[];
    byCategory: Record<ClassificationCategory, { total: number; encrypted: number }>;
  } {
    const byCategory = Object.fromEntries(
      CLASSIFICATION_CATEGORIES.map((c) => [c, { total: 0, encrypted: 0 }]),
    ) as Record<ClassificationCategory, { total: number; encrypted: number }>;
    const all = this.list();
    for (const f of all) {
      byCategory[f.category].total++;
      if (f.encrypted) byCategory[f.category].encrypted++;
    }
    return {
      total: all.length,
      encrypted: all.filter((f) => f.encrypted).length,
      unencrypted: all.filter((f) => !f.encrypted),
      byCategory,
    };
  }

  /**
   * Data categories with the fields behind them, limited to fields of the given entities and/or
   * purposes (a field matches when its entity is listed or its purpose is). With no filter, all.
   * Feeds the "categories of personal data" of the record of processing activities.
   */
  dataCategories(filter: { entities?: readonly string[]; purposes?: readonly string[] } = {}): {
    category: ClassificationCategory;
    fields: string[];
  }[] {
    const unfiltered = filter.entities === undefined && filter.purposes === undefined;
    const groups = new Map<ClassificationCategory, string[]>();
    for (const f of this.list()) {
      const match =
        unfiltered ||
        (filter.entities?.includes(f.entity) ?? false) ||
        (f.purpose !== undefined && (filter.purposes?.includes(f.purpose) ?? false));
      if (!match) continue;
      const list = groups.get(f.category) ?? [];
      list.push(`${f.entity}.${f.field}`);
      groups.set(f.category, list);
    }
    return CLASSIFICATION_CATEGORIES.filter((c) => groups.has(c)).map((category) => ({
      category,
      fields: groups.get(category)!,
    }));
  }

  unregister(entity: string, field: string): boolean {
    return this.fields.delete(key(entity, field));
  }

  clear(): void {
    this.fields.clear();
  }
}

const STRICTNESS: Record<ClassificationCategory, number> = {
  personal: 1,
  sensitive: 2,
  phi: 3,
  cardholder: 4,
};

function key(entity: string, field: string): string {
  return `${entity}\u0000${field}`;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Process-wide registry that decorators feed by default. */
export const defaultClassificationRegistry = new ClassificationRegistry();
