/**
 * Ids across number and string, in lists and detail checks (review M2, L1): a numeric resource id
 * passed straight to check() follows the id rule (as it does in conditions and scopes), and
 * scopeQuery binds values by the column's TypeORM type so SQL decides as check() does: a list
 * never shows a row the detail check refuses, and never hides one it allows. SQLite and
 * PostgreSQL (own schema per run).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { DataSource, EntitySchema, type DataSourceOptions } from 'typeorm';
import {
  PolicyEngine,
  type AuthzResource,
  type AuthzSubject,
  type PolicyDocument,
  type PolicyWarning,
} from '@bulwark/core';
import { scopeQuery } from '../../src/scope-query';
import { describeWithService, SERVICE_URLS } from '../../../../test/support/services';

interface Order {
  id: number;
  tenantId: number;
  ownerRef: string;
}
const OrderSchema = new EntitySchema<Order>({
  name: 'IdOrder',
  tableName: 'id_order',
  columns: {
    id: { type: 'integer', primary: true },
    tenantId: { type: 'integer' },
    ownerRef: { type: 'varchar' },
  },
});
const ROWS: Order[] = [
  { id: 7, tenantId: 7, ownerRef: '42' },
  { id: 42, tenantId: 8, ownerRef: '7' },
  { id: 43, tenantId: 7, ownerRef: '042' },
];

const policy = (rules: unknown[]): PolicyDocument =>
  ({ version: 1, roles: { u: {} }, policies: [{ id: 'p', rules }] }) as PolicyDocument;

/** The policy of the review's repro (t5.js): an id pattern and an any-id pattern. */
const byId = policy([
  { id: 'a', effect: 'allow', roles: ['u'], actions: ['read'], resources: ['orders/42'] },
  { id: 'b', effect: 'allow', roles: ['u'], actions: ['list'], resources: ['orders/*'] },
]);
/** Allow all, deny other tenants (the review's L1 repro, t6.js). */
const tenantDeny = policy([
  { id: 'all', effect: 'allow', roles: ['u'], actions: ['read'], resources: ['orders/*'] },
  {
    id: 'other-tenant',
    effect: 'deny',
    roles: ['u'],
    actions: ['read'],
    resources: ['orders/*'],
    when: { attr: 'resource.tenantId', ne: { ref: 'subject.tenantId' } },
  },
]);
const tenantEq = policy([
  {
    id: 'same-tenant',
    effect: 'allow',
    roles: ['u'],
    actions: ['read'],
    resources: ['orders/*'],
    when: { attr: 'resource.tenantId', eq: { ref: 'subject.tenantId' } },
  },
]);
const ownerIn = policy([
  {
    id: 'owned',
    effect: 'allow',
    roles: ['u'],
    actions: ['read'],
    resources: ['orders/*'],
    when: { attr: 'resource.ownerRef', in: { ref: 'subject.accounts' } },
  },
]);

