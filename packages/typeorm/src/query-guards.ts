import {
  In,
  InstanceChecker,
  Not,
  QueryBuilder,
  SelectQueryBuilder,
  type EntityMetadata,
  type FindOperator,
} from 'typeorm';
import { BulwarkTypeOrmError, TypeOrmErrorCodes } from './bulwark-typeorm-error';
import { EncryptedColumnTransformer } from './encrypted-column-transformer';
import { peekActiveContext } from './encryption-context';
import { lookupEnvelopes } from './field-cipher';
import { fieldRegistry } from './field-registry';
import { SealedValue } from './sealed-value';

/**
 * Refuses queries an encrypted column cannot answer, instead of letting them return a silently
 * wrong (usually empty) result. TypeORM unwraps FindOperators before a column transformer sees
 * the value, so the operator type is checked here, by wrapping the three QueryBuilder methods
 * that receive where / order objects together with entity metadata:
 *   SelectQueryBuilder#buildWhere / #buildOrder   find options (find*, findBy, relations' wheres)
 *   QueryBuilder#getPredicates                    qb.where({ ... }) / andWhere({ ... }) objects
 *   SelectQueryBuilder#orderBy / #addOrderBy       qb.orderBy('alias.property')
 * The wrappers only act on columns declared by @EncryptedField / @BlindIndex; other columns and
 * string conditions pass untouched.
 *
 * They also make equality lookups on DETERMINISTIC columns see every row during a key rotation:
 * `{ nationalId: '123' }`, Equal, In and Not are rewritten to In (or Not(In)) over the envelope of
 * the value under every live key version and envelope format (KeyRing.lookupEnvelopes), so rows
 * that rewrapEntities has not reached yet still match. String conditions (`qb.where('u.email = :e')`) cannot be
 * checked: compute the parameter with blindIndex() or encryptedValue() yourself.
 */

/** Operators answerable on deterministic envelopes / blind indexes: equality and null checks. */
const EQUALITY: ReadonlySet<string> = new Set(['equal', 'in', 'not', 'isNull', 'and', 'or']);

type Kind = { kind: 'encrypted'; deterministic: boolean } | { kind: 'index'; bits: number };

function kindOf(metadata: EntityMetadata, propertyPath: string): Kind | undefined {
  const column = metadata.findColumnWithPropertyPath(propertyPath);
  if (column === undefined) return undefined;
  const transformer = column.transformer;
  if (transformer instanceof EncryptedColumnTransformer) {
    return { kind: 'encrypted', deterministic: transformer.deterministic };
  }
  const index = fieldRegistry.blindIndexes(metadata.target).find((s) => s.property === column.propertyName);
  return index === undefined ? undefined : { kind: 'index', bits: index.bits ?? 32 };
}

function refuse(
  metadata: EntityMetadata,
  property: string,
  what: string,
  remedy: string,
): BulwarkTypeOrmError {
  return new BulwarkTypeOrmError(
    TypeOrmErrorCodes.UNSUPPORTED_QUERY,
    `${metadata.name}.${property} ${what}; ${remedy}`,
    { entity: metadata.name, column: property, operation: what },
  );
}

const REMEDY_ENCRYPTED =
  'an encrypted column only supports IsNull() (and Equal / In / Not with @EncryptedField({ deterministic: true })): query a @BlindIndex column with blindIndex(), or filter after loading';

function checkValue(metadata: EntityMetadata, property: string, kind: Kind, value: unknown): void {
  if (value === undefined || value === null) return;
  if (InstanceChecker.isFindOperator(value)) {
    const op = value as FindOperator<unknown>;
    if (op.type === 'isNull') return;
    if (!EQUALITY.has(op.type)) {
      throw refuse(
        metadata,
        property,
        `cannot be queried with ${op.type}()`,
        kind.kind === 'encrypted'
          ? REMEDY_ENCRYPTED
          : 'a blind index only answers equality (Equal, In, Not, IsNull)',
      );
    }
    const inner = (op as unknown as { _value?: unknown })._value;
    if (op.type === 'and' || op.type === 'or' || op.type === 'in') {
      for (const v of Array.isArray(inner) ? inner : [inner]) checkValue(metadata, property, kind, v);
      return;
    }
    checkValue(metadata, property, kind, inner);
    return;
  }
  if (typeof value === 'function') {
    throw refuse(metadata, property, 'cannot be compared with a raw SQL expression', REMEDY_ENCRYPTED);
  }
  if (kind.kind === 'encrypted' && !kind.deterministic) {
    throw refuse(
      metadata,
      property,
      'is encrypted with random IVs, so equality lookups cannot match',
      REMEDY_ENCRYPTED,
    );
  }
  if (kind.kind === 'index') {
    const hexLength = Math.ceil(kind.bits / 8) * 2;
    if (typeof value !== 'string' || value.length !== hexLength || !/^[0-9a-f]+$/.test(value)) {
      throw refuse(
        metadata,
        property,
        'is a blind index and was compared with something that is not an index value',
        `pass blindIndex(${metadata.name}, '${property}', plaintext) instead of the plaintext`,
      );
    }
  }
}

function checkWhere(where: unknown, metadata: EntityMetadata, embedPrefix?: string): void {
  if (
    where === null ||
    typeof where !== 'object' ||
    Array.isArray(where) ||
    InstanceChecker.isFindOperator(where)
  )
    return;
  for (const key of Object.keys(where)) {
    const value = (where as Record<string, unknown>)[key];
    const path = embedPrefix ? `${embedPrefix}.${key}` : key;
    const kind = kindOf(metadata, path);
    if (kind !== undefined) checkValue(metadata, path, kind, value);
  }
}

