import { BulwarkTypeOrmError, type FieldLocation, TypeOrmErrorCodes } from './bulwark-typeorm-error';
import type { EncryptedValueType } from './field-registry';

function notA(where: FieldLocation, type: EncryptedValueType): BulwarkTypeOrmError {
  return new BulwarkTypeOrmError(
    TypeOrmErrorCodes.INVALID_VALUE,
    `${where.entity}.${where.column} holds a plaintext value that is not a ${type} (the field is declared as ${type}); fix the row or the field's type`,
    { entity: where.entity, column: where.column, type },
  );
}

/**
 * The field value behind a PLAINTEXT value read from an encrypted column (a row written before
 * the column was encrypted): what the app stored there, in the field's declared type. Used by the
 * transitional read mode (`plaintextReads: 'accept'`) and by encryptExistingRows, so both read the
 * same value. Text forms a database gives for the type are accepted (`42`, `true` / `1` / `t`,
 * an ISO or SQL date, JSON text); anything else is a typed error naming entity and column, never
 * the value. @internal
 */
export function plaintextValue(raw: unknown, type: EncryptedValueType, where: FieldLocation): unknown {
  if (type === 'buffer') {
    if (raw instanceof Uint8Array) return Buffer.from(raw);
    // A text column cannot say which encoding of the bytes it holds (hex? base64?): refuse to guess.
    throw notA(where, type);
  }
  if (raw instanceof Date) {
    if (type === 'date' && !Number.isNaN(raw.getTime())) return raw;
    if (type !== 'string') throw notA(where, type);
  }
  const text =
    typeof raw === 'string'
      ? raw
      : typeof raw === 'number' || typeof raw === 'bigint' || typeof raw === 'boolean'
        ? String(raw)
        : raw instanceof Date
          ? raw.toISOString()
          : raw instanceof Uint8Array
            ? Buffer.from(raw).toString('utf8')
            : undefined;
  if (text === undefined) throw notA(where, type);
  switch (type) {
    case 'string':
      return text;
    case 'number': {
      const n = Number(text);
      if (text.trim() === '' || !Number.isFinite(n)) throw notA(where, type);
      return n;
    }
    case 'boolean': {
      const t = text.toLowerCase();
      if (t === 'true' || t === '1' || t === 't') return true;
      if (t === 'false' || t === '0' || t === 'f') return false;
      throw notA(where, type);
    }
    case 'date': {
      const d = new Date(text);
      if (text.trim() === '' || Number.isNaN(d.getTime())) throw notA(where, type);
      return d;
    }
    case 'json':
      try {
        return JSON.parse(text) as unknown;
      } catch {
        throw notA(where, type);
      }
  }
}
