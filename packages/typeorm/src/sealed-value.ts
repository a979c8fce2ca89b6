import { BulwarkTypeOrmError, type FieldLocation, TypeOrmErrorCodes } from './bulwark-typeorm-error';

/**
 * An envelope the encryption subscriber prepared for a write, standing in the entity (or value
 * set) between the `before*` and `after*` events; the column transformer writes `envelope` as is
 * and the `after*` event (or a rollback) puts `plain` back, so callers never see ciphertext.
 * @internal
 */
export class SealedValue {
  constructor(
    readonly envelope: string,
    readonly plain: unknown,
  ) {}

  toJSON(): unknown {
    return this.plain;
  }
}

/**
 * Marks "unchanged" on both sides of TypeORM's change computation so an update leaves the stored
 * envelope alone; never reaches the database (equal on both sides, so not in the update).
 * @internal
 */
export const UNCHANGED = '\u0000bulwark:unchanged';

/**
 * What the column transformer returns for a row-bound or subject-keyed value: decrypting it needs
 * the row id or the subject's key, which only the afterLoad subscriber has. If listeners were
 * turned off the marker stays, and any attempt to use it fails loudly instead of leaking an
 * envelope or looking like data. @internal
 */
export class PendingDecryption {
  constructor(
    readonly envelope: string,
    readonly where: FieldLocation,
  ) {}

  private error(): BulwarkTypeOrmError {
    return new BulwarkTypeOrmError(
      TypeOrmErrorCodes.NOT_DECRYPTED,
      `${this.where.entity}.${this.where.column} was loaded without entity listeners, so it was not decrypted (it is row-bound or subject-keyed); load it with listeners on (find*, getMany)`,
      { entity: this.where.entity, column: this.where.column },
    );
  }

  toJSON(): never {
    throw this.error();
  }

  toString(): never {
    throw this.error();
  }

  valueOf(): never {
    throw this.error();
  }
}

/**
 * What the column transformer returns for a `lazy` field: the envelope, which the subscriber's
 * afterLoad turns into a getter that decrypts on first access. Left in place (listeners off) it
 * fails loudly like PendingDecryption. @internal
 */
export class LazyEnvelope extends PendingDecryption {}
