import { BulwarkConfigError, ErrorCodes, type BlindIndexOptions } from '@bulwark/core';
import { Column, In, Index, getMetadataArgsStorage, type ColumnOptions, type ObjectLiteral } from 'typeorm';
import { withLocation } from './bulwark-typeorm-error';
import { activeContext, type EncryptionContext, type ResolvedBlindIndex } from './encryption-context';
import { fieldRegistry, type BlindIndexSpec, type EntityClass } from './field-registry';
import { rememberIndexValues } from './index-values';

export interface BlindIndexColumnOptions {
  /** Property whose plaintext is indexed (usually an @EncryptedField). */
  source: string;
  /** Key whose index key is used; default the registered `defaultKeyId`. */
  keyId?: string;
  /** Index length in bits (default 32: expect false positives, see KeyRing.blindIndex). */
  bits?: number;
  /** Normalisers applied before hashing, e.g. `['trim', 'lowercase']` for emails. */
  normalise?: BlindIndexOptions['normalise'];
  /** Domain separator; default `<table>.<column>` of this index column. */
  context?: string;
  /**
   * Rotate the index key with the data key (default false: the index key comes from the key's
   * first version and never changes). When true, writes index under the key's PRIMARY version,
   * lookups through findByBlindIndex / blindIndexes() match the index under every live version,
   * and migrateBlindIndexes() moves stored indexes to the primary; retiring the old versions then
   * finishes the rotation. See docs/key-rotation.md, "Blind-index key rotation".
   */
  followKeyRotation?: boolean;
  /**
   * A database index on the column (default true: lookups by the blind index are what it is for).
   * Declared as TypeORM `@Index` metadata, so `synchronize` and `typeorm migration:generate` create
   * it; a string names it. Skipped when `column.unique` is set (a unique constraint is an index);
   * set false if you declare your own @Index on the property.
   */
  index?: boolean | string;
  /**
   * Include the index value when the entity is serialised (default false): `JSON.stringify`
   * (Express / Koa / Nest responses) and class-transformer's `instanceToPlain` (Nest's
   * ClassSerializerInterceptor) leave it out, as an HMAC of personal data is nothing a client needs.
   */
  serialise?: boolean;
  nullable?: boolean;
  name?: string;
  column?: Omit<ColumnOptions, 'type' | 'nullable' | 'name'>;
}

/**
 * Declares a blind-index column (HMAC of the normalised source value, stored beside the
 * ciphertext) for equality lookups on an encrypted field. It declares its own `varchar(64)`
 * column (use it instead of @Column; add `column: { unique: true }` or an @Index as needed). The
 * subscriber fills it from `source` on every write path that fires entity listeners.
 *
 * Query with the helper, which computes the same value:
 *   repo.findOneBy({ emailIndex: blindIndex(User, 'emailIndex', 'Ann@Example.com') })
 *   repo.findBy({ emailIndex: In(['a@x', 'b@x'].map((e) => blindIndex(User, 'emailIndex', e))) })
 * Truncated indexes have false positives: confirm on the decrypted field (findByBlindIndex does).
 */
