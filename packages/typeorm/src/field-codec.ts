import { BulwarkTypeOrmError, type FieldLocation, TypeOrmErrorCodes } from './bulwark-typeorm-error';
import type { EncryptedValueType } from './field-registry';

function invalid(where: FieldLocation, type: EncryptedValueType, got: string): BulwarkTypeOrmError {
  return new BulwarkTypeOrmError(
    TypeOrmErrorCodes.INVALID_VALUE,
    `${where.entity}.${where.column} is declared as ${type} but was given ${got}; set @EncryptedField({ type }) to match`,
    { entity: where.entity, column: where.column, type },
  );
}

/**
 * Plaintext bytes of a field value. Each type has one canonical text form so deterministic
 * envelopes and equality checks agree however the value was built: numbers as
 * `String(n)` (finite only), dates as ISO 8601 UTC, booleans `true`/`false`, JSON via JSON.stringify.
 * @internal
 */
export function encodeValue(
  value: unknown,
  type: EncryptedValueType,
  where: FieldLocation,
): string | Uint8Array {
  switch (type) {
    case 'string':
      if (typeof value !== 'string') throw invalid(where, type, typeof value);
      return value;
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value)) throw invalid(where, type, typeof value);
      return String(value);
    case 'boolean':
      if (typeof value !== 'boolean') throw invalid(where, type, typeof value);
      return value ? 'true' : 'false';
    case 'date':
      if (!(value instanceof Date) || Number.isNaN(value.getTime())) {
        throw invalid(where, type, value instanceof Date ? 'an invalid Date' : typeof value);
      }
      return value.toISOString();
    case 'buffer':
      if (!(value instanceof Uint8Array)) throw invalid(where, type, typeof value);
      return value;
    case 'json': {
      let text: string | undefined;
      try {
        text = JSON.stringify(value);
      } catch {
        text = undefined;
      }
      if (text === undefined) throw invalid(where, type, 'a value JSON cannot represent');
      return text;
    }
  }
}

/** Inverse of encodeValue. Bytes that do not parse as the type are a typed error, never garbage. */
export function decodeValue(bytes: Buffer, type: EncryptedValueType, where: FieldLocation): unknown {
  if (type === 'buffer') return bytes;
  const text = bytes.toString('utf8');
  switch (type) {
    case 'string':
      return text;
    case 'number': {
      const n = Number(text);
      if (text === '' || !Number.isFinite(n)) throw corrupt(where, type);
      return n;
    }
    case 'boolean':
      if (text !== 'true' && text !== 'false') throw corrupt(where, type);
      return text === 'true';
    case 'date': {
      const d = new Date(text);
      if (Number.isNaN(d.getTime())) throw corrupt(where, type);
      return d;
    }
    case 'json':
      try {
        return JSON.parse(text);
      } catch {
        throw corrupt(where, type);
      }
  }
}

function corrupt(where: FieldLocation, type: EncryptedValueType): BulwarkTypeOrmError {
  return new BulwarkTypeOrmError(
    TypeOrmErrorCodes.INVALID_VALUE,
    `${where.entity}.${where.column} decrypted to something that is not a ${type}; was the field's type changed?`,
    { entity: where.entity, column: where.column, type },
  );
}

/** Equality of two field values through their canonical encodings. */
export function sameValue(a: unknown, b: unknown, type: EncryptedValueType, where: FieldLocation): boolean {
  if (a === null || a === undefined || b === null || b === undefined) return (a ?? null) === (b ?? null);
  let x: string | Uint8Array;
  let y: string | Uint8Array;
  try {
    x = encodeValue(a, type, where);
    y = encodeValue(b, type, where);
  } catch {
    return false;
  }
  if (typeof x === 'string' || typeof y === 'string') return x === y;
  return Buffer.compare(Buffer.from(x), Buffer.from(y)) === 0;
}

/** Type implied by `design:type` (emitDecoratorMetadata) when the decorator does not say. */
export function inferType(designType: unknown): EncryptedValueType {
  if (designType === Number) return 'number';
  if (designType === Boolean) return 'boolean';
  if (designType === Date) return 'date';
  if (designType === Buffer || designType === Uint8Array) return 'buffer';
  if (designType === Array) return 'json';
  // TypeScript emits Object for any union (`Date | null`) and for interfaces, so Object says
  // nothing: fall back to string, and a non-string value then fails loudly asking for `type`.
  return 'string';
}