function suite(open: () => Promise<{ ds: DataSource; close: () => Promise<void> }>): void {
  let ds: DataSource;
  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ ds, close } = await open());
    await ds.getRepository(OrderSchema).save(ROWS);
  });
  afterAll(async () => close?.());

  /** The rows the list shows, and the check() of every row (as the row came from the database). */
  async function listAndChecks(engine: PolicyEngine, subject: AuthzSubject, action: string) {
    const qb = ds.getRepository(OrderSchema).createQueryBuilder('o').orderBy('o.id');
    const listed = (await scopeQuery(qb, engine.queryScope(subject, action, 'orders')).getMany()).map(
      (r) => r.id,
    );
    const rows = await ds.getRepository(OrderSchema).find({ order: { id: 'ASC' } });
    const allowed = rows
      .filter(
        (r) => engine.check(subject, action, { type: 'orders', ...r } as unknown as AuthzResource).allowed,
      )
      .map((r) => r.id);
    return { listed, allowed };
  }

  it('a numeric id passed straight to check(): allowed as its string, with a warning (M2)', async () => {
    const warnings: PolicyWarning[] = [];
    const engine = new PolicyEngine({ policy: byId, onWarning: (w) => warnings.push(w) });
    const s = { id: 'u1', roles: ['u'] };
    const numeric = { type: 'orders', id: 42 as unknown as string };
    expect(engine.check(s, 'read', numeric)).toMatchObject({ allowed: true, ruleId: 'a' });
    expect(engine.check(s, 'list', numeric)).toMatchObject({ allowed: true, ruleId: 'b' });
    expect(engine.check(s, 'read', { type: 'orders', id: 43 as unknown as string }).allowed).toBe(false);
    expect(engine.explain(s, 'read', numeric).decision.allowed).toBe(true);
    expect(engine.permittedFields(s, 'read', numeric)).toMatchObject({ allowed: true, all: true });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ path: 'resource.id', actualType: 'number', coerced: true });
    // Not an id: refused as invalid_request, never matched against `orders/*`.
    for (const bad of [4.2, Number.NaN, 2 ** 53, BigInt(42), true, { id: 42 }]) {
      expect(engine.check(s, 'list', { type: 'orders', id: bad as unknown as string }).reasonId).toBe(
        'invalid_request',
      );
    }
    // And the list agrees with the detail check, row by row.
    for (const action of ['read', 'list']) {
      const { listed, allowed } = await listAndChecks(engine, s, action);
      expect(listed).toEqual(allowed);
    }
    expect((await listAndChecks(engine, s, 'read')).listed).toEqual([42]);
  });

  it.each(['7', 7, '07', ' 7', '+7', '7.0', '7abc', 'abc', 8, '8'])(
    'ne deny rule on an integer column, subject.tenantId %p: list = detail checks (L1)',
    async (tenantId) => {
      const engine = new PolicyEngine({ policy: tenantDeny, onWarning: () => undefined });
      const s = { id: 'u1', roles: ['u'], tenantId };
      const { listed, allowed } = await listAndChecks(engine, s, 'read');
      expect(listed).toEqual(allowed);
    },
  );

  it.each(['7', 7, '07', 'abc', -0, '-0'])(
    'eq allow rule on an integer column, subject.tenantId %p: list = detail checks',
    async (tenantId) => {
      const engine = new PolicyEngine({ policy: tenantEq, onWarning: () => undefined });
      const { listed, allowed } = await listAndChecks(engine, { id: 'u1', roles: ['u'], tenantId }, 'read');
      expect(listed).toEqual(allowed);
    },
  );

  it.each([[['42', '7']], [[42, 7]], [[42, 'x']], [['042']], [[4.2]]])(
    'in on a varchar column, subject.accounts %j: list = detail checks',
    async (accounts) => {
      const engine = new PolicyEngine({ policy: ownerIn, onWarning: () => undefined });
      const { listed, allowed } = await listAndChecks(engine, { id: 'u1', roles: ['u'], accounts }, 'read');
      expect(listed).toEqual(allowed);
    },
  );
}

describe('scopeQuery and check() on ids, SQLite', () => {
  suite(async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bw-scope-ids-'));
    const ds = await new DataSource({
      type: 'better-sqlite3',
      database: path.join(dir, 'ids.sqlite'),
      entities: [OrderSchema],
      synchronize: true,
    } as DataSourceOptions).initialize();
    return {
      ds,
      close: async () => {
        await ds.destroy();
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  });
});

describeWithService('postgres', 'scopeQuery and check() on ids, PostgreSQL', () => {
  suite(async () => {
    const schema = `bw_scope_ids_${randomBytes(6).toString('hex')}`;
    const admin = await new DataSource({ type: 'postgres', url: SERVICE_URLS.postgres }).initialize();
    await admin.query(`CREATE SCHEMA "${schema}"`);
    const ds = await new DataSource({
      type: 'postgres',
      url: SERVICE_URLS.postgres,
      schema,
      entities: [OrderSchema],
      synchronize: true,
    }).initialize();
    return {
      ds,
      close: async () => {
        await ds.destroy();
        await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await admin.destroy();
      },
    };
  });
});
