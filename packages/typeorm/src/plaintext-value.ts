import { BulwarkTypeOrmError, type FieldLocation, TypeOrmErrorCodes } from './bulwark-typeorm-error';
import type { DataSource } from 'typeorm';
import type { EncryptedValueType } from './field-registry';

/**
 * How a date-time text without an offset (`2024-03-01 10:00:00.000`) names an instant, as
 * TypeORM's driver for the database hydrates it: SQLite stores and reads UTC; PostgreSQL
 * (`timestamp`, through pg) and MySQL/MariaDB (unless the DataSource's `timezone` is `Z`) use the
 * process's local zone. @internal
 */
export type ZonelessDates = 'utc' | 'local';

/** @internal */
export function zonelessDatesOf(dataSource: DataSource): ZonelessDates {
  const options = dataSource.options as { type: string; timezone?: string };
  if (options.type === 'sqlite' || options.type === 'better-sqlite3') return 'utc';
  if (
    (options.type === 'mysql' || options.type === 'mariadb') &&
    /^(z|utc|\+00:?00)$/i.test(options.timezone ?? '')
  )
    return 'utc';
  return 'local';
}

// `YYYY-MM-DD HH:MM[:SS[.fff]]` with an optional offset (`Z`, `+05`, `+0530`, `+05:30`).
const SQL_DATETIME =
  /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/** A date text as an instant: zone-less date-times per `zoneless`, never the host's guess. */
function parseDate(text: string, zoneless: ZonelessDates): Date {
  const m = SQL_DATETIME.exec(text.trim());
  if (m === null) return new Date(text.trim() === '' ? NaN : text);
  const [, day, time, offset] = m;
  // Milliseconds only (what a Date holds); more digits are cut, as the drivers do.
  const clock = time!.replace(/(\.\d{3})\d+$/, '$1');
  let zone: string;
  if (offset === undefined) zone = zoneless === 'utc' ? 'Z' : '';
  else if (offset.toUpperCase() === 'Z') zone = 'Z';
  else
    zone =
      offset.length === 3
        ? `${offset}:00`
        : offset.includes(':')
          ? offset
          : `${offset.slice(0, 3)}:${offset.slice(3)}`;
  return new Date(`${day}T${clock}${zone}`);
}

function notA(where: FieldLocation, type: EncryptedValueType): BulwarkTypeOrmError {
  return new BulwarkTypeOrmError(
    TypeOrmErrorCodes.INVALID_VALUE,
    `${where.entity}.${where.column} holds a plaintext value that is not a ${type} (the field is declared as ${type}); fix the row or the field's type`,
    { entity: where.entity, column: where.column, type },
  );
}

function inexact(where: FieldLocation): BulwarkTypeOrmError {
  return new BulwarkTypeOrmError(
    TypeOrmErrorCodes.INVALID_VALUE,
    `${where.entity}.${where.column} holds an integer outside the range a number field holds exactly (±2^53-1); declare the field as a string (supported types: string, number, boolean, date, json, buffer)`,
    { entity: where.entity, column: where.column, type: 'number' },
  );
}

/**
 * The field value behind a PLAINTEXT value read from an encrypted column (a row written before
 * the column was encrypted): what the app stored there, in the field's declared type. Used by the
 * transitional read mode (`plaintextReads: 'accept'`) and by encryptExistingRows, so both read the
 * same value. Text forms a database gives for the type are accepted (`42`, `true` / `1` / `t`,
 * an ISO or SQL date, JSON text); anything else is a typed error naming entity and column, never
 * the value. A SQL date-time without an offset is read as TypeORM's driver hydrates it
 * (`zoneless`), so the instant does not depend on the host's time zone where TypeORM's does not;
 * an integer outside the safe range is refused rather than rounded. @internal
 */
export function plaintextValue(
  raw: unknown,
  type: EncryptedValueType,
  where: FieldLocation,
  zoneless: ZonelessDates,
): unknown {
  if (type === 'buffer') {
    if (raw instanceof Uint8Array) return Buffer.from(raw);
    // A text column cannot say which encoding of the bytes it holds (hex? base64?): refuse to guess.
    throw notA(where, type);
  }
  if (typeof raw === 'bigint' && type === 'number') {
    // A bigint driver value: only one a number holds exactly.
    if (raw > BigInt(Number.MAX_SAFE_INTEGER) || raw < BigInt(Number.MIN_SAFE_INTEGER)) throw inexact(where);
    return Number(raw);
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
      // An integer a number cannot hold exactly (a bigint column's 9007199254740993) is refused,
      // never rounded into another value.
      if (/^\s*[+-]?\d+\s*$/.test(text) && !Number.isSafeInteger(n)) throw inexact(where);
      return n;
    }
    case 'boolean': {
      const t = text.toLowerCase();
      if (t === 'true' || t === '1' || t === 't') return true;
      if (t === 'false' || t === '0' || t === 'f') return false;
      throw notA(where, type);
    }
    case 'date': {
      const d = parseDate(text, zoneless);
      if (Number.isNaN(d.getTime())) throw notA(where, type);
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