export function BlindIndex(options: BlindIndexColumnOptions): PropertyDecorator {
  return (prototype: object, propertyKey: string | symbol) => {
    const target = prototype.constructor;
    const property = String(propertyKey);
    const path = `${target.name}.${property}`;
    if (
      options === null ||
      typeof options !== 'object' ||
      typeof options.source !== 'string' ||
      options.source === ''
    ) {
      throw new BulwarkConfigError(
        ErrorCodes.CONFIG_INVALID,
        `${path}.source must name the indexed property`,
        {
          path: `${path}.source`,
        },
      );
    }
    const bits = options.bits;
    if (bits !== undefined && (!Number.isInteger(bits) || bits < 1 || bits > 256)) {
      throw new BulwarkConfigError(
        ErrorCodes.CONFIG_INVALID,
        `${path}.bits must be an integer from 1 to 256`,
        {
          path: `${path}.bits`,
        },
      );
    }
    const spec: BlindIndexSpec = Object.freeze({
      target,
      property,
      source: options.source,
      keyId: options.keyId,
      bits,
      normalise: options.normalise,
      context: options.context,
      followKeyRotation: options.followKeyRotation === true,
      serialise: options.serialise === true,
    });
    if (
      options.index !== undefined &&
      typeof options.index !== 'boolean' &&
      typeof options.index !== 'string'
    ) {
      throw new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, `${path}.index must be a boolean or a name`, {
        path: `${path}.index`,
      });
    }
    fieldRegistry.addBlindIndex(spec);
    Column({
      ...options.column,
      type: 'varchar',
      length: 64,
      nullable: options.nullable ?? true,
      ...(options.name === undefined ? {} : { name: options.name }),
    })(prototype, propertyKey);
    if (options.index !== false && options.column?.unique !== true) {
      declareIndex(prototype, propertyKey, typeof options.index === 'string' ? options.index : undefined);
    }
    if (!spec.serialise) hideFromSerialisation(prototype, property);
  };
}

type MetadataArgsStorage = ReturnType<typeof getMetadataArgsStorage>;
type IndexArgs = MetadataArgsStorage['indices'][number];

/** Index arguments @BlindIndex added (as opposed to the application's own @Index / @Unique). */
const declared = new WeakSet<object>();
let filtering: MetadataArgsStorage | undefined;

/**
 * The column's @Index. An application that already declares its own @Index (or @Unique) on the
 * property, above or below @BlindIndex, keeps its own only: two indexes on one column would get
 * the same generated name and fail `synchronize`. Decorators run in either order, so the duplicate
 * is dropped where TypeORM reads the declarations (MetadataArgsStorage#filterIndices, once per
 * entity when a DataSource builds its metadata).
 */
function declareIndex(prototype: object, propertyKey: string | symbol, name: string | undefined): void {
  const storage = getMetadataArgsStorage();
  (name === undefined ? Index() : Index(name))(prototype, propertyKey);
  declared.add(storage.indices[storage.indices.length - 1]!);
  if (filtering === storage) return;
  filtering = storage;
  const original = storage.filterIndices.bind(storage) as (target: unknown) => IndexArgs[];
  storage.filterIndices = ((target: unknown) => {
    const found = original(target);
    return found.filter((args) => !declared.has(args) || !declaredByApp(storage, args, found));
  }) as MetadataArgsStorage['filterIndices'];
}

function declaredByApp(storage: MetadataArgsStorage, ours: IndexArgs, found: IndexArgs[]): boolean {
  const column = Array.isArray(ours.columns) ? ours.columns[0] : undefined;
  const same = (a: { target: unknown; columns?: unknown }) =>
    a !== ours &&
    a.target === ours.target &&
    Array.isArray(a.columns) &&
    a.columns.length === 1 &&
    a.columns[0] === column;
  return found.some(same) || storage.uniques.some(same);
}

const HIDES = Symbol.for('bulwark.typeorm.hidesBlindIndexes');

/**
 * Leaves blind-index properties out of serialised entities: a `toJSON` on the entity's prototype
 * (wrapping one the class declares itself) drops them from what JSON.stringify sees, and, when
 * class-transformer is installed (NestJS' ClassSerializerInterceptor), `@Exclude({ toPlainOnly })`
 * drops them from `instanceToPlain`. The property itself stays an ordinary one: TypeORM reads and
 * writes it as before, and `entity.emailIndex` still works in code.
 */
