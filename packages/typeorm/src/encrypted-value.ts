import { BulwarkConfigError, ErrorCodes } from '@bulwark/core';
import { BulwarkTypeOrmError, TypeOrmErrorCodes } from './bulwark-typeorm-error';
import { activeContext } from './encryption-context';
import { lookupEnvelopes, sealSync } from './field-cipher';
import { fieldRegistry, type EncryptedFieldSpec, type EntityClass } from './field-registry';

/**
 * The envelope a deterministic @EncryptedField stores for `value` NOW (under the key's primary
 * version). Rows written before a rotation hold another envelope until rewrapped: for lookups in
 * QueryBuilder string conditions, which no transformer sees, use encryptedValues():
 *   qb.where('u.nationalId IN (:...nid)', { nid: encryptedValues(User, 'nationalId', '123') })
 * Refused for randomised fields (no stable envelope to compare with).
 */
export function encryptedValue(entity: EntityClass, property: string, value: unknown): string | null {
  const spec = deterministicSpec(entity, property);
  if (value === null || value === undefined) return null;
  const ctx = activeContext({ entity: entity.name, column: property });
  return sealSync(ctx, ctx.field(spec), value);
}

/**
 * Every envelope a deterministic @EncryptedField may hold for `value` while a key rotation is
 * under way (each live key version, and the format before key commitment): the list to match with
 * `IN (...)` so no row is missed before rewrapEntities has finished. Find options do this by
 * themselves (`findBy({ nationalId: '123' })`); this is for QueryBuilder string conditions.
 */
export function encryptedValues(entity: EntityClass, property: string, value: unknown): string[] {
  const spec = deterministicSpec(entity, property);
  if (value === null || value === undefined) return [];
  const ctx = activeContext({ entity: entity.name, column: property });
  return lookupEnvelopes(ctx, ctx.field(spec), value);
}

function deterministicSpec(entity: EntityClass, property: string): EncryptedFieldSpec {
  const spec = fieldRegistry.encrypted(entity).find((s) => s.property === property);
  if (spec === undefined) {
    throw new BulwarkConfigError(
      ErrorCodes.CONFIG_INVALID,
      `${entity.name}.${property} is not an @EncryptedField`,
      {
        path: `${entity.name}.${property}`,
      },
    );
  }
  if (!spec.deterministic) {
    throw new BulwarkTypeOrmError(
      TypeOrmErrorCodes.UNSUPPORTED_QUERY,
      `${entity.name}.${property} is encrypted with random IVs, so no value can be compared with it; use a @BlindIndex or deterministic: true`,
      { entity: entity.name, column: property },
    );
  }
  return spec;
}
