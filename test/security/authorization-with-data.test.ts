/**
 * Authorization with data over real HTTP (ASVS 5.0 V8.2.2 IDOR / BOLA, V8.4.1 tenant isolation,
 * V8.2.3 field-level access, V15.3.3 mass assignment of forbidden fields) on Express and Koa, with
 * the records in SQLite and in PostgreSQL: the resource loader reads the stored owner and tenant
 * before the decision, list endpoints are scoped by the policy (scopeQuery), and field rules
 * filter answers and refuse writes.
 */
import type { Server } from 'node:http';
import express from 'express';
import Koa from 'koa';
import { bodyParser } from '@koa/bodyparser';
import request from 'supertest';
import { createBulwark, ErrorCodes, type Bulwark, type PolicyEngine } from '@bulwark/core';
import { bulwark as expressBulwark } from '@bulwark/express';
import { bulwark as koaBulwark, type ResourceSpec as KoaResourceSpec } from '@bulwark/koa';
import { scopeQuery } from '@bulwark/typeorm';
import { describeWithService } from '../support/services';
import {
  EMPLOYEES,
  EMPLOYEE_POLICY,
  EmployeeSchema,
  USERS,
  employeeResource,
  postgresEmployees,
  principalFromClaims,
  rowOf,
  sqliteEmployees,
  type EmployeesDatabase,
} from '../support/employees-domain';

const quiet = { log: () => undefined };

async function kitFor(): Promise<Bulwark> {
  return createBulwark({
    tokens: { algorithms: ['HS256'], signingKey: { key: new Uint8Array(32).fill(7) } },
    authz: { policy: EMPLOYEE_POLICY },
  });
}

type AppFactory = (kit: Bulwark, db: EmployeesDatabase) => Server;

/**
 * GET /employees (scoped list), GET /employees/:id (loader + field filter), PATCH /employees/:id
 * (loader + body check), GET /audit (a list whose policy condition cannot become a query).
 */
const APPS: Record<string, AppFactory> = {
  Express(kit, db) {
    const repo = db.dataSource.getRepository(EmployeeSchema);
    const engine = kit.policyEngine as PolicyEngine;
    const app = express();
    const bw = expressBulwark(kit, {
      authenticate: { principal: principalFromClaims },
      problemDetails: quiet,
    });
    app.use(express.json());
    app.use(bw);
    const load = async (req: express.Request) =>
      employeeResource(await repo.findOneBy({ id: Number(req.params.id) }));
    app.get(
      '/employees',
      bw.authorize('list', 'employees', { filterResponse: { action: 'read' } }),
      async (req, res, next) => {
        try {
          const qb = repo.createQueryBuilder('e').orderBy('e.id');
          res.json(await scopeQuery(qb, engine.queryScope(req.principal!, 'read', 'employees')).getMany());
        } catch (err) {
          next(err);
        }
      },
    );
    app.get('/audit', async (req, res, next) => {
      try {
        const qb = repo.createQueryBuilder('e');
        res.json(await scopeQuery(qb, engine.queryScope(req.principal!, 'audit', 'employees')).getMany());
      } catch (err) {
        next(err);
      }
    });
    app.get('/employees/:id', bw.authorize('read', load, { filterResponse: true }), (req, res) => {
      res.json(rowOf(req.authorizedResource));
    });
    app.patch('/employees/:id', bw.authorize('update', load, { checkBody: true }), async (req, res, next) => {
      try {
        await repo.update({ id: Number(req.params.id) }, req.body as object);
        res.json(await repo.findOneBy({ id: Number(req.params.id) }));
      } catch (err) {
        next(err);
      }
    });
    app.use(bw.problemDetails());
    return app.listen(0);
  },
  Koa(kit, db) {
    const repo = db.dataSource.getRepository(EmployeeSchema);
    const engine = kit.policyEngine as PolicyEngine;
    const app = new Koa();
    const bw = koaBulwark(kit, { authenticate: { principal: principalFromClaims }, problemDetails: quiet });
    app.use(bw);
    app.use(bodyParser());
    const idOf = (ctx: Koa.Context) => Number(/^\/employees\/([^/]+)$/.exec(ctx.path)?.[1]);
    const load: KoaResourceSpec = async (ctx) => employeeResource(await repo.findOneBy({ id: idOf(ctx) }));
    const readList = bw.authorize('list', 'employees', { filterResponse: { action: 'read' } });
    const readOne = bw.authorize('read', load, { filterResponse: true });
    const update = bw.authorize('update', load, { checkBody: true });
    app.use(async (ctx, next) => {
      const principal = ctx.state.principal;
      if (ctx.path === '/employees' && ctx.method === 'GET') {
        return readList(ctx, async () => {
          const qb = repo.createQueryBuilder('e').orderBy('e.id');
          ctx.body = await scopeQuery(qb, engine.queryScope(principal, 'read', 'employees')).getMany();
        });
      }
      if (ctx.path === '/audit') {
        const qb = repo.createQueryBuilder('e');
        ctx.body = await scopeQuery(qb, engine.queryScope(principal, 'audit', 'employees')).getMany();
        return;
      }
      if (ctx.path.startsWith('/employees/') && ctx.method === 'GET') {
        return readOne(ctx, async () => {
          ctx.body = rowOf(ctx.state.authorizedResource);
        });
      }
      if (ctx.path.startsWith('/employees/') && ctx.method === 'PATCH') {
        return update(ctx, async () => {
          await repo.update({ id: idOf(ctx) }, ctx.request.body as object);
          ctx.body = await repo.findOneBy({ id: idOf(ctx) });
        });
      }
      return next();
    });
    return app.listen(0);
  },
};

