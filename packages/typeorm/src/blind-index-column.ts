import { BulwarkConfigError, ErrorCodes, type BlindIndexOptions } from '@bulwark/core';
import { Column, In, type ColumnOptions, type ObjectLiteral } from 'typeorm';
import { withLocation } from './bulwark-typeorm-error';
import { activeContext, type EncryptionContext, type ResolvedBlindIndex } from './encryption-context';
import { fieldRegistry, type BlindIndexSpec, type EntityClass } from './field-registry';

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
    });
    fieldRegistry.addBlindIndex(spec);
    Column({
      ...options.column,
      type: 'varchar',
      length: 64,
      nullable: options.nullable ?? true,
      ...(options.name === undefined ? {} : { name: options.name }),
    })(prototype, propertyKey);
  };
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

/** Every index value a row whose source equals `value` may hold now (one unless it follows rotation). */
function lookupIndexes(
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
  return computeIndex(ctx, ctx.blindIndex(spec), value);
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
  return lookupIndexes(ctx, ctx.blindIndex(spec), value);
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
 * smallest width that meets the rate, and always confirm (findByBlindIndex does). See the
 * package README, "Choosing the blind-index width".
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
