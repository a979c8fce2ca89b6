import { AsyncLocalStorage } from 'node:async_hooks';
import { envelopeKind } from '@bulwark/core';
import {
  DeleteQueryBuilder,
  In,
  InstanceChecker,
  Not,
  QueryBuilder,
  SelectQueryBuilder,
  UpdateQueryBuilder,
  type EntityMetadata,
  type FindOperator,
} from 'typeorm';
// Not exported from typeorm's root; softDelete() / restore() builders carry where conditions too.
import { SoftDeleteQueryBuilder } from 'typeorm/query-builder/SoftDeleteQueryBuilder';
import { BulwarkTypeOrmError, TypeOrmErrorCodes } from './bulwark-typeorm-error';
import { EncryptedColumnTransformer } from './encrypted-column-transformer';
import { peekActiveContext } from './encryption-context';
import { lookupEnvelopes } from './field-cipher';
import { fieldRegistry } from './field-registry';
import { isProducedIndexValue } from './index-values';
import { SealedValue } from './sealed-value';

/**
 * Refuses queries an encrypted column cannot answer, instead of letting them return a silently
 * wrong (usually empty) result. TypeORM unwraps FindOperators before a column transformer sees
 * the value, so the operator type is checked here, by wrapping the three QueryBuilder methods
 * that receive where / order objects together with entity metadata:
 *   SelectQueryBuilder#buildWhere / #buildOrder   find options (find*, findBy, relations' wheres)
 *   QueryBuilder#getPredicates                    qb.where({ ... }) / andWhere({ ... }) objects
 *   SelectQueryBuilder#orderBy / #addOrderBy       qb.orderBy('alias.property')
 *   getQuery() of Select / Update / Delete / SoftDelete builders   every string condition (where,
 *                                                  Brackets, having, join ON, find's Raw SQL), with
 *                                                  the parameters known by then (see below)
 * The wrappers only act on columns declared by @EncryptedField / @BlindIndex; other columns pass
 * untouched.
 *
 * They also make equality lookups on DETERMINISTIC columns see every row during a key rotation:
 * `{ nationalId: '123' }`, Equal, In and Not are rewritten to In (or Not(In)) over the envelope of
 * the value under every live key version and envelope format (KeyRing.lookupEnvelopes), so rows
 * that rewrapEntities has not reached yet still match. String conditions (`qb.where('u.email = :e')`)
 * are parsed instead: a reference to a guarded column must be `IS [NOT] NULL`, or equality / IN
 * with named parameters holding index values (blind index) or envelopes (deterministic, or the
 * exact stored envelope of a random-IV column), or the same column on the other side; anything
 * else is refused. Plaintext parameters on a deterministic column are refused, not rewritten
 * (ENCRYPTION.md, "String conditions").
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

/**
 * A value is accepted for a blind-index column only if a lookup helper of this process returned it
 * (index-values.ts): the hex shape alone lets digit-only plaintext through.
 */