const BACKENDS: [string, () => Promise<EmployeesDatabase>, boolean][] = [
  ['SQLite', sqliteEmployees, true],
  ['PostgreSQL', postgresEmployees, false],
];

for (const [backend, open, local] of BACKENDS) {
  const suite = local
    ? describe
    : (title: string, body: () => void) => describeWithService('postgres', title, body);
  for (const name of Object.keys(APPS)) {
    suite(`authorization with data on ${name} (${backend})`, () => {
      let db: EmployeesDatabase;
      let kit: Bulwark;
      let server: Server;
      const tokens: Record<string, string> = {};

      beforeAll(async () => {
        db = await open();
        kit = await kitFor();
        server = APPS[name]!(kit, db);
        for (const [user, claims] of Object.entries(USERS)) {
          tokens[user] = await kit.tokens!.sign({ ...claims, roles: [...claims.roles] }, { subject: user });
        }
      });
      afterAll(async () => {
        await new Promise((r) => server.close(r));
        await kit.close();
        await db.drop();
      });

      const as = (user: keyof typeof USERS) => ({ Authorization: `Bearer ${tokens[user]}` });

      it("refuses a user reading another user's record by id (IDOR) and answers 404 for none", async () => {
        const own = await request(server).get('/employees/1').set(as('alice'));
        expect(own.status).toBe(200);
        expect(own.body).toEqual(EMPLOYEES[0]);
        const other = await request(server).get('/employees/2').set(as('alice'));
        expect(other.status).toBe(403);
        expect(other.body.reasonId).toBe('default_deny');
        expect(other.text).not.toMatch(/Bob|80000/);
        expect((await request(server).get('/employees/999').set(as('alice'))).status).toBe(404);
      });

      it('refuses crossing tenants, even to a manager', async () => {
        const res = await request(server).get('/employees/4').set(as('bob'));
        expect(res.status).toBe(403);
        expect(res.body.reasonId).toBe('tenant_mismatch');
        expect((await request(server).get('/employees/1').set(as('dave'))).status).toBe(403);
      });

      it('filters fields: a manager reads a record without salary, payroll with it', async () => {
        const manager = await request(server).get('/employees/1').set(as('bob'));
        expect(manager.status).toBe(200);
        const { salary: _salary, ...withoutSalary } = EMPLOYEES[0]!;
        expect(manager.body).toEqual(withoutSalary);
        const payroll = await request(server).get('/employees/1').set(as('carol'));
        expect(payroll.body.salary).toBe(50_000);
      });

      it('lists only the rows the policy allows, with the fields it allows', async () => {
        const alice = await request(server).get('/employees').set(as('alice'));
        expect(alice.body).toEqual([EMPLOYEES[0]]);
        const bob = await request(server).get('/employees').set(as('bob'));
        expect(bob.body.map((e: { id: number }) => e.id)).toEqual([1, 2, 3]);
        // A manager sees salaries of nobody but himself (his own record: the staff rule, all fields).
        expect(bob.body.map((e: { salary?: number }) => e.salary)).toEqual([undefined, 80_000, undefined]);
        const carol = await request(server).get('/employees').set(as('carol'));
        expect(carol.body.map((e: { salary: number }) => e.salary)).toEqual([50_000, 80_000, 60_000]);
        const dave = await request(server).get('/employees').set(as('dave'));
        expect(dave.body).toEqual([EMPLOYEES[3]]);
      });

      it('lets the owner write a permitted field and refuses a forbidden one (403 field_denied)', async () => {
        const ok = await request(server).patch('/employees/1').set(as('alice')).send({ phone: '101' });
        expect(ok.status).toBe(200);
        expect(ok.body.phone).toBe('101');
        const raise = await request(server)
          .patch('/employees/1')
          .set(as('alice'))
          .send({ phone: '102', salary: 1e6 });
        expect(raise.status).toBe(403);
        expect(raise.body.reasonId).toBe('field_denied');
        const again = await request(server).get('/employees/1').set(as('carol'));
        expect(again.body).toMatchObject({ phone: '101', salary: 50_000 });
        expect(
          (await request(server).patch('/employees/2').set(as('alice')).send({ phone: '1' })).status,
        ).toBe(403);
      });

      it('fails closed when a list condition cannot become a query: 500, no rows', async () => {
        expect(() =>
          (kit.policyEngine as PolicyEngine).queryScope(
            { id: 'carol', roles: ['payroll'], tenantId: 't1' },
            'audit',
            'employees',
          ),
        ).toThrow(expect.objectContaining({ code: ErrorCodes.POLICY_UNTRANSLATABLE }));
        const res = await request(server).get('/audit').set(as('carol'));
        expect(res.status).toBe(500);
        expect(res.text).not.toMatch(/Alice|salary|tags/);
      });
    });
  }
}
