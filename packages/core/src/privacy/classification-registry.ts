import { BulwarkConfigError, ErrorCodes } from '../errors';

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
}

export interface ClassificationInput {
  entity: string;
  field: string;
  category: ClassificationCategory;
  encrypted: boolean;
  blindIndexed?: boolean;
  purpose?: string;
}

function config(path: string, message: string): BulwarkConfigError {
  return new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, `classification.${path} ${message}`, {
    path: `classification.${path}`,
  });
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

  register(input: ClassificationInput): ClassifiedField {
    if (input === null || typeof input !== 'object') throw config('field', 'must be an object');
    const { entity, field, category, encrypted, blindIndexed = false, purpose } = input;
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
    const entry: ClassifiedField = Object.freeze({
      entity,
      field,
      category,
      encrypted,
      blindIndexed,
      ...(purpose === undefined ? {} : { purpose }),
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

  unregister(entity: string, field: string): boolean {
    return this.fields.delete(key(entity, field));
  }

  clear(): void {
    this.fields.clear();
  }
}

function key(entity: string, field: string): string {
  return `${entity}\u0000${field}`;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Process-wide registry that decorators feed by default. */
export const defaultClassificationRegistry = new ClassificationRegistry();
