/**
 * Authorization with data on NestJS over real HTTP (ASVS 5.0 V8.2.2, V8.2.3, V8.4.1): a
 * `ResourceLoader` provider resolved from the module reads the stored owner and tenant before
 * the decision, `filterResponse` removes fields the caller may not read, `checkBody` refuses a
 * write to a forbidden field, and a list is scoped by the policy (scopeQuery) on SQLite.
 */
import 'reflect-metadata';
import {
  Body,
  Controller,
  Get,
  Inject,
  Injectable,
  Module,
  Param,
  Patch,
  type INestApplication,
} from '@nestjs/common';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { PolicyEngine, TokenService, type AuthzResource, type HttpPrincipal } from '@bulwark/core';
import { scopeQuery } from '@bulwark/typeorm';
import type { DataSource } from 'typeorm';
import {
  Authorize,
  AuthorizedResource,
  BulwarkModule,
  Principal,
  Public,
  type BulwarkRequestContext,
  type ResourceLoader,
} from '../src';
import {
  EMPLOYEES,
  EMPLOYEE_POLICY,
  EmployeeSchema,
  USERS,
  employeeResource,
  principalFromClaims,
  rowOf,
  sqliteEmployees,
  type EmployeesDatabase,
} from '../../../test/support/employees-domain';

const DATA_SOURCE = 'DATA_SOURCE';
const engine = new PolicyEngine({ policy: EMPLOYEE_POLICY });

/** Reads the employee a route names, through the app's own DataSource (dependency injection). */
@Injectable()
class EmployeeLoader implements ResourceLoader {
  constructor(@Inject(DATA_SOURCE) private readonly dataSource: DataSource) {}

  async load(request: BulwarkRequestContext): Promise<AuthzResource | undefined> {
    const repo = this.dataSource.getRepository(EmployeeSchema);
    return employeeResource(await repo.findOneBy({ id: Number(request.params.id) }));
  }
}

/** Loads counted: an anonymous caller must get its 401 before any of them. */
const publicLoads: string[] = [];

@Controller('employees')
class EmployeesController {
  constructor(@Inject(DATA_SOURCE) private readonly dataSource: DataSource) {}

  @Get()
  @Authorize('list', 'employees', { filterResponse: { action: 'read' } })
  list(@Principal() me: HttpPrincipal): Promise<unknown[]> {
    const qb = this.dataSource.getRepository(EmployeeSchema).createQueryBuilder('e').orderBy('e.id');
    return scopeQuery(qb, engine.queryScope(me, 'read', 'employees')).getMany();
  }

  @Get(':id')
  @Authorize('read', { loader: EmployeeLoader }, { filterResponse: true })
  read(@AuthorizedResource() employee: AuthzResource): Record<string, unknown> {
    return rowOf(employee);
  }

  // @Public: authentication is optional here, so only @Authorize stands between a caller and the loader.
  @Get(':id/card')
  @Public()
  @Authorize('read', (r: BulwarkRequestContext) => {
    publicLoads.push(String(r.params.id));
    return { type: 'employees', id: String(r.params.id) };
  })
  card(): Record<string, unknown> {
    return { ok: true };
  }

  @Patch(':id')
  @Authorize('update', { loader: EmployeeLoader }, { checkBody: true })
  async update(@Param('id') id: string, @Body() body: Record<string, unknown>): Promise<unknown> {
    const repo = this.dataSource.getRepository(EmployeeSchema);
    await repo.update({ id: Number(id) }, body);
    return repo.findOneBy({ id: Number(id) });
  }
}

describe('authorization with data on NestJS (SQLite, DI loader)', () => {
  let db: EmployeesDatabase;
  let app: INestApplication;
  const tokens = new TokenService({ algorithms: ['HS256'], signingKey: { key: new Uint8Array(32).fill(9) } });
  const bearer: Record<string, string> = {};

  beforeAll(async () => {
    db = await sqliteEmployees();
    @Module({
      imports: [
        BulwarkModule.forRoot({
          tokens,
          authorizer: engine,
          authentication: { principal: principalFromClaims },
        }),
      ],
      controllers: [EmployeesController],
      providers: [{ provide: DATA_SOURCE, useValue: db.dataSource }, EmployeeLoader],
    })
    class AppModule {}
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    for (const [user, claims] of Object.entries(USERS)) {
      bearer[user] =
        `Bearer ${await tokens.sign({ ...claims, roles: [...claims.roles] }, { subject: user })}`;
    }
  });
  afterAll(async () => {
    await app.close();
    await db.drop();
  });

  const get = (path: string, user: keyof typeof USERS) =>
    request(app.getHttpServer()).get(path).set('Authorization', bearer[user]!);

  it("refuses another user's record (IDOR), crossing tenants, and answers 404 for none", async () => {
    expect((await get('/employees/1', 'alice')).body).toEqual(EMPLOYEES[0]);
    const idor = await get('/employees/2', 'alice');
    expect(idor.status).toBe(403);
    expect(idor.text).not.toMatch(/Bob|80000/);
    expect((await get('/employees/4', 'bob')).body.reasonId).toBe('tenant_mismatch');
    expect((await get('/employees/999', 'alice')).status).toBe(404);
  });

  it('filters fields the caller may not read, one record and a list', async () => {
    const manager = await get('/employees/1', 'bob');
    expect(manager.status).toBe(200);
    expect(manager.body).not.toHaveProperty('salary');
    expect(manager.body.name).toBe('Alice');
    const list = await get('/employees', 'bob');
    expect(list.body.map((e: { id: number; salary?: number }) => [e.id, e.salary])).toEqual([
      [1, undefined],
      [2, 80_000],
      [3, undefined],
    ]);
    expect((await get('/employees', 'dave')).body).toEqual([EMPLOYEES[3]]);
  });

  it('refuses a write to a forbidden field (403 field_denied) and allows a permitted one', async () => {
    const patch = (body: object) =>
      request(app.getHttpServer()).patch('/employees/1').set('Authorization', bearer.alice!).send(body);
    expect((await patch({ phone: '111' })).body.phone).toBe('111');
    const raise = await patch({ salary: 999_999 });
    expect(raise.status).toBe(403);
    expect(raise.body.reasonId).toBe('field_denied');
    expect((await db.dataSource.getRepository(EmployeeSchema).findOneBy({ id: 1 }))?.salary).toBe(50_000);
  });

  it('answers an anonymous caller 401 before the resource loader runs', async () => {
    const anonymous = await request(app.getHttpServer()).get('/employees/999/card');
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.code).toBe('ERR_HTTP_AUTH_REQUIRED');
    expect(publicLoads).toEqual([]);
    await get('/employees/1/card', 'alice');
    expect(publicLoads).toEqual(['1']);
  });
});
