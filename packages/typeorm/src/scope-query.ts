import { BulwarkPolicyError, ErrorCodes, type PolicyScope, type ScopeValue } from '@bulwark/core';
import type { ObjectLiteral, SelectQueryBuilder, WhereExpressionBuilder } from 'typeorm';
import { BulwarkTypeOrmError, TypeOrmErrorCodes } from './bulwark-typeorm-error';

export interface ScopeQueryOptions {
  /** Alias of the entity in the query. Default: the query builder's main alias. */
  alias?: string;
  /** Policy attribute -> entity property, where they differ (`{ ownerId: 'authorId' }`). */
  attributes?: Readonly<Record<string, string>>;
}

const SQL_OPS = { eq: '=', ne: '<>', lt: '<', lte: '<=', gt: '>', gte: '>=' } as const;
let queries = 0;

function untranslatable(message: string): BulwarkPolicyError {
  return new BulwarkPolicyError(ErrorCodes.POLICY_UNTRANSLATABLE, `scopeQuery: ${message}`, {
    path: 'scopeQuery',
  });
}

/**
 * Adds a policy's query scope (`policyEngine.queryScope(principal, action, type)`) to a TypeORM
 * SELECT as one WHERE condition, so a list endpoint returns only the rows `check()` would allow
 * (ASVS 5.0 V8.2.2, V8.4.1): ownership (`resource.ownerId eq subject.id`), tenant
 * (`resource.tenantId eq subject.tenantId`) and every other translatable condition. Values are
 * bound parameters; every comparison is NULL-safe (a missing attribute never matches, as in the
 * engine). An attribute that is not a column of the entity is refused with
 * ERR_POLICY_UNTRANSLATABLE rather than ignored (fail closed).
 *
 * The WHERE conditions already on the builder are bracketed first, so an earlier `orWhere`
 * cannot escape the scope (`(A OR B) AND scope`, never `A OR B AND scope`). Call `scopeQuery`
 * last among the where calls: afterwards `where` (which would replace the scope) and the
 * `orWhere` family (which would widen it) throw ERR_TYPEORM_UNSUPPORTED_QUERY; `andWhere` and
 * the rest of the builder (joins, order, paging) stay available.
 *
 * @example
 * const qb = notes.createQueryBuilder('note');
 * scopeQuery(qb, engine.queryScope(req.principal, 'read', 'notes'));
 * res.json(await qb.getMany());
 */
export function scopeQuery<T extends ObjectLiteral>(
  qb: SelectQueryBuilder<T>,
  scope: PolicyScope,
  options: ScopeQueryOptions = {},
): SelectQueryBuilder<T> {
  const alias = options.alias ?? qb.alias;
  const metadata = qb.expressionMap.aliases.find((a) => a.name === alias)?.metadata;
  if (metadata === undefined) throw untranslatable(`the query has no entity alias ${alias}`);
  const sqlite = /sqlite/.test(String(qb.connection.options.type));
  const prefix = `bw_scope_${++queries}_`;
  const params: Record<string, unknown> = {};
  let n = 0;

  const columnOf = (attribute: string) => {
    const property = options.attributes?.[attribute] ?? attribute;
    const found = metadata.findColumnWithPropertyPath(property);
    if (found === undefined) {
      throw untranslatable(`resource attribute ${attribute} is not a column of ${metadata.name}`);
    }
    return { sql: `${alias}.${property}`, kind: columnKind(found.type) };
  };
  const column = (attribute: string): string => columnOf(attribute).sql;
  // better-sqlite3 binds no booleans; TypeORM stores them as 0 / 1 there.
  const bind = (value: ScopeValue | readonly ScopeValue[]): string => {
    const name = `${prefix}${n++}`;
    const fix = (v: ScopeValue) => (sqlite && typeof v === 'boolean' ? (v ? 1 : 0) : v);
    params[name] = Array.isArray(value) ? value.map(fix) : fix(value as ScopeValue);
    return Array.isArray(value) ? `(:...${name})` : `:${name}`;
  };

  const render = (node: PolicyScope): string => {
    switch (node.kind) {
      case 'true':
        return '1 = 1';
      case 'false':
        return '1 = 0';
      case 'and':
      case 'or':
        return `(${node.nodes.map(render).join(node.kind === 'and' ? ' AND ' : ' OR ')})`;
      case 'not':
        return `NOT ${render(node.node)}`;
      case 'present':
        return `${column(node.attribute)} IS NOT NULL`;
      case 'compare': {
        const { sql: c, kind } = columnOf(node.attribute);
        const value = forColumn(kind, node.value, node.op === 'eq' || node.op === 'ne');
        // A value check() never finds equal to (or orders against) anything in this column:
        // `eq` and the orderings match no row, `ne` matches every row with a value.
        if (value === NEVER) return node.op === 'ne' ? `(${c} IS NOT NULL)` : '1 = 0';
        return `(${c} IS NOT NULL AND ${c} ${SQL_OPS[node.op]} ${bind(value)})`;
      }
      case 'in': {
        const { sql: c, kind } = columnOf(node.attribute);
        const values = node.values.map((v) => forColumn(kind, v, true)).filter((v) => v !== NEVER);
        if (values.length === 0) return '1 = 0';
        return `(${c} IS NOT NULL AND ${c} IN ${bind(values as ScopeValue[])})`;
      }
      case 'sameAs': {
        const a = column(node.attribute);
        const b = column(node.other);
        return `(${a} IS NOT NULL AND ${b} IS NOT NULL AND ${a} ${SQL_OPS[node.op]} ${b})`;
      }
    }
  };

  const condition = render(scope);
  const earlier = qb.expressionMap.wheres;
  if (earlier.length > 0) qb.expressionMap.wheres = [{ type: 'simple', condition: bracketed(earlier) }];
  qb.andWhere(condition, params);
  for (const method of WIDENING) {
    Object.defineProperty(qb, method, { configurable: true, value: () => refuseAfterScope(method) });
  }
  return qb;
}

