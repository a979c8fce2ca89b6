import { BulwarkCryptoError, BulwarkError, ErrorCodes } from '@bulwark/core';

/**
 * Failures of the TypeORM adapter itself: a query an encrypted column cannot answer, a value
 * written around the ORM, an entity used before `registerBulwarkEncryption`. `details` names the
 * entity and column (never the value).
 */
export class BulwarkTypeOrmError extends BulwarkError {}

/** Where a value lives: what every adapter error names. */
export interface FieldLocation {
  entity: string;
  column: string;
}

/**
 * Re-throws a core error with the entity and column added to its details, keeping its class and
 * code (a tampered value stays ERR_CRYPTO_DECRYPTION_FAILED, a shredded subject SUBJECT_SHREDDED).
 */
export function withLocation(error: unknown, where: FieldLocation): BulwarkError {
  if (error instanceof BulwarkError) {
    if (error.details?.entity === where.entity && error.details?.column === where.column) return error;
    const Ctor = error.constructor as new (
      code: string,
      message: string,
      details?: Record<string, unknown>,
      options?: { cause?: unknown },
    ) => BulwarkError;
    return new Ctor(
      error.code,
      `${where.entity}.${where.column}: ${error.message}`,
      { ...error.details, entity: where.entity, column: where.column },
      { cause: error },
    );
  }
  return new BulwarkCryptoError(
    ErrorCodes.CRYPTO_MALFORMED,
    `${where.entity}.${where.column}: the stored value could not be processed`,
    { entity: where.entity, column: where.column },
    { cause: error },
  );
}
