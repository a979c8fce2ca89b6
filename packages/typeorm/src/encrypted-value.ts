import { BulwarkConfigError, ErrorCodes } from '@bulwark/core';
import { BulwarkTypeOrmError, TypeOrmErrorCodes } from './bulwark-typeorm-error';
import { activeContext } from './encryption-context';
import { sealSync } from './field-cipher';
import { fieldRegistry, type EntityClass } from './field-registry';

/**
 * The stored envelope of `value` in a deterministic @EncryptedField: the parameter to use in
 * QueryBuilder string conditions, which no transformer sees:
 *   qb.where('u.nationalId = :nid', { nid: encryptedValue(User, 'nationalId', '123') })
 * Refused for randomised fields (no stable envelope to compare with).
 */
export function encryptedValue(entity: EntityClass, property: string, value: unknown): string | null {
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
  if (value === null || value === undefined) return null;
  const ctx = activeContext({ entity: entity.name, column: property });
  return sealSync(ctx, ctx.field(spec), value);
}