function hideFromSerialisation(prototype: object, property: string): void {
  excludeWithClassTransformer(prototype, property);
  if (Object.hasOwn(prototype, HIDES)) return;
  const previous = (prototype as { toJSON?: unknown }).toJSON;
  // An ancestor's toJSON installed here already consults the subclass's indexes (this.constructor).
  if (typeof previous === 'function' && (previous as { [HIDES]?: true })[HIDES] === true) return;
  const toJSON = function (this: object): unknown {
    const base: unknown = typeof previous === 'function' ? previous.call(this) : { ...this };
    if (base === null || typeof base !== 'object' || Array.isArray(base)) return base;
    const hidden = fieldRegistry
      .blindIndexes(this.constructor)
      .filter((s) => s.serialise !== true)
      .map((s) => s.property);
    if (!hidden.some((p) => Object.hasOwn(base, p))) return base;
    const out: Record<string, unknown> = base === this ? { ...this } : (base as Record<string, unknown>);
    for (const p of hidden) delete out[p];
    return out;
  };
  Object.defineProperty(toJSON, HIDES, { value: true });
  Object.defineProperty(prototype, 'toJSON', { value: toJSON, writable: true, configurable: true });
  Object.defineProperty(prototype, HIDES, { value: true });
}

type ExcludeDecorator = (options?: { toPlainOnly?: boolean }) => PropertyDecorator;

/** class-transformer's Exclude, if the application has class-transformer (an optional peer). */
function excludeWithClassTransformer(prototype: object, property: string): void {
  let Exclude: ExcludeDecorator | undefined;
  try {
    Exclude = (require('class-transformer') as { Exclude?: ExcludeDecorator }).Exclude;
  } catch {
    return;
  }
  Exclude?.({ toPlainOnly: true })(prototype, property);
}

function indexText(value: unknown): string {
  return value instanceof Date
    ? value.toISOString()
    : typeof value === 'string'
      ? value
      : JSON.stringify(value);
}

/** The index value to WRITE for `value` (under the primary version when it follows rotation). @internal */
export function computeIndex(
  ctx: EncryptionContext,
  index: ResolvedBlindIndex,
  value: unknown,
): string | null {
  if (value === null || value === undefined) return null;
  try {
    return ctx.keyRing.blindIndex(index.keyId, indexText(value), {
      bits: index.spec.bits,
      normalise: index.spec.normalise,
      context: index.context,
      ...(index.spec.followKeyRotation ? { keyVersion: 'primary' as const } : {}),
    });
  } catch (error) {
    throw withLocation(error, index.where);
  }
}

/** Every index value a row whose source equals `value` may hold now (one unless it follows rotation). @internal */
export function lookupIndexes(
  ctx: EncryptionContext,
  index: ResolvedBlindIndex,
  value: unknown,
  bits = index.spec.bits,
): string[] {
  if (value === null || value === undefined) return [];
  const options = { bits, normalise: index.spec.normalise, context: index.context };
  try {
    return index.spec.followKeyRotation
      ? ctx.keyRing.blindIndexes(index.keyId, indexText(value), options)
      : [ctx.keyRing.blindIndex(index.keyId, indexText(value), options)];
  } catch (error) {
    throw withLocation(error, index.where);
  }
}

function specOf(entity: EntityClass, indexProperty: string): BlindIndexSpec {
  const spec = fieldRegistry.blindIndexes(entity).find((s) => s.property === indexProperty);
  if (spec === undefined) {
    throw new BulwarkConfigError(
      ErrorCodes.CONFIG_INVALID,
      `${entity.name}.${indexProperty} is not a @BlindIndex column`,
      { path: `${entity.name}.${indexProperty}` },
    );
  }
  return spec;
}

/**
 * The index value written for `value` (same normalisation, key and context as writes use): what
 * to compare `indexProperty` with. For a `followKeyRotation` index, rows written before a rotation
 * hold another value until migrated: look up with blindIndexes() (or findByBlindIndex) instead.
 */
export function blindIndex(entity: EntityClass, indexProperty: string, value: unknown): string | null {
  const spec = specOf(entity, indexProperty);
  const ctx = activeContext({ entity: entity.name, column: indexProperty });
  const index = computeIndex(ctx, ctx.blindIndex(spec), value);
  rememberIndexValues(`${entity.name}.${indexProperty}`, [index]);
  return index;
}

/**
 * Every index value to compare `indexProperty` with when looking for rows whose source equals
 * `value`: one value, or, for a `followKeyRotation` index, one per live key version (rows not yet
 * moved by migrateBlindIndexes keep the older one). Query with In:
 *   repo.findBy({ emailIndex: In(blindIndexes(User, 'emailIndex', 'ann@example.com')) })
 */