function checkOrder(order: unknown, metadata: EntityMetadata, embedPrefix?: string): void {
  if (order === null || typeof order !== 'object') return;
  for (const key of Object.keys(order)) {
    if ((order as Record<string, unknown>)[key] === undefined) continue;
    const path = embedPrefix ? `${embedPrefix}.${key}` : key;
    if (kindOf(metadata, path) !== undefined) {
      throw refuse(
        metadata,
        path,
        'cannot be ordered by (ciphertext order is meaningless)',
        'sort after loading, or order by a plaintext column',
      );
    }
  }
}

/** A deterministic column's find value as In / Not(In) over every envelope the value may have. */
function expandDeterministic(transformer: EncryptedColumnTransformer, value: unknown): unknown {
  if (value === undefined || value === null || typeof value === 'function') return value;
  const ctx = peekActiveContext();
  if (ctx === undefined) return value; // the transformer reports NOT_CONFIGURED
  const field = ctx.field(transformer.spec);
  const sealed = (v: unknown): SealedValue[] =>
    v === null || v === undefined
      ? []
      : v instanceof SealedValue
        ? [v]
        : lookupEnvelopes(ctx, field, v).map((e) => new SealedValue(e, undefined));
  if (!InstanceChecker.isFindOperator(value)) return In(sealed(value));
  const op = value as FindOperator<unknown>;
  const inner = (op as unknown as { _value?: unknown })._value;
  if (InstanceChecker.isFindOperator(inner)) {
    return op.type === 'not' ? Not(expandDeterministic(transformer, inner)) : value;
  }
  switch (op.type) {
    case 'equal':
      return In(sealed(inner));
    case 'in':
      return In((Array.isArray(inner) ? inner : [inner]).flatMap(sealed));
    case 'not':
      return Not(In(sealed(inner)));
    default:
      return value;
  }
}

/** `where` with deterministic columns' values expanded (a copy; the caller's object is untouched). */
function expandWhere(where: unknown, metadata: EntityMetadata, embedPrefix?: string): unknown {
  if (
    where === null ||
    typeof where !== 'object' ||
    Array.isArray(where) ||
    InstanceChecker.isFindOperator(where)
  )
    return where;
  let copy: Record<string, unknown> | undefined;
  for (const key of Object.keys(where)) {
    const path = embedPrefix ? `${embedPrefix}.${key}` : key;
    const transformer = metadata.findColumnWithPropertyPath(path)?.transformer;
    if (!(transformer instanceof EncryptedColumnTransformer) || !transformer.deterministic) continue;
    copy ??= { ...(where as Record<string, unknown>) };
    copy[key] = expandDeterministic(transformer, copy[key]);
  }
  return copy ?? where;
}

let installed = false;

/** Installs the wrappers once per process (idempotent). @internal */
export function installQueryGuards(): void {
  if (installed) return;
  installed = true;
  type Anyfn = (this: unknown, ...args: unknown[]) => unknown;
  const select = SelectQueryBuilder.prototype as unknown as Record<string, Anyfn>;
  const base = QueryBuilder.prototype as unknown as Record<string, Anyfn>;

  const buildWhere = select.buildWhere;
  select.buildWhere = function (this: unknown, where: unknown, metadata: unknown, ...rest: unknown[]) {
    checkWhere(where, metadata as EntityMetadata, rest[1] as string | undefined);
    const expanded = expandWhere(where, metadata as EntityMetadata, rest[1] as string | undefined);
    return buildWhere.call(this, expanded, metadata, ...rest);
  };
  const buildOrder = select.buildOrder;
  select.buildOrder = function (this: unknown, order: unknown, metadata: unknown, ...rest: unknown[]) {
    checkOrder(order, metadata as EntityMetadata, rest[1] as string | undefined);
    return buildOrder.call(this, order, metadata, ...rest);
  };

  const getPredicates = base.getPredicates;
  base.getPredicates = function* (this: unknown, where: unknown) {
    const qb = this as { expressionMap: { mainAlias?: { hasMetadata: boolean; metadata: EntityMetadata } } };
    const main = qb.expressionMap.mainAlias;
    let expanded = where;
    if (main?.hasMetadata) {
      checkWhere(where, main.metadata);
      expanded = expandWhere(where, main.metadata);
    }
    yield* getPredicates.call(this, expanded) as Iterable<unknown>;
  } as unknown as Anyfn;

  const guardSort = (qb: unknown, sort: unknown) => {
    const map = (
      qb as {
        expressionMap: { aliases: Array<{ name: string; hasMetadata: boolean; metadata: EntityMetadata }> };
      }
    ).expressionMap;
    const keys =
      typeof sort === 'string' ? [sort] : sort !== null && typeof sort === 'object' ? Object.keys(sort) : [];
    for (const key of keys) {
      const dot = key.indexOf('.');
      if (dot < 1) continue;
      const alias = map.aliases.find((a) => a.name === key.slice(0, dot));
      if (alias?.hasMetadata && kindOf(alias.metadata, key.slice(dot + 1)) !== undefined) {
        throw refuse(
          alias.metadata,
          key.slice(dot + 1),
          'cannot be ordered by (ciphertext order is meaningless)',
          'sort after loading, or order by a plaintext column',
        );
      }
    }
  };
  for (const name of ['orderBy', 'addOrderBy']) {
    const original = select[name];
    select[name] = function (this: unknown, sort: unknown, ...rest: unknown[]) {
      guardSort(this, sort);
      return original.call(this, sort, ...rest);
    };
  }
}
