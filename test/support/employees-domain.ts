/**
 * A small multi-tenant HR domain for the authorization-with-data suites (ASVS 5.0 V8.2.2, V8.2.3,
 * V8.4.1): an `Employee` table, a policy with ownership, tenant and field rules, and seed rows.
 * Shared by the Express / Koa suite (test/security) and the NestJS one (packages/nestjs/test).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { DataSource, EntitySchema, type DataSourceOptions } from 'typeorm';
import type { AuthzResource, PolicyDocument } from '@bulwark/core';
import { SERVICE_URLS } from './services';

export interface Employee {
  id: number;
  tenantId: string;
  userId: string;
  name: string;
  department: string;
  phone: string;
  salary: number;
}

export const EmployeeSchema = new EntitySchema<Employee>({
  name: 'Employee',
  tableName: 'employee',
  columns: {
    id: { type: Number, primary: true },
    tenantId: { type: String, name: 'tenant_id' },
    userId: { type: String, name: 'user_id' },
    name: { type: String },
    department: { type: String },
    phone: { type: String },
    salary: { type: Number },
  },
});

export const EMPLOYEES: Employee[] = [
  { id: 1, tenantId: 't1', userId: 'alice', name: 'Alice', department: 'ops', phone: '100', salary: 50_000 },
  { id: 2, tenantId: 't1', userId: 'bob', name: 'Bob', department: 'ops', phone: '200', salary: 80_000 },
  {
    id: 3,
    tenantId: 't1',
    userId: 'carol',
    name: 'Carol',
    department: 'finance',
    phone: '300',
    salary: 60_000,
  },
  { id: 4, tenantId: 't2', userId: 'dave', name: 'Dave', department: 'sales', phone: '400', salary: 55_000 },
];

/** Principals as the bearer tokens carry them: `tenantId` and roles are claims. */
export const USERS = {
  alice: { roles: ['staff'], tenantId: 't1' },
  bob: { roles: ['manager'], tenantId: 't1' },
  carol: { roles: ['payroll'], tenantId: 't1' },
  dave: { roles: ['staff'], tenantId: 't2' },
} as const;

const own = { attr: 'resource.userId', eq: { ref: 'subject.id' } } as const;
const sameTenant = { attr: 'resource.tenantId', eq: { ref: 'subject.tenantId' } } as const;

/**
 * Staff read their own record and may change their own phone only; managers read their tenant's
 * employees without salaries; payroll reads its tenant's employees in full. Nobody crosses tenants
 * (a deny that no allow rule can outweigh).
 */
export const EMPLOYEE_POLICY: PolicyDocument = {
  version: 1,
  roles: { staff: {}, manager: { inherits: ['staff'] }, payroll: {} },
  policies: [
    {
      id: 'employees',
      rules: [
        // The list route itself; which rows and fields it returns is decided per row by `read`.
        {
          id: 'list',
          effect: 'allow',
          roles: ['staff', 'payroll'],
          actions: ['list'],
          resources: ['employees'],
        },
        {
          id: 'own-read',
          effect: 'allow',
          roles: ['staff'],
          actions: ['read'],
          resources: ['employees/*'],
          when: own,
        },
        {
          id: 'manager-read',
          effect: 'allow',
          roles: ['manager'],
          actions: ['read'],
          resources: ['employees/*'],
          when: sameTenant,
          fields: ['id', 'tenantId', 'userId', 'name', 'department', 'phone'],
        },
        {
          id: 'payroll-read',
          effect: 'allow',
          roles: ['payroll'],
          actions: ['read'],
          resources: ['employees/*'],
          when: sameTenant,
        },
        {
          id: 'own-phone',
          effect: 'allow',
          roles: ['staff'],
          actions: ['update'],
          resources: ['employees/*'],
          when: own,
          fields: ['phone'],
        },
        {
          id: 'no-tenant-crossing',
          effect: 'deny',
          roles: ['*'],
          actions: ['*'],
          resources: ['employees/*'],
          when: { not: sameTenant },
          reasonId: 'tenant_mismatch',
        },
        // A condition no query can express: list scopes for this action fail closed.
        {
          id: 'tagged',
          effect: 'allow',
          roles: ['payroll'],
          actions: ['audit'],
          resources: ['employees/*'],
          when: { attr: 'resource.tags', contains: 'audit' },
        },
      ],
    },
  ],
};

/** The claims of a signed-in user become subject attributes (`subject.tenantId`). */
export function principalFromClaims(claims: Record<string, unknown>) {
  return Object.freeze({
    id: claims.sub as string,
    roles: Object.freeze((claims.roles as string[]) ?? []),
    tenantId: claims.tenantId as string,
    type: 'user' as const,
    claims,
  });
}

/** An employee row as the policy sees it. */
export function employeeResource(row: Employee | null): AuthzResource | undefined {
  return row === null ? undefined : { ...row, type: 'employees', id: String(row.id) };
}

/** The row of an authorized resource (what the loader returned, without the policy's `type`). */
export function rowOf(resource: AuthzResource | undefined): Record<string, unknown> {
  const { type: _type, ...row } = resource ?? { type: '' };
  return { ...row, id: Number(row.id) };
}

export interface EmployeesDatabase {
  dataSource: DataSource;
  drop(): Promise<void>;
}

async function seed(options: DataSourceOptions): Promise<DataSource> {
  const ds = await new DataSource({
    ...options,
    entities: [EmployeeSchema],
    synchronize: true,
    logging: false,
  } as DataSourceOptions).initialize();
  await ds.getRepository(EmployeeSchema).save(EMPLOYEES);
  return ds;
}

export async function sqliteEmployees(): Promise<EmployeesDatabase> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bw-employees-'));
  const dataSource = await seed({
    type: 'better-sqlite3',
    database: path.join(dir, 'hr.sqlite'),
  } as DataSourceOptions);
  return {
    dataSource,
    async drop() {
      await dataSource.destroy();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function postgresEmployees(): Promise<EmployeesDatabase> {
  const schema = `bw_employees_${randomBytes(6).toString('hex')}`;
  const admin = await new DataSource({ type: 'postgres', url: SERVICE_URLS.postgres }).initialize();
  await admin.query(`CREATE SCHEMA "${schema}"`);
  const dataSource = await seed({
    type: 'postgres',
    url: SERVICE_URLS.postgres,
    schema,
  } as DataSourceOptions);
  return {
    dataSource,
    async drop() {
      await dataSource.destroy();
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await admin.destroy();
    },
  };
}