function isIndexValue(metadata: EntityMetadata, property: string, bits: number, value: unknown): boolean {
  const hexLength = Math.ceil(bits / 8) * 2;
  return (
    typeof value === 'string' &&
    value.length === hexLength &&
    /^[0-9a-f]+$/.test(value) &&
    isProducedIndexValue(`${metadata.name}.${property}`, value)
  );
}

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
    if (!isIndexValue(metadata, property, kind.bits, value)) {
      throw refuse(
        metadata,
        property,
        'is a blind index and was compared with something that blindIndex() / blindIndexes() did not return (plaintext, or an index value from elsewhere)',
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

// ---------------------------------------------------------------------------------------------
// String conditions: qb.where('u.email = :e'), andWhere / orWhere / Brackets, having, the ON
// condition of a string join, and the SQL a find() Raw() operator writes. They are parsed when
// the query is built (getQuery), when the parameters are known.

type Token =
  | { t: 'id'; v: string; quoted: boolean }
  | { t: 'dot' | 'lp' | 'rp' | 'comma' | 'lit' | 'nparam' }
  | { t: 'param'; v: string }
  | { t: 'op'; v: string }
  | { t: 'kw'; v: string };

/** A reference `alias.path` found in a condition, with the shape of the comparison around it. */
interface Ref {
  alias: string;
  path: string;
  quoted: boolean;
  /** The SELECT scope the reference is in (0: the condition itself; see Analysis.scopes). */
  scope: number;
  /** `ref AS name`: the output column name it gets (in a derived table's select list). */
  as?: string;
  /** null: `IS [NOT] NULL`; params: `= :p`, `IN (:...p)`; ref: `= other.col`; other: anything else. */
  use:
    | { kind: 'null' }
    | { kind: 'params'; names: string[] }
    | { kind: 'ref'; alias: string; path: string; quoted: boolean }
    | { kind: 'other' };
}

const KEYWORDS: ReadonlySet<string> = new Set(['AND', 'OR', 'NOT', 'IS', 'NULL', 'IN', 'ON', 'WHERE']);
const IDENT_START = /[A-Za-z_\u0080-\uffff]/;
const IDENT_PART = /[A-Za-z0-9_$\u0080-\uffff]/;

/** Lexes a SQL condition: string literals and comments are skipped, identifiers unquoted. */
function tokenize(sql: string): Token[] {
  const out: Token[] = [];
  const n = sql.length;
  let i = 0;
  const quoted = (close: string): string => {
    let v = '';
    i++;
    while (i < n) {
      const c = sql[i];
      if (c === close) {
        if (sql[i + 1] === close) {
          v += close;
          i += 2;
          continue;
        }
        i++;
        return v;
      }
      v += c;
      i++;
    }
    return v;
  };
  while (i < n) {
    const c = sql[i];
    if (c === ' ' || c === '\n' || c === '\t' || c === '\r') {
      i++;
    } else if (c === "'") {
      quoted("'");
      out.push({ t: 'lit' });
    } else if (c === '"' || c === '`') {
      out.push({ t: 'id', v: quoted(c), quoted: true });
    } else if (c === '-' && sql[i + 1] === '-') {
      while (i < n && sql[i] !== '\n') i++;
    } else if (c === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2);
      i = end < 0 ? n : end + 2;
    } else if (c === ':' && sql[i + 1] === ':') {
      out.push({ t: 'op', v: '::' });
      i += 2;
    } else if (c === ':') {
      let j = i + 1;
      if (sql.startsWith('...', j)) j += 3;
      const start = j;
      while (
        j < n &&
        /[A-Za-z0-9_.]/.test(sql[j]) &&
        !(sql[j] === '.' && !/[A-Za-z0-9_]/.test(sql[j + 1] ?? ''))
      )
        j++;
      if (j === start) out.push({ t: 'op', v: ':' });
      else out.push({ t: 'param', v: sql.slice(start, j) });
      i = j;
    } else if (c === '?' || (c === '$' && /[0-9]/.test(sql[i + 1] ?? ''))) {
      i++;
      while (i < n && /[0-9]/.test(sql[i])) i++;
      out.push({ t: 'nparam' });
    } else if (c === '.') {
      out.push({ t: 'dot' });
      i++;
    } else if (c === '(') {
      out.push({ t: 'lp' });
      i++;
    } else if (c === ')') {
      out.push({ t: 'rp' });
      i++;
    } else if (c === ',') {
      out.push({ t: 'comma' });
      i++;
    } else if (/[0-9]/.test(c)) {
      while (i < n && /[0-9.eE]/.test(sql[i])) i++;
      out.push({ t: 'lit' });
    } else if (IDENT_START.test(c)) {
      const start = i;
      while (i < n && IDENT_PART.test(sql[i])) i++;
      const v = sql.slice(start, i);
      const upper = v.toUpperCase();
      out.push(KEYWORDS.has(upper) ? { t: 'kw', v: upper } : { t: 'id', v, quoted: false });
    } else {
      const two = sql.slice(i, i + 2);
      const op = ['<>', '!=', '<=', '>=', '||', '->', '#>', '@>', '<@', '&&', '!~', '~*'].includes(two)
        ? two
        : c;
      out.push({ t: 'op', v: op });
      i += op.length;
    }
  }
  return out;
}

const isKw = (tok: Token | undefined, ...words: string[]): boolean =>
  tok !== undefined && tok.t === 'kw' && words.includes(tok.v);
const EQ_OPS: ReadonlySet<string> = new Set(['=', '!=', '<>']);

/** An identifier chain `a.b[.c]` starting at i: [end, alias, path, quoted] or undefined. */
function chainAt(
  tokens: Token[],
  i: number,
): { end: number; alias: string; path: string; quoted: boolean } | undefined {
  const first = tokens[i];
  if (first?.t !== 'id' || tokens[i - 1]?.t === 'dot') return undefined;
  const parts: string[] = [];
  let quoted = first.quoted;
  let j = i + 1;
  while (tokens[j]?.t === 'dot' && tokens[j + 1]?.t === 'id') {
    const part = tokens[j + 1] as { v: string; quoted: boolean };
    parts.push(part.v);
    quoted ||= part.quoted;
    j += 2;
  }
  if (tokens[j]?.t === 'lp') return undefined; // function(, schema.function(
  if (parts.length === 0) {
    // A bare column name (`where('email = :e')`) refers to the main alias; a cast's type name does not.
    const before = tokens[i - 1];
    if (before?.t === 'op' && before.v === '::') return undefined;
    if (before?.t === 'id' && !before.quoted && before.v.toUpperCase() === 'AS') return undefined; // CAST(x AS date)
    return { end: j, alias: '', path: first.v, quoted };
  }
  return { end: j, alias: first.v, path: parts.join('.'), quoted };
}

/** Whether the operand starting at i begins a predicate (start, AND / OR / NOT / ON / WHERE, or a grouping parenthesis). */
function startsPredicate(tokens: Token[], i: number): boolean {
  const before = tokens[i - 1];
  if (before === undefined || isKw(before, 'AND', 'OR', 'NOT', 'ON', 'WHERE')) return true;
  if (before.t !== 'lp') return false;
  return startsPredicate(tokens, i - 1);
}

/** Whether the predicate ends at i (end, AND / OR, a closing parenthesis). */
function endsPredicate(tokens: Token[], i: number): boolean {
  const tok = tokens[i];
  return tok === undefined || tok.t === 'rp' || isKw(tok, 'AND', 'OR');
}

/** Whether the reference at [i, end) is the whole argument of COUNT( ) or COUNT(DISTINCT ). */
function countedAt(tokens: Token[], i: number, end: number): 'count' | 'distinct' | undefined {
  if (tokens[end]?.t !== 'rp') return undefined;
  const isName = (tok: Token | undefined, name: string) =>
    tok?.t === 'id' && !tok.quoted && tok.v.toUpperCase() === name;
  if (tokens[i - 1]?.t === 'lp' && isName(tokens[i - 2], 'COUNT')) return 'count';
  if (isName(tokens[i - 1], 'DISTINCT') && tokens[i - 2]?.t === 'lp' && isName(tokens[i - 3], 'COUNT')) {
    return 'distinct';
  }
  return undefined;
}

/** A table named in `FROM` / `JOIN` inside a condition (a subquery, EXISTS), with its alias. */
interface TableRef {
  name: string;
  /** schema.table when qualified */
  path: string;
  quoted: boolean;
  alias?: { name: string; quoted: boolean };
}

/** A `SELECT ... FROM` scope: 0 is the condition itself, others are parenthesised subqueries. */
interface Scope {
  parent: number;
  tables: TableRef[];
}

interface Analysis {
  refs: Ref[];
  scopes: Scope[];
  /** Every identifier of the condition, lower-cased: a condition naming no guarded column is skipped. */
  names: Set<string>;
}

/** Words after which, in a FROM / JOIN list, an identifier is not a table alias. */
const NOT_ALIAS: ReadonlySet<string> = new Set([
  'AS',
  'JOIN',
  'INNER',
  'LEFT',
  'RIGHT',
  'FULL',
  'OUTER',
  'CROSS',
  'NATURAL',
  'GROUP',
  'ORDER',
  'LIMIT',
  'OFFSET',
  'HAVING',
  'UNION',
  'EXCEPT',
  'INTERSECT',
  'USING',
  'WINDOW',
  'FETCH',
  'FOR',
  'RETURNING',
  'SET',
  'VALUES',
  'LATERAL',
]);
const isWord = (tok: Token | undefined, word: string): boolean =>
  tok?.t === 'id' && !tok.quoted && tok.v.toUpperCase() === word;

/**
 * Marks the SELECT scopes of a condition and the tables their FROM / JOIN clauses name. Returns
 * the scope of every token and the token positions that are table names or aliases (not columns).
 */
function scopesOf(tokens: Token[]): { scopes: Scope[]; scopeAt: number[]; tableTokens: Set<number> } {
  const scopes: Scope[] = [{ parent: -1, tables: [] }];
  const scopeAt: number[] = new Array<number>(tokens.length);
  const tableTokens = new Set<number>();
  // stack of [scope, paren depth at which it opened]
  const stack: Array<[number, number]> = [[0, 0]];
  let depth = 0;
  for (let i = 0; i < tokens.length; i++) {
    const tok = tokens[i];
    if (tok.t === 'lp') {
      depth++;
      if (isWord(tokens[i + 1], 'SELECT')) {
        scopes.push({ parent: stack[stack.length - 1][0], tables: [] });
        stack.push([scopes.length - 1, depth]);
      }
    } else if (tok.t === 'rp') {
      if (stack.length > 1 && stack[stack.length - 1][1] === depth) stack.pop();
      depth--;
    }
    const current = stack[stack.length - 1][0];
    scopeAt[i] = current;
    if (!(isWord(tok, 'FROM') || isWord(tok, 'JOIN'))) continue;
    // Only a FROM / JOIN of the SELECT itself, not one inside a function (EXTRACT(YEAR FROM a.x)).
    if (stack[stack.length - 1][1] !== depth) continue;
    // FROM a [AS] x, b y JOIN ... : each table (identifier chain) and its optional alias
    let k = i + 1;
    for (;;) {
      if (tokens[k]?.t !== 'id') break;
      const parts: string[] = [];
      let quoted = false;
      const start = k;
      while (tokens[k]?.t === 'id') {
        const part = tokens[k] as { v: string; quoted: boolean };
        parts.push(part.v);
        quoted ||= part.quoted;
        if (tokens[k + 1]?.t !== 'dot') break;
        k += 2;
      }
      for (let m = start; m <= k; m++) {
        tableTokens.add(m);
        scopeAt[m] = current;
      }
      k++;
      const table: TableRef = { name: parts[parts.length - 1], path: parts.join('.'), quoted };
      if (isWord(tokens[k], 'AS')) k++;
      const alias = tokens[k];
      if (alias?.t === 'id' && (alias.quoted || !NOT_ALIAS.has(alias.v.toUpperCase()))) {
        table.alias = { name: alias.v, quoted: alias.quoted };
        tableTokens.add(k);
        scopeAt[k] = current;
        k++;
      }
      scopes[current].tables.push(table);
      if (tokens[k]?.t !== 'comma' || !isWord(tok, 'FROM')) break;
      k++;
    }
  }
  return { scopes, scopeAt, tableTokens };
}

/** Every `alias.path` reference of a condition and how it is used. */
function analyse(sql: string): Analysis {
  const tokens = tokenize(sql);
  const refs: Ref[] = [];
  const names = new Set<string>();
  for (const tok of tokens) if (tok.t === 'id') names.add(tok.v.toLowerCase());
  const { scopes, scopeAt, tableTokens } = scopesOf(tokens);
  for (let i = 0; i < tokens.length; i++) {
    if (tableTokens.has(i)) continue;
    const chain = chainAt(tokens, i);
    if (chain === undefined) continue;
    const { end } = chain;
    const ref: Ref = {
      alias: chain.alias,
      path: chain.path,
      quoted: chain.quoted,
      scope: scopeAt[i] ?? 0,
      use: { kind: 'other' },
    };
    if (isWord(tokens[end], 'AS') && tokens[end + 1]?.t === 'id') {
      ref.as = (tokens[end + 1] as { v: string }).v;
    }
    refs.push(ref);
    const next = tokens[end];
    const atStart = startsPredicate(tokens, i);
    const counted = countedAt(tokens, i, end);
    if (counted === 'count') {
      ref.use = { kind: 'null' }; // COUNT(ref) only depends on which values are NULL
    } else if (counted === 'distinct') {
      // COUNT(DISTINCT ref): as meaningful as comparing the column with itself
      ref.use = { kind: 'ref', alias: chain.alias, path: chain.path, quoted: chain.quoted };
    } else if (isKw(next, 'IS')) {
      // ref IS [NOT] NULL
      const k = isKw(tokens[end + 1], 'NOT') ? end + 2 : end + 1;
      if (isKw(tokens[k], 'NULL') && endsPredicate(tokens, k + 1)) ref.use = { kind: 'null' };
    } else if (next?.t === 'op' && EQ_OPS.has(next.v) && atStart) {
      // ref = :p | ref = other.col
      const rhs = tokens[end + 1];
      if (rhs?.t === 'param' && endsPredicate(tokens, end + 2)) ref.use = { kind: 'params', names: [rhs.v] };
      const other = chainAt(tokens, end + 1);
      if (other !== undefined && endsPredicate(tokens, other.end)) {
        ref.use = { kind: 'ref', alias: other.alias, path: other.path, quoted: other.quoted };
      }
    } else if ((isKw(next, 'IN') || (isKw(next, 'NOT') && isKw(tokens[end + 1], 'IN'))) && atStart) {
      // ref [NOT] IN (:a, :...b)
      let k = isKw(next, 'IN') ? end + 1 : end + 2;
      if (tokens[k]?.t === 'lp') {
        const names: string[] = [];
        k++;
        while (tokens[k]?.t === 'param') {
          names.push((tokens[k] as { v: string }).v);
          k++;
          if (tokens[k]?.t !== 'comma') break;
          k++;
        }
        if (names.length > 0 && tokens[k]?.t === 'rp' && endsPredicate(tokens, k + 1)) {
          ref.use = { kind: 'params', names };
        }
      }
    }
    // :p = ref | other.col = ref
    const prev = tokens[i - 1];
    if (ref.use.kind === 'other' && prev?.t === 'op' && EQ_OPS.has(prev.v) && endsPredicate(tokens, end)) {
      const lhs = tokens[i - 2];
      if (lhs?.t === 'param' && startsPredicate(tokens, i - 2)) ref.use = { kind: 'params', names: [lhs.v] };
      else if (lhs?.t === 'id') {
        let s = i - 2;
        while (tokens[s - 1]?.t === 'dot' && tokens[s - 2]?.t === 'id') s -= 2;
        const other = chainAt(tokens, s);
        if (other !== undefined && other.end === i - 1 && startsPredicate(tokens, s)) {
          ref.use = { kind: 'ref', alias: other.alias, path: other.path, quoted: other.quoted };
        }
      }
    }
    i = end - 1;
  }
  return { refs, scopes, names };
}

/** Parsed conditions by text: application conditions are a fixed set of strings. Bounded. */
const analyses = new Map<string, Analysis>();
const ANALYSES_MAX = 2000;

function analysed(sql: string): Analysis {
  let analysis = analyses.get(sql);
  if (analysis === undefined) {
    analysis = analyse(sql);
    if (analyses.size >= ANALYSES_MAX) analyses.clear();
    analyses.set(sql, analysis);
  }
  return analysis;
}

interface Guarded {
  property: string;
  kind: Kind;
}

/** Guarded columns of an entity by property path and database name (null: none at all). Per metadata. */
const guardedColumns = new WeakMap<EntityMetadata, Map<string, Guarded> | null>();

function guardedOf(metadata: EntityMetadata): Map<string, Guarded> | null {
  let map = guardedColumns.get(metadata);
  if (map !== undefined) return map;
  map = null;
  const properties = [
    ...fieldRegistry.encrypted(metadata.target).map((s) => s.property),
    ...fieldRegistry.blindIndexes(metadata.target).map((s) => s.property),
  ];
  for (const property of properties) {
    const column = metadata.findColumnWithPropertyPath(property);
    const kind = kindOf(metadata, property);
    if (column === undefined || kind === undefined) continue;
    map ??= new Map();
    const guarded = { property: column.propertyPath, kind };
    map.set(column.propertyPath, guarded);
    map.set(column.databaseName, guarded);
    map.set(`\u0000${column.propertyPath.toLowerCase()}`, guarded);
    map.set(`\u0000${column.databaseName.toLowerCase()}`, guarded);
  }
  guardedColumns.set(metadata, map);
  return map;
}

interface AliasLike {
  name: string;
  hasMetadata: boolean;
  metadata: EntityMetadata;
  subQuery?: string;
}

interface ExpressionMapLike {
  mainAlias?: AliasLike;
  aliases: AliasLike[];
  wheres: Array<{ condition: unknown }>;
  havings?: Array<{ condition: unknown }>;
  joinAttributes?: Array<{ condition?: string }>;
  parameters: Record<string, unknown>;
}

interface Hit {
  metadata: EntityMetadata;
  column: Guarded;
}

/**
 * What a reference resolves to: a guarded column, a column Bulwark does not guard ('plain': an
 * entity without that guarded column), or 'unknown' (a qualifier that names no alias, no entity
 * table of the DataSource, or a table / derived table Bulwark has no metadata for).
 */
type Resolution = Hit | 'plain' | 'unknown';

/** Guarded columns and tables of every entity of a DataSource (by lower-cased name). Per DataSource. */
interface Catalogue {
  /** lower-cased database name / property path of a guarded column -> every entity that has one */
  guarded: Map<string, Hit[]>;
  /** lower-cased table name / table path -> entity */
  tables: Map<string, EntityMetadata[]>;
  /** SQLite / MySQL: quoted identifiers compare case-insensitively too */
  caseInsensitive: boolean;
}

const catalogues = new WeakMap<object, Catalogue>();
const CASE_INSENSITIVE_DRIVERS: ReadonlySet<string> = new Set([
  'sqlite',
  'better-sqlite3',
  'sqljs',
  'capacitor',
  'cordova',
  'expo',
  'nativescript',
  'react-native',
  'mysql',
  'mariadb',
  'aurora-mysql',
]);

function catalogueOf(connection: {
  entityMetadatas: EntityMetadata[];
  options: { type: string };
}): Catalogue {
  let catalogue = catalogues.get(connection);
  if (catalogue !== undefined) return catalogue;
  // Not initialised yet (no metadata): build it again next time instead of caching "nothing guarded".
  const final = connection.entityMetadatas.length > 0;
  catalogue = {
    guarded: new Map(),
    tables: new Map(),
    caseInsensitive: CASE_INSENSITIVE_DRIVERS.has(connection.options.type),
  };
  const add = <V>(map: Map<string, V[]>, key: string, value: V) => {
    const list = map.get(key.toLowerCase());
    if (list === undefined) map.set(key.toLowerCase(), [value]);
    else if (!list.includes(value)) list.push(value);
  };
  for (const metadata of connection.entityMetadatas) {
    add(catalogue.tables, metadata.tableName, metadata);
    add(catalogue.tables, metadata.tablePath, metadata);
    const columns = guardedOf(metadata);
    if (columns === null) continue;
    for (const [name, column] of columns) {
      if (name.startsWith('\u0000')) continue;
      const list = catalogue.guarded.get(name.toLowerCase()) ?? [];
      if (!list.some((h) => h.column === column)) list.push({ metadata, column });
      catalogue.guarded.set(name.toLowerCase(), list);
    }
  }
  if (final) catalogues.set(connection, catalogue);
  return catalogue;
}

/** What a query's string conditions resolve references against. */
interface Resolver {
  catalogue: Catalogue;
  /** the builder's aliases by name (entities, and derived tables of subquery joins) */
  aliases: AliasLike[];
  main?: AliasLike;
  /** output columns of derived tables that are guarded columns: alias -> lower-cased name -> hit */
  derived: Map<AliasLike, Map<string, Hit>>;
}

function sameName(a: string, b: string, quoted: boolean, catalogue: Catalogue): boolean {
  return a === b || ((!quoted || catalogue.caseInsensitive) && a.toLowerCase() === b.toLowerCase());
}

function columnOf(metadata: EntityMetadata, path: string, quoted: boolean, catalogue: Catalogue): Resolution {
  const columns = guardedOf(metadata);
  if (columns === null) return 'plain';
  const column =
    columns.get(path) ??
    (!quoted || catalogue.caseInsensitive ? columns.get(`\u0000${path.toLowerCase()}`) : undefined);
  return column === undefined ? 'plain' : { metadata, column };
}

function hasColumn(metadata: EntityMetadata, name: string): boolean {
  const lower = name.toLowerCase();
  return metadata.columns.some(
    (c) => c.databaseName.toLowerCase() === lower || c.propertyPath.toLowerCase() === lower,
  );
}

function entityTable(table: TableRef, catalogue: Catalogue): EntityMetadata | undefined {
  const candidates =
    catalogue.tables.get(table.path.toLowerCase()) ?? catalogue.tables.get(table.name.toLowerCase());
  return candidates?.find(
    (m) =>
      sameName(m.tablePath, table.path, table.quoted, catalogue) ||
      sameName(m.tableName, table.name, table.quoted, catalogue),
  );
}

function resolveRef(
  r: Resolver,
  analysis: Analysis,
  scope: number,
  alias: string,
  path: string,
  quoted: boolean,
): Resolution {
  const { catalogue } = r;
  if (alias === '') {
    // A bare column: the innermost SELECT scope with a table that has it, else the main alias.
    for (let s = scope; s > 0; s = analysis.scopes[s].parent) {
      for (const table of analysis.scopes[s].tables) {
        const metadata = entityTable(table, catalogue);
        if (metadata === undefined) return 'unknown'; // a table Bulwark cannot see into
        if (hasColumn(metadata, path)) return columnOf(metadata, path, quoted, catalogue);
      }
    }
    const main = r.main;
    if (main?.hasMetadata) return columnOf(main.metadata, path, quoted, catalogue);
    const derived = main === undefined ? undefined : r.derived.get(main);
    return derived === undefined ? 'unknown' : (derived.get(path.toLowerCase()) ?? 'plain');
  }
  // A qualified column: an alias or table of the enclosing subqueries, then the builder's aliases,
  // then the table of any entity of the DataSource (UPDATE / DELETE and alias-less subqueries).
  for (let s = scope; s >= 0; s = analysis.scopes[s].parent) {
    for (const table of analysis.scopes[s].tables) {
      const named = table.alias ?? { name: table.name, quoted: table.quoted };
      if (!sameName(named.name, alias, quoted || named.quoted, catalogue)) continue;
      const metadata = entityTable(table, catalogue);
      return metadata === undefined ? 'unknown' : columnOf(metadata, path, quoted, catalogue);
    }
    if (s === 0) break;
  }
  const builderAlias =
    r.aliases.find((a) => a.name === alias) ??
    r.aliases.find((a) => sameName(a.name, alias, quoted, catalogue));
  if (builderAlias !== undefined) {
    if (builderAlias.hasMetadata) return columnOf(builderAlias.metadata, path, quoted, catalogue);
    const derived = r.derived.get(builderAlias);
    if (derived === undefined) return 'unknown';
    return derived.get(path.toLowerCase()) ?? 'plain';
  }
  const metadata = entityTable({ name: alias, path: alias, quoted }, catalogue);
  if (metadata !== undefined) return columnOf(metadata, path, quoted, catalogue);
  return 'unknown';
}

/** The guarded columns a reference Bulwark cannot resolve may be (by its column name). */
function candidatesOf(catalogue: Catalogue, path: string): Hit[] {
  const last = path.slice(path.lastIndexOf('.') + 1);
  return [
    ...(catalogue.guarded.get(path.toLowerCase()) ?? []),
    ...(catalogue.guarded.get(last.toLowerCase()) ?? []),
  ];
}

function indexRemedy(metadata: EntityMetadata, property: string): string {
  const index = fieldRegistry.blindIndexes(metadata.target).find((s) => s.source === property);
  return index === undefined
    ? REMEDY_ENCRYPTED
    : `look it up with findByBlindIndex(repository, '${index.property}', value) (it confirms on the decrypted value), or compare ${index.property} with blindIndex(${metadata.name}, '${index.property}', value) as a parameter`;
}

function checkRef(ref: Ref, r: Resolver, analysis: Analysis, parameters: Record<string, unknown>): void {
  if (ref.use.kind === 'null') return;
  const resolution = resolveRef(r, analysis, ref.scope, ref.alias, ref.path, ref.quoted);
  if (resolution === 'plain') return;
  if (resolution !== 'unknown') {
    checkHit(ref, resolution, r, analysis, parameters);
    return;
  }
  // Fail closed: a column named like a guarded one, through a qualifier Bulwark cannot resolve, is
  // checked as each guarded column it may be; refused unless the use is valid for every one.
  for (const hit of candidatesOf(r.catalogue, ref.path)) {
    try {
      checkHit(ref, hit, r, analysis, parameters);
    } catch (error) {
      if (!(error instanceof BulwarkTypeOrmError)) throw error;
      throw refuse(
        hit.metadata,
        hit.column.property,
        `may be referenced by a string query condition through ${ref.alias === '' ? 'a bare column name' : 'a qualifier'} that Bulwark cannot resolve to an entity of the DataSource, and that use would be refused on it`,
        `qualify the column with an alias of the query or the entity's table name, so that the condition can be checked (${error.message})`,
      );
    }
  }
}

function checkHit(
  ref: Ref,
  hit: Hit,
  r: Resolver,
  analysis: Analysis,
  parameters: Record<string, unknown>,
): void {
  const { metadata, column } = hit;
  const { property, kind } = column;
  const use = ref.use;
  if (use.kind === 'null') return;
  if (
    kind.kind === 'encrypted' &&
    !kind.deterministic &&
    use.kind === 'params' &&
    isStoredEnvelopeCompare(use.names, parameters)
  ) {
    return; // compare-and-set on the exact stored envelope (rewrapEntities): a byte comparison that can match
  }
  if (kind.kind === 'encrypted' && !kind.deterministic) {
    throw refuse(
      metadata,
      property,
      'is encrypted with random IVs and was referenced in a string query condition, which can never match it',
      indexRemedy(metadata, property),
    );
  }
  const what =
    kind.kind === 'index'
      ? `pass blindIndex(${metadata.name}, '${property}', value) as a named parameter (\`${property} = :h\`, or \`IN (:...h)\` with blindIndexes()), or use findByBlindIndex()`
      : `pass encryptedValue(${metadata.name}, '${property}', value) as a named parameter (\`${property} = :v\`, or \`IN (:...v)\` with encryptedValues() so rows not yet rewrapped after a key rotation match), or use the object form where({ ${property}: value }), which Bulwark rewrites`;
  if (use.kind === 'other') {
    throw refuse(
      metadata,
      property,
      `is ${kind.kind === 'index' ? 'a blind index' : 'deterministically encrypted'} and a string query condition uses it in an expression other than equality with a named parameter or IS NULL`,
      what,
    );
  }
  if (use.kind === 'ref') {
    const other = resolveRef(r, analysis, ref.scope, use.alias, use.path, use.quoted);
    if (other === 'unknown') {
      const same = candidatesOf(r.catalogue, use.path);
      if (
        same.length > 0 &&
        same.every((h) => h.metadata.target === metadata.target && h.column.property === property)
      )
        return;
    } else if (
      other !== 'plain' &&
      other.metadata.target === metadata.target &&
      other.column.property === property
    ) {
      return;
    }
    throw refuse(
      metadata,
      property,
      `is ${kind.kind === 'index' ? 'a blind index' : 'deterministically encrypted'} and a string query condition compares it with another column, whose values are computed under another key or context`,
      'compare it only with the same column (e.g. a self-join), or with a parameter',
    );
  }
  for (const name of use.names) {
    if (!Object.hasOwn(parameters, name)) continue; // not set (yet): TypeORM reports it
    const raw = parameters[name];
    for (const value of Array.isArray(raw) ? raw : [raw]) {
      if (value === null || value === undefined) continue;
      if (kind.kind === 'index') {
        if (isIndexValue(metadata, property, kind.bits, value)) continue;
        throw refuse(
          metadata,
          property,
          'is a blind index and a string query condition compares it with something that blindIndex() / blindIndexes() did not return (plaintext, or an index value from elsewhere)',
          what,
        );
      }
      const envelope = value instanceof SealedValue ? value.envelope : value;
      if (envelopeKind(envelope)?.deterministic === true) continue;
      throw refuse(
        metadata,
        property,
        'is deterministically encrypted and a string query condition compares it with a value that is not its envelope (it can never match)',
        what,
      );
    }
  }
}

/** Every (set) parameter is an envelope string: the condition compares stored bytes, not plaintext. */
function isStoredEnvelopeCompare(names: string[], parameters: Record<string, unknown>): boolean {
  let any = false;
  for (const name of names) {
    if (!Object.hasOwn(parameters, name)) return false;
    const raw = parameters[name];
    for (const value of Array.isArray(raw) ? raw : [raw]) {
      const envelope = value instanceof SealedValue ? value.envelope : value;
      if (envelopeKind(envelope) === undefined) return false;
      any = true;
    }
  }
  return any;
}

/**
 * Runs `fn` with the string-condition guard off for the queries it builds (async included):
 * for Bulwark's own maintenance queries that compare an encrypted column with what it stores
 * before encryption (e.g. a compare-and-set on a legacy plaintext value during a migration).
 * Not exported from the package: applications use blind indexes or deterministic values. @internal
 */
export function runWithoutStringGuards<T>(fn: () => T): T {
  return unguarded.run(true, fn);
}

const unguarded = new AsyncLocalStorage<boolean>();

function conditionStrings(condition: unknown, out: string[]): void {
  if (typeof condition === 'string') out.push(condition);
  else if (Array.isArray(condition))
    for (const c of condition) conditionStrings((c as { condition: unknown }).condition, out);
  else if (condition !== null && typeof condition === 'object' && 'condition' in condition) {
    conditionStrings((condition as { condition: unknown }).condition, out);
  }
}

/** Checks every string condition of a query builder against the guarded columns it may reference. */
function checkStringConditions(
  map: ExpressionMapLike,
  connection: { entityMetadatas: EntityMetadata[]; options: { type: string } },
): void {
  const catalogue = catalogueOf(connection);
  if (catalogue.guarded.size === 0) return; // no encrypted entity in this DataSource
  const strings: string[] = [];
  for (const where of map.wheres) conditionStrings(where.condition, strings);
  for (const having of map.havings ?? []) conditionStrings(having.condition, strings);
  for (const join of map.joinAttributes ?? [])
    if (typeof join.condition === 'string') strings.push(join.condition);
  if (strings.length === 0) return;
  let r: Resolver | undefined;
  for (const sql of strings) {
    const analysis = analysed(sql);
    r ??= resolverOf(map, catalogue);
    // The common case: the condition names no guarded column and no derived table that selects one.
    if (r.derived.size === 0 && !namesGuarded(analysis, catalogue)) continue;
    for (const ref of analysis.refs) checkRef(ref, r, analysis, map.parameters);
  }
}

function namesGuarded(analysis: Analysis, catalogue: Catalogue): boolean {
  for (const name of analysis.names) if (catalogue.guarded.has(name)) return true;
  return false;
}

function resolverOf(map: ExpressionMapLike, catalogue: Catalogue): Resolver {
  const derived = new Map<AliasLike, Map<string, Hit>>();
  const r: Resolver = { catalogue, aliases: map.aliases, main: map.mainAlias, derived };
  for (const alias of map.aliases) {
    if (alias.hasMetadata || typeof alias.subQuery !== 'string') continue;
    // A derived table (a join on a subquery): its output columns that select a guarded column.
    const text = alias.subQuery.trim();
    const analysis = analysed(text.startsWith('(') && text.endsWith(')') ? text.slice(1, -1) : text);
    const outputs = new Map<string, Hit>();
    const inner: Resolver = { catalogue, aliases: [], derived: new Map() };
    for (const ref of analysis.refs) {
      if (ref.scope !== 0 || ref.as === undefined) continue;
      const hit = resolveRef(inner, analysis, 0, ref.alias, ref.path, ref.quoted);
      if (hit !== 'plain' && hit !== 'unknown') outputs.set(ref.as.toLowerCase(), hit);
    }
    if (outputs.size > 0) derived.set(alias, outputs);
  }
  return r;
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
  // String conditions are checked when the SQL is built, once their parameters are known.
  for (const Builder of [
    SelectQueryBuilder,
    UpdateQueryBuilder,
    DeleteQueryBuilder,
    SoftDeleteQueryBuilder,
  ]) {
    const proto = Builder.prototype as unknown as Record<string, Anyfn>;
    const getQuery = proto.getQuery;
    proto.getQuery = function (this: unknown, ...args: unknown[]) {
      if (unguarded.getStore() !== true) {
        const qb = this as {
          expressionMap: ExpressionMapLike;
          connection: { entityMetadatas: EntityMetadata[]; options: { type: string } };
        };
        checkStringConditions(qb.expressionMap, qb.connection);
      }
      return getQuery.apply(this, args);
    };
  }
  for (const name of ['orderBy', 'addOrderBy']) {
    const original = select[name];
    select[name] = function (this: unknown, sort: unknown, ...rest: unknown[]) {
      guardSort(this, sort);
      return original.call(this, sort, ...rest);
    };
  }
}
