import { envelopeKind as coreEnvelopeKind } from '@bulwark/core';
import type { ValueTransformer } from 'typeorm';
import { BulwarkTypeOrmError, type FieldLocation, TypeOrmErrorCodes } from './bulwark-typeorm-error';
import {
  activeContext,
  peekActiveContext,
  type EncryptionContext,
  type ResolvedField,
} from './encryption-context';
import { openSync, sealSync } from './field-cipher';
import { plaintextValue } from './plaintext-value';
import type { EncryptedFieldSpec } from './field-registry';
import { LazyEnvelope, PendingDecryption, SealedValue } from './sealed-value';

/**
 * envelopeKind, read from @bulwark/core's exports once: the CommonJS re-export is a getter (two,
 * through crypto/index), which from() would otherwise call for every value it loads.
 */
const envelopeKind = coreEnvelopeKind;

/** A typeorm-encrypted value in a column registered as such: never served, never taken as plaintext. */
export function legacyCiphertext(where: FieldLocation): BulwarkTypeOrmError {
  return new BulwarkTypeOrmError(
    TypeOrmErrorCodes.LEGACY_CIPHERTEXT,
    `${where.entity}.${where.column} still holds a typeorm-encrypted value (registered as typeormEncrypted); it is not returned. Convert the column with migrateFromTypeormEncrypted (bulwark typeorm encrypt --from-typeorm-encrypted)`,
    { entity: where.entity, column: where.column },
  );
}

/**
 * The column transformer of an @EncryptedField. TypeORM runs transformers on every path that
 * writes or reads the column through its metadata (save, insert, update, QueryBuilder values and
 * set(), find-operator values, hydration), so this is the one hook that cannot be bypassed by an
 * ORM call. It is synchronous and sees only the value:
 *
 * to():   SealedValue (prepared by the subscriber) -> its envelope;
 *         plaintext of a field that needs no row id / subject -> encrypted here (so QueryBuilder
 *         writes with listeners off, and equality values of deterministic fields, still encrypt);
 *         plaintext of a row-bound / subject-keyed field -> a SQL-expression function that throws
 *         ERR_TYPEORM_WRITE_CONTEXT_REQUIRED if TypeORM ever tries to write it (never plaintext).
 * from(): envelope -> plaintext (row-bound / subject-keyed fields and subject envelopes ->
 *         PendingDecryption, finished by the subscriber's afterLoad, which checks the envelope's
 *         subject against the row's subject column); anything that is not an envelope -> typed error, never the
 *         raw value (plaintext written around the ORM must not pass for decrypted data).
 */
export class EncryptedColumnTransformer implements ValueTransformer {
  /** The last context this transformer resolved its field in, and that field (see resolve). */
  private lastContext: EncryptionContext | undefined;
  private lastField: ResolvedField | undefined;

  constructor(readonly spec: EncryptedFieldSpec) {}

  /**
   * The active context. Called for every value loaded, so the location object for the
   * NOT_CONFIGURED error is only built when there is no context.
   */
  private context(): EncryptionContext {
    return (
      peekActiveContext() ?? activeContext({ entity: this.spec.target.name, column: this.spec.property })
    );
  }

  /** This column's field in `ctx`; the last one is kept, so the common case skips the context's map. */
  private fieldIn(ctx: EncryptionContext): ResolvedField {
    if (ctx !== this.lastContext || this.lastField === undefined) {
      this.lastField = ctx.field(this.spec);
      this.lastContext = ctx;
    }
    return this.lastField;
  }

  get deterministic(): boolean {
    return this.spec.deterministic;
  }

  to(value: unknown): unknown {
    if (value === null || value === undefined || typeof value === 'function') return value;
    if (value instanceof SealedValue) return value.envelope;
    const ctx = this.context();
    const field = this.fieldIn(ctx);
    if (this.spec.bindToRow || this.spec.subject !== undefined) {
      // Reached for comparisons (TypeORM's change detection) and for writes the subscriber did
      // not see. A function is TypeORM's "raw SQL expression": compared, it never equals anything;
      // written, it is called, and throws.
      return () => {
        throw new BulwarkTypeOrmError(
          TypeOrmErrorCodes.WRITE_CONTEXT_REQUIRED,
          `${field.where.entity}.${field.where.column} is ${this.spec.bindToRow ? 'bound to its row' : 'encrypted per data subject'}, so it can only be written with entity listeners on (save, insert, update with the subject, QueryBuilder without callListeners(false))`,
          { ...field.where },
        );
      };
    }
    return sealSync(ctx, field, value);
  }

  from(value: unknown): unknown {
    if (value === null || value === undefined) return value;
    const ctx = this.context();
    const field = this.fieldIn(ctx);
    const kind = envelopeKind(value);
    if (typeof value !== 'string' || kind === undefined) {
      if (ctx.isLegacyColumn(field.where)) throw legacyCiphertext(field.where);
      if (ctx.plaintextReads === 'accept') {
        // Transitional mode (encrypting a populated database): served as read, and counted.
        const plain = plaintextValue(value, this.spec.type, field.where, ctx.zonelessDates);
        ctx.onPlaintextRead?.(field.where);
        return plain;
      }
      throw new BulwarkTypeOrmError(
        TypeOrmErrorCodes.PLAINTEXT_IN_ENCRYPTED_COLUMN,
        `${field.where.entity}.${field.where.column} holds a value that is not a Bulwark envelope (written around the ORM, e.g. raw SQL?); it is not returned. Rows stored before the column was encrypted: run encryptExistingRows (bulwark typeorm encrypt), with registerBulwarkEncryption(..., { plaintextReads: 'accept' }) serving them meanwhile`,
        { ...field.where },
      );
    }
    if (this.spec.lazy === true && !kind.subject) return new LazyEnvelope(value, field.where);
    // Subject-keyed fields always wait for afterLoad, whatever the envelope: only the row says
    // whose value it must be (a named-key envelope there is refused, not served unchecked).
    if (this.spec.bindToRow || this.spec.subject !== undefined || kind.subject) {
      return new PendingDecryption(value, field.where);
    }
    return openSync(ctx, field, value);
  }
}
