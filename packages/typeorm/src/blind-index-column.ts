import { BulwarkConfigError, ErrorCodes, type BlindIndexOptions } from '@bulwark/core';
import { Column, type ColumnOptions, type ObjectLiteral } from 'typeorm';
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

/** @internal */
export function computeIndex(
  ctx: EncryptionContext,
  index: ResolvedBlindIndex,
  value: unknown,
): string | null {
  if (value === null || value === undefined) return null;
  const text =
    value instanceof Date ? value.toISOString() : typeof value === 'string' ? value : JSON.stringify(value);
  try {
    return ctx.keyRing.blindIndex(index.keyId, text, {
      bits: index.spec.bits,
      normalise: index.spec.normalise,
      context: index.context,
    });
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
 * The index value to compare `indexProperty` with when looking for rows whose source equals
 * `value` (same normalisation, key and context as writes use).
 */
export function blindIndex(entity: EntityClass, indexProperty: string, value: unknown): string | null {
  const spec = specOf(entity, indexProperty);
  const ctx = activeContext({ entity: entity.name, column: indexProperty });
  return computeIndex(ctx, ctx.blindIndex(spec), value);
}

/**
 * Rows whose source field equals `value`: a lookup on the blind index, then the false positives
 * a truncated index lets through are dropped by comparing the decrypted source (after the same
 * normalisation).
 */
export async function findByBlindIndex<T extends ObjectLiteral>(
  repository: { find(options: { where: ObjectLiteral }): Promise<T[]>; target: unknown },
  indexProperty: string,
  value: unknown,
  where: ObjectLiteral = {},
): Promise<T[]> {
  const entity = repository.target as EntityClass;
  const spec = specOf(entity, indexProperty);
  const index = blindIndex(entity, indexProperty, value);
  if (index === null) return [];
  const rows = await repository.find({ where: { ...where, [indexProperty]: index } });
  const ctx = activeContext({ entity: entity.name, column: indexProperty });
  const resolved = ctx.blindIndex(spec);
  return rows.filter(
    (row) =>
      computeIndex(ctx, { ...resolved, spec: { ...spec, bits: 256 } }, row[spec.source]) ===
      computeIndex(ctx, { ...resolved, spec: { ...spec, bits: 256 } }, value),
  );
}