const NEVER = Symbol('never equal');
const NUMERIC_TYPES = new Set([
  'int',
  'integer',
  'int2',
  'int4',
  'int8',
  'smallint',
  'mediumint',
  'tinyint',
  'bigint',
  'numeric',
  'decimal',
  'dec',
  'float',
  'float4',
  'float8',
  'double',
  'double precision',
  'real',
  'smallserial',
  'serial',
  'bigserial',
  'number',
]);
const STRING_TYPES = new Set([
  'varchar',
  'character varying',
  'char',
  'character',
  'nchar',
  'nvarchar',
  'text',
  'tinytext',
  'mediumtext',
  'longtext',
  'string',
  'citext',
  'uuid',
]);

/** The kind of a TypeORM column type (`Number`, `'int'`, `String`, `'varchar'`...). */
function columnKind(type: unknown): 'number' | 'string' | 'other' {
  if (type === Number) return 'number';
  if (type === String) return 'string';
  const name = typeof type === 'string' ? type.toLowerCase() : '';
  return NUMERIC_TYPES.has(name) ? 'number' : STRING_TYPES.has(name) ? 'string' : 'other';
}

/** A safe integer's canonical decimal string (`"42"`, `"-7"`; not `"042"`, `" 7"`, `"7.0"`, `"+7"`). */
const isIdString = (v: string): boolean => {
  const n = Number(v);
  return Number.isSafeInteger(n) && String(n) === v;
};

/**
 * The value to bind against a column so SQL decides as check() does. check() equates a safe
 * integer with its canonical decimal string and nothing else, and never orders a number against
 * a string; a database would compare `'07'`, `' 7'` or `'7abc'` with an integer column loosely
 * (SQLite, MySQL) or fail on `'abc'` (PostgreSQL). So against a numeric column a canonical id
 * string binds as its number and any other string is NEVER; against a string column a safe
 * integer binds as its string and any other number is NEVER. `equality`: eq / ne / in (ordering
 * never coerces: a string against a numeric column, a number against a string column, is NEVER).
 */
function forColumn(
  kind: 'number' | 'string' | 'other',
  value: ScopeValue,
  equality: boolean,
): ScopeValue | typeof NEVER {
  if (kind === 'number' && typeof value === 'string') {
    return equality && isIdString(value) ? Number(value) : NEVER;
  }
  if (kind === 'string' && typeof value === 'number') {
    return equality && Number.isSafeInteger(value) ? String(value) : NEVER;
  }
  return value;
}

type WhereClauses = SelectQueryBuilder<ObjectLiteral>['expressionMap']['wheres'];

/**
 * The clauses as one bracketed group. TypeORM brackets a nested group of two or more clauses,
 * but renders a lone clause (and a raw string such as `a OR b`) as it is, so those are wrapped.
 */
function bracketed(clauses: WhereClauses): WhereClauses {
  return clauses.map((clause) => {
    const { condition } = clause;
    if (typeof condition === 'string') return { ...clause, condition: `(${condition})` };
    if (Array.isArray(condition) && condition.length === 1)
      return { ...clause, condition: bracketed(condition) };
    return clause;
  });
}

/** Builder methods that would replace or widen the WHERE once the scope is on it. */
const WIDENING = [
  'where',
  'orWhere',
  'whereInIds',
  'orWhereInIds',
  'whereExists',
  'orWhereExists',
] as const satisfies readonly (keyof WhereExpressionBuilder | keyof SelectQueryBuilder<ObjectLiteral>)[];

function refuseAfterScope(method: string): never {
  throw new BulwarkTypeOrmError(
    TypeOrmErrorCodes.UNSUPPORTED_QUERY,
    `scopeQuery: ${method}() after scopeQuery would replace or widen the policy scope; add your conditions before scopeQuery, or with andWhere`,
    { operation: method },
  );
}
