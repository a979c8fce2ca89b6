import { BulwarkCryptoError, BulwarkError, ErrorCodes } from '@bulwark/core';

/**
 * The adapter's own error codes, declared here rather than in core (core knows no adapter). Adding
 * a code is fine; renaming one is a breaking change. Over HTTP none of them is in core's mapping
 * table, so every one answers core's generic 500 that names nothing: each is a bug of the
 * application or its schema (it validates input before it reaches an entity), never the client's,
 * and the precise code still reaches the audit event (`ProblemResponse.errorCode`).
 */
export const TypeOrmErrorCodes = {
  UNSUPPORTED_QUERY: 'ERR_TYPEORM_UNSUPPORTED_QUERY', // operator / ordering an encrypted column cannot answer (use a blind index or deterministic mode)
  PLAINTEXT_IN_ENCRYPTED_COLUMN: 'ERR_TYPEORM_PLAINTEXT_IN_ENCRYPTED_COLUMN', // a non-envelope value read from an encrypted column (written around the ORM)
  WRITE_CONTEXT_REQUIRED: 'ERR_TYPEORM_WRITE_CONTEXT_REQUIRED', // a row-bound / subject-keyed field written on a path with no row id or subject (or with listeners off)
  NOT_DECRYPTED: 'ERR_TYPEORM_NOT_DECRYPTED', // a row-bound / subject value loaded with listeners off was used before afterLoad decrypted it
  NOT_CONFIGURED: 'ERR_TYPEORM_NOT_CONFIGURED', // an encrypted entity used before registerBulwarkEncryption(dataSource, ...)
  INVALID_VALUE: 'ERR_TYPEORM_INVALID_VALUE', // a value whose JS type does not match the field's declared type
  ROW_UNREADABLE: 'ERR_TYPEORM_ROW_UNREADABLE', // a row a migration could not read for a reason other than a Bulwark error (a driver error); reported, left as it was
  ROW_NOT_WRITTEN: 'ERR_TYPEORM_ROW_NOT_WRITTEN', // encryptExistingRows could not write a row's envelope (a driver error, e.g. a column too short for the envelope); reported, left as it was
  CONCURRENT_UPDATE: 'ERR_TYPEORM_CONCURRENT_UPDATE', // encryptExistingRows lost the compare-and-set on a row every time it retried (the application keeps rewriting it); reported, left as it was
  LEGACY_DECRYPT_FAILED: 'ERR_TYPEORM_LEGACY_DECRYPT_FAILED', // migrateFromTypeormEncrypted: a value does not decrypt with the given key and format (wrong key / algorithm / ivLength, or a corrupt value)
  LEGACY_CIPHERTEXT: 'ERR_TYPEORM_LEGACY_CIPHERTEXT', // a column registered as typeorm-encrypted still holds a typeorm-encrypted value: never served, never encrypted as plaintext (run migrateFromTypeormEncrypted)
  TRANSACTION_OPEN: 'ERR_TYPEORM_TRANSACTION_OPEN', // encryptExistingRows on SQLite: the application kept a transaction open on the shared connection longer than transactionWaitMs
} as const;

export type TypeOrmErrorCode = (typeof TypeOrmErrorCodes)[keyof typeof TypeOrmErrorCodes];

/**
 * Failures of the TypeORM adapter itself: a query an encrypted column cannot answer, a value
 * written around the ORM, an entity used before `registerBulwarkEncryption`. `details` names the
 * entity and column (never the value).
 */
export class BulwarkTypeOrmError extends BulwarkError {
  declare readonly code: TypeOrmErrorCode;

  constructor(
    code: TypeOrmErrorCode,
    message: string,
    details?: Record<string, unknown>,
    options?: { cause?: unknown },
  ) {
    super(code, message, details, options);
  }
}

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