export function blindIndexes(entity: EntityClass, indexProperty: string, value: unknown): string[] {
  const spec = specOf(entity, indexProperty);
  const ctx = activeContext({ entity: entity.name, column: indexProperty });
  const indexes = lookupIndexes(ctx, ctx.blindIndex(spec), value);
  rememberIndexValues(`${entity.name}.${indexProperty}`, indexes);
  return indexes;
}

/**
 * Rows whose source field equals `value`: a lookup on the blind index (under every live key
 * version for a `followKeyRotation` index), then the false positives a truncated index lets
 * through are dropped by comparing the decrypted source (after the same normalisation).
 */
export async function findByBlindIndex<T extends ObjectLiteral>(
  repository: { find(options: { where: ObjectLiteral }): Promise<T[]>; target: unknown },
  indexProperty: string,
  value: unknown,
  where: ObjectLiteral = {},
): Promise<T[]> {
  const entity = repository.target as EntityClass;
  const spec = specOf(entity, indexProperty);
  const ctx = activeContext({ entity: entity.name, column: indexProperty });
  const resolved = ctx.blindIndex(spec);
  const indexes = lookupIndexes(ctx, resolved, value);
  if (indexes.length === 0) return [];
  rememberIndexValues(`${entity.name}.${indexProperty}`, indexes);
  const rows = await repository.find({
    where: { ...where, [indexProperty]: indexes.length === 1 ? indexes[0] : In(indexes) },
  });
  // Full-length (256-bit) indexes under the primary version compare the normalised values exactly.
  const full = { ...resolved, spec: { ...spec, bits: 256, followKeyRotation: false } };
  const wanted = computeIndex(ctx, full, value);
  return rows.filter((row) => computeIndex(ctx, full, row[spec.source]) === wanted);
}

/**
 * The first row whose source field equals `value`, confirmed on the decrypted value like
 * findByBlindIndex (a truncated index's false positives never come back), or null.
 */
export async function findOneByBlindIndex<T extends ObjectLiteral>(
  repository: { find(options: { where: ObjectLiteral }): Promise<T[]>; target: unknown },
  indexProperty: string,
  value: unknown,
  where: ObjectLiteral = {},
): Promise<T | null> {
  const rows = await findByBlindIndex(repository, indexProperty, value, where);
  return rows[0] ?? null;
}

/**
 * The blind-index width for a table of `expectedRows` rows such that a lookup fetches at most
 * `falsePositives` rows that do not match, on average: each other row shares a `bits`-bit index
 * with probability 2^-bits, so a lookup returns about rows / 2^bits false candidates, and
 * bits = ceil(log2(expectedRows / falsePositives)), from 1 to 256. Every extra bit halves the
 * false candidates and the anonymity set (rows that share an index value) alike: take the
 * smallest width that meets the rate, and always confirm (findByBlindIndex does). See
 * ENCRYPTION.md, "Choosing the blind-index width".
 *
 *   @BlindIndex({ source: 'email', bits: blindIndexBits(1_000_000, 0.01) })   // 27 bits
 */
export function blindIndexBits(expectedRows: number, falsePositives: number): number {
  if (typeof expectedRows !== 'number' || !Number.isFinite(expectedRows) || expectedRows < 1) {
    throw new BulwarkConfigError(
      ErrorCodes.CONFIG_INVALID,
      'blindIndexBits: expectedRows must be a number >= 1',
      {
        path: 'expectedRows',
      },
    );
  }
  if (typeof falsePositives !== 'number' || !Number.isFinite(falsePositives) || falsePositives <= 0) {
    throw new BulwarkConfigError(
      ErrorCodes.CONFIG_INVALID,
      'blindIndexBits: falsePositives (expected non-matching rows per lookup) must be a number > 0',
      { path: 'falsePositives' },
    );
  }
  const bits = Math.ceil(Math.log2(expectedRows / falsePositives));
  return Math.min(256, Math.max(1, bits));
}
