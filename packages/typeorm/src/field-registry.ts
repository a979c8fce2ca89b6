import type { BlindIndexOptions } from '@bulwark/core';
import type { EncryptedColumnTransformer } from './encrypted-column-transformer';

/**
 * Decorator metadata of this package, keyed by the class that declares it. TypeORM keeps its own
 * metadata per DataSource; this registry holds what TypeORM has no place for (key ids, associated
 * data binding, blind index sources, classification) and is read at run time by the transformer,
 * the subscribers and rewrapEntities. @internal
 */

/**
 * An entity class. TypeORM itself types entity targets as Function (EntityMetadata.target).
 */
// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
export type EntityClass = Function;

/** How a non-string value is turned into bytes before encryption and restored after. */
export type EncryptedValueType = 'string' | 'json' | 'number' | 'date' | 'boolean' | 'buffer';

export type ClassificationCategory = 'personal' | 'sensitive' | 'phi' | 'cardholder';

export interface EncryptedFieldSpec {
  readonly target: EntityClass;
  readonly property: string;
  /** Undefined: the `defaultKeyId` given to registerBulwarkEncryption. */
  readonly keyId?: string;
  readonly deterministic: boolean;
  readonly bindToRow: boolean;
  /** Property naming the data subject (per-subject keys, crypto-shredding). */
  readonly subject?: string;
  readonly type: EncryptedValueType;
  /** Associated-data context replacing the default `<table>.<column>` (e.g. after a rename). */
  readonly aad?: string;
  /** Decrypted on first access of the loaded entity's property, not at load (EncryptedFieldOptions.lazy). */
  readonly lazy?: boolean;
  readonly transformer: EncryptedColumnTransformer;
}

export interface BlindIndexSpec {
  readonly target: EntityClass;
  readonly property: string;
  readonly source: string;
  readonly keyId?: string;
  readonly bits?: number;
  readonly normalise?: BlindIndexOptions['normalise'];
  /** Domain separator; default `<table>.<column>` of the index column. */
  readonly context?: string;
  /** The index key follows the data key's rotation (BlindIndexColumnOptions.followKeyRotation). */
  readonly followKeyRotation?: boolean;
  /** Serialised with the entity (BlindIndexColumnOptions.serialise); default false. */
  readonly serialise?: boolean;
}

export interface ClassificationSpec {
  readonly target: EntityClass;
  readonly property: string;
  readonly category: ClassificationCategory;
  readonly purpose?: string;
}

export interface AuditedSpec {
  readonly target: EntityClass;
  /** Resource type in audit events; default the entity name. */
  readonly resourceType?: string;
  /** Retention category of the events (AuditEvent.category). */
  readonly category?: string;
}

const encrypted = new Map<EntityClass, Map<string, EncryptedFieldSpec>>();
const indexes = new Map<EntityClass, Map<string, BlindIndexSpec>>();
const classified = new Map<EntityClass, Map<string, ClassificationSpec>>();
const audited = new Map<EntityClass, AuditedSpec>();

/**
 * What `collect` answered, per registry and class: the query guards, the subscribers and the
 * transformer ask on every query or row. Emptied whenever a decorator adds a spec (classes may be
 * defined after the first queries: in tests, or by lazily loaded modules).
 */
const collected = new WeakMap<Map<EntityClass, Map<string, unknown>>, Map<unknown, readonly unknown[]>>();

function put<T extends { property: string }>(
  map: Map<EntityClass, Map<string, T>>,
  target: EntityClass,
  spec: T,
) {
  let byProperty = map.get(target);
  if (byProperty === undefined) map.set(target, (byProperty = new Map()));
  byProperty.set(spec.property, spec);
  collected.delete(map);
}

/** Specs of `target` and its ancestors (a subclass sees its parents' decorated properties). */
function collect<T extends { property: string }>(
  map: Map<EntityClass, Map<string, T>>,
  target: unknown,
): readonly T[] {
  if (typeof target !== 'function') return [];
  let byTarget = collected.get(map) as Map<unknown, readonly T[]> | undefined;
  if (byTarget === undefined) collected.set(map, (byTarget = new Map()));
  let specs = byTarget.get(target);
  if (specs === undefined) byTarget.set(target, (specs = Object.freeze(collectNow(map, target))));
  return specs;
}

function collectNow<T extends { property: string }>(
  map: Map<EntityClass, Map<string, T>>,
  target: unknown,
): T[] {
  const out = new Map<string, T>();
  const chain: EntityClass[] = [];
  for (
    let t: unknown = target;
    typeof t === 'function' && t !== Function.prototype;
    t = Object.getPrototypeOf(t)
  ) {
    chain.unshift(t as EntityClass);
  }
  for (const t of chain) for (const [p, spec] of map.get(t) ?? []) out.set(p, spec);
  return [...out.values()];
}

export const fieldRegistry = {
  addEncrypted: (spec: EncryptedFieldSpec) => put(encrypted, spec.target, spec),
  addBlindIndex: (spec: BlindIndexSpec) => put(indexes, spec.target, spec),
  addClassification: (spec: ClassificationSpec) => put(classified, spec.target, spec),
  addAudited: (spec: AuditedSpec) => audited.set(spec.target, spec),
  encrypted: (target: unknown): readonly EncryptedFieldSpec[] => collect(encrypted, target),
  blindIndexes: (target: unknown): readonly BlindIndexSpec[] => collect(indexes, target),
  classified: (target: unknown): readonly ClassificationSpec[] => collect(classified, target),
  audited(target: unknown): AuditedSpec | undefined {
    for (
      let t: unknown = target;
      typeof t === 'function' && t !== Function.prototype;
      t = Object.getPrototypeOf(t)
    ) {
      const spec = audited.get(t as EntityClass);
      if (spec !== undefined) return spec;
    }
    return undefined;
  },
  /** Every class with at least one encrypted field (rewrapEntities' default set). */
  encryptedTargets: (): EntityClass[] => [...encrypted.keys()],
};
