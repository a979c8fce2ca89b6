import { BulwarkCryptoError, ErrorCodes } from '@bulwark/core';
import type { ObjectLiteral } from 'typeorm';
import { BulwarkTypeOrmError, withLocation, TypeOrmErrorCodes } from './bulwark-typeorm-error';
import type { EncryptionContext, ResolvedField } from './encryption-context';
import { decodeValue, encodeValue } from './field-codec';

/**
 * Encryption of one field value with its associated data, shared by the column transformer, the
 * subscriber and rewrapEntities. Associated data (DESIGN "AEAD"):
 *   `<table>.<column>`                      every field (a value moved to another column fails)
 *   `<table>.<column>#["<pk1>","<pk2>"]`    bindToRow: also the primary key (moved to another row fails)
 * @internal
 */

/** Primary key values of a row as strings, in metadata order (uuid lower-cased: PostgreSQL returns it so). */
export function rowKey(field: ResolvedField, row: ObjectLiteral): string[] | undefined {
  const values: string[] = [];
  for (const column of field.metadata.primaryColumns) {
    const value: unknown = column.getEntityValue(row);
    if (value === undefined || value === null || value === '') return undefined;
    const text = String(value);
    values.push(column.type === 'uuid' ? text.toLowerCase() : text);
  }
  return values;
}

export function fieldAad(field: ResolvedField, row: ObjectLiteral | undefined): string {
  if (!field.spec.bindToRow) return field.aad;
  const key = row === undefined ? undefined : rowKey(field, row);
  if (key === undefined) {
    throw new BulwarkTypeOrmError(
      TypeOrmErrorCodes.WRITE_CONTEXT_REQUIRED,
      `${field.where.entity}.${field.where.column} is bound to its row (bindToRow) but the row's primary key is not known here; set the key before saving (e.g. a uuid) and write through save() / insert() with the entity, and select the primary key when reading`,
      { ...field.where },
    );
  }
  return `${field.aad}#${JSON.stringify(key)}`;
}

export function subjectOf(field: ResolvedField, row: ObjectLiteral | undefined): string {
  const name = field.spec.subject as string;
  const value: unknown = row?.[name];
  if (value === undefined || value === null || value === '' || typeof value === 'object') {
    throw new BulwarkTypeOrmError(
      TypeOrmErrorCodes.WRITE_CONTEXT_REQUIRED,
      `${field.where.entity}.${field.where.column} is encrypted under the data subject named by ${name}, which is not set on this write; include ${name} (save the entity, or add it to the update)`,
      { ...field.where, subject: name },
    );
  }
  return String(value);
}

/**
 * The data subject a LOADED row says its subject-keyed values belong to. A value is served only if
 * its envelope is under this subject's key (KeyRing DecryptOptions.subject): the envelope names its
 * own key, so without this check a value moved into another subject's row (an UPDATE of the
 * subject column, around the ORM) would decrypt and be read, exported and erased as that
 * subject's. The subject column must therefore be loaded with the field.
 */
export function loadedSubjectOf(field: ResolvedField, row: ObjectLiteral | undefined): string {
  const name = field.spec.subject as string;
  const value: unknown = row?.[name];
  if (value === undefined) {
    throw new BulwarkTypeOrmError(
      TypeOrmErrorCodes.WRITE_CONTEXT_REQUIRED,
      `${field.where.entity}.${field.where.column} is encrypted under the data subject named by ${name}, which was not loaded; select ${name} too when reading ${field.where.column} (the value is only returned once it is proven to be that subject's)`,
      { ...field.where, subject: name },
    );
  }
  if (value === null || value === '' || typeof value === 'object') {
    // The row names no subject, yet holds a subject's value: it is not this row's to return.
    throw new BulwarkCryptoError(
      ErrorCodes.CRYPTO_SUBJECT_MISMATCH,
      `${field.where.entity}.${field.where.column}: the row has no data subject in ${name}, so its subject-keyed value is not returned`,
      { ...field.where, subject: name },
    );
  }
  return String(value);
}

/** Synchronous encryption for fields that need neither a row id nor a subject key. */
export function sealSync(
  ctx: EncryptionContext,
  field: ResolvedField,
  value: unknown,
  aad = field.aad,
): string {
  const plaintext = encodeValue(value, field.spec.type, field.where);
  try {
    return ctx.keyRing.encrypt(field.keyId, plaintext, {
      aad,
      deterministic: field.spec.deterministic,
    });
  } catch (error) {
    throw withLocation(error, field.where);
  }
}

/** Encryption with everything: row binding and subject keys. `row` holds the merged row values. */
export async function seal(
  ctx: EncryptionContext,
  field: ResolvedField,
  value: unknown,
  row: ObjectLiteral | undefined,
): Promise<string> {
  const aad = fieldAad(field, row);
  if (field.spec.subject === undefined) return sealSync(ctx, field, value, aad);
  const subjectId = subjectOf(field, row);
  const plaintext = encodeValue(value, field.spec.type, field.where);
  try {
    return await ctx.keyRing.encryptForSubject(subjectId, plaintext, { aad });
  } catch (error) {
    throw withLocation(error, field.where);
  }
}

/**
 * Every envelope a deterministic field may hold for `value` while a rotation is under way (one per
 * live key version and envelope format, see KeyRing.lookupEnvelopes): what equality lookups match.
 */
export function lookupEnvelopes(ctx: EncryptionContext, field: ResolvedField, value: unknown): string[] {
  const plaintext = encodeValue(value, field.spec.type, field.where);
  try {
    return ctx.keyRing.lookupEnvelopes(field.keyId, plaintext, { aad: field.aad });
  } catch (error) {
    throw withLocation(error, field.where);
  }
}

export function openSync(
  ctx: EncryptionContext,
  field: ResolvedField,
  envelope: string,
  aad = field.aad,
): unknown {
  let bytes: Buffer;
  try {
    bytes = ctx.keyRing.decrypt(envelope, { aad });
  } catch (error) {
    throw withLocation(error, field.where);
  }
  try {
    return decodeValue(bytes, field.spec.type, field.where);
  } finally {
    if (field.spec.type !== 'buffer') bytes.fill(0);
  }
}

export async function open(
  ctx: EncryptionContext,
  field: ResolvedField,
  envelope: string,
  row: ObjectLiteral | undefined,
): Promise<unknown> {
  const aad = fieldAad(field, row);
  const subject = field.spec.subject === undefined ? undefined : loadedSubjectOf(field, row);
  let bytes: Buffer;
  try {
    bytes = await ctx.keyRing.decryptAsync(envelope, subject === undefined ? { aad } : { aad, subject });
  } catch (error) {
    throw withLocation(error, field.where);
  }
  try {
    return decodeValue(bytes, field.spec.type, field.where);
  } finally {
    if (field.spec.type !== 'buffer') bytes.fill(0);
  }
}
