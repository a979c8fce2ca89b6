import { randomBytes } from 'node:crypto';
import type { AuditActor } from '@bulwark/core';
import { findByBlindIndex } from '@bulwark/typeorm';
import { BadRequestException, ConflictException, Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { Employee, HR_ROLES, normaliseNationalId, type HrRole } from './entities/employee';
import { SurveyResponse } from './entities/survey-response';
import { HR_KIT, type HrKit } from './hr-kit';

/** What the directory shows about a colleague: no salary, no national id. */
export interface EmployeeProfile {
  id: string;
  name: string;
  role: HrRole;
  department: string;
  managerId: string | null;
}

export const profileOf = (e: Employee): EmployeeProfile => ({
  id: e.id,
  name: e.name,
  role: e.role,
  department: e.department,
  managerId: e.managerId,
});

export interface NewEmployee {
  name?: unknown;
  email?: unknown;
  password?: unknown;
  role?: unknown;
  department?: unknown;
  managerId?: unknown;
  nationalId?: unknown;
  salary?: unknown;
}

export const DEMO_EMPLOYEES = [
  {
    id: 'emp-1',
    name: 'Hana Admin',
    email: 'hana@hr.example',
    password: 'hana-demo-password',
    role: 'hr-admin',
    department: 'People',
    managerId: null,
    nationalId: 'AB 12 34 56 C',
    salary: 72000,
  },
  {
    id: 'emp-2',
    name: 'Max Manager',
    email: 'max@hr.example',
    password: 'max-demo-password',
    role: 'manager',
    department: 'Engineering',
    managerId: null,
    nationalId: 'CD 98 76 54 A',
    salary: 88000,
  },
  {
    id: 'emp-3',
    name: 'Eve Engineer',
    email: 'eve@hr.example',
    password: 'eve-demo-password',
    role: 'employee',
    department: 'Engineering',
    managerId: 'emp-2',
    nationalId: 'EF 11 22 33 B',
    salary: 64000,
  },
  {
    id: 'emp-4',
    name: 'Omar Operator',
    email: 'omar@hr.example',
    password: 'omar-demo-password',
    role: 'employee',
    department: 'Operations',
    managerId: 'emp-1',
    nationalId: 'GH 44 55 66 D',
    salary: 51000,
  },
] as const;

const text = (value: unknown, field: string, max: number): string => {
  if (typeof value !== 'string' || value.trim().length === 0 || value.length > max || /\p{Cc}/u.test(value)) {
    throw new BadRequestException(`${field} must be a non-empty string of at most ${max} characters`);
  }
  return value.trim();
};

export function checkSalary(value: unknown): number {
  if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > 10_000_000) {
    throw new BadRequestException('salary must be a whole number of euros from 0 to 10000000');
  }
  return value as number;
}

const NATIONAL_ID = /^[A-Z0-9]{6,20}$/;

/** The HR domain over TypeORM repositories; @bulwark/typeorm encrypts and decrypts underneath. */
@Injectable()
export class EmployeeDirectory {
  #dummyHash?: Promise<string>;

  constructor(
    @InjectRepository(Employee) readonly employees: Repository<Employee>,
    @InjectRepository(SurveyResponse) readonly surveys: Repository<SurveyResponse>,
    @Inject(HR_KIT) private readonly kit: HrKit,
  ) {}

  async seed(): Promise<void> {
    if ((await this.employees.count()) > 0) return;
    const actor: AuditActor = { id: 'seed', type: 'system' };
    for (const demo of DEMO_EMPLOYEES) {
      const { password, ...fields } = demo;
      const employee = this.employees.create({
        ...fields,
        passwordHash: await this.kit.passwords.hash(password),
      });
      await this.employees.save(employee, { data: { actor } });
    }
  }

  /** argon2id check; an unknown e-mail costs one verification too (no account enumeration by timing). */
  async authenticate(email: unknown, password: unknown): Promise<Employee | undefined> {
    if (
      typeof email !== 'string' ||
      typeof password !== 'string' ||
      email.length > 254 ||
      password.length > 1024
    ) {
      return undefined;
    }
    const employee = await this.findByEmail(email);
    if (employee === undefined) {
      this.#dummyHash ??= this.kit.passwords.hash(randomBytes(16).toString('hex'));
      await this.kit.passwords.verify(await this.#dummyHash, password);
      return undefined;
    }
    return (await this.kit.passwords.verify(employee.passwordHash, password)) ? employee : undefined;
  }

  get(id: string): Promise<Employee | null> {
    return this.employees.findOneBy({ id });
  }

  /** For authorization only: the manager of `id`, read without decrypting anything. */
  async managerOf(id: string): Promise<string | null> {
    const row = await this.employees
      .createQueryBuilder('e')
      .select('e.managerId', 'managerId')
      .where('e.id = :id', { id })
      .getRawOne<{ managerId: string | null }>();
    return row?.managerId ?? null;
  }

  /** Scoped by role: HR sees everyone, a manager their reports and themselves, others themselves. */
  async visibleTo(principal: { id: string; roles: readonly string[] }): Promise<EmployeeProfile[]> {
    const all = principal.roles.includes('hr-admin');
    const rows = all
      ? await this.employees.find({ order: { id: 'ASC' } })
      : principal.roles.includes('manager')
        ? await this.employees.find({
            where: [{ id: principal.id }, { managerId: principal.id }],
            order: { id: 'ASC' },
          })
        : await this.employees.find({ where: { id: principal.id } });
    return rows.map(profileOf);
  }

  async findByEmail(email: string): Promise<Employee | undefined> {
    const [found] = await findByBlindIndex(this.employees, 'emailIndex', email);
    return found;
  }

  /** Exact national-id lookup through the blind index (no plaintext in the database, no LIKE). */
  async findByNationalId(value: unknown): Promise<Employee[]> {
    const id = typeof value === 'string' ? normaliseNationalId(value) : '';
    if (!NATIONAL_ID.test(id)) throw new BadRequestException('nationalId must be 6 to 20 letters or digits');
    return findByBlindIndex(this.employees, 'nationalIdIndex', id);
  }

  async create(input: NewEmployee, actor: AuditActor): Promise<Employee> {
    const role = input.role ?? 'employee';
    if (!HR_ROLES.includes(role as HrRole))
      throw new BadRequestException(`role must be one of ${HR_ROLES.join(', ')}`);
    const email = text(input.email, 'email', 254);
    if (!/^[^@\s]+@[^@\s]+$/.test(email)) throw new BadRequestException('email must be an e-mail address');
    const password = text(input.password, 'password', 1024);
    if (password.length < 12) throw new BadRequestException('password must have at least 12 characters');
    const nationalId = normaliseNationalId(text(input.nationalId, 'nationalId', 40));
    if (!NATIONAL_ID.test(nationalId))
      throw new BadRequestException('nationalId must be 6 to 20 letters or digits');
    const managerId =
      input.managerId === undefined || input.managerId === null
        ? null
        : text(input.managerId, 'managerId', 40);
    if (managerId !== null && (await this.get(managerId)) === null)
      throw new BadRequestException('managerId is not an employee');
    if ((await this.findByNationalId(nationalId)).length > 0)
      throw new ConflictException('an employee with this national id exists');
    if ((await this.findByEmail(email)) !== undefined)
      throw new ConflictException('an employee with this e-mail exists');
    const employee = this.employees.create({
      id: `emp-${randomBytes(6).toString('hex')}`,
      name: text(input.name, 'name', 100),
      email,
      role: role as HrRole,
      department: text(input.department, 'department', 60),
      managerId,
      nationalId,
      salary: checkSalary(input.salary),
      passwordHash: await this.kit.passwords.hash(password),
    });
    return this.employees.save(employee, { data: { actor } });
  }

  async setSalary(employee: Employee, salary: number, actor: AuditActor): Promise<Employee> {
    employee.salary = salary;
    return this.employees.save(employee, { data: { actor } });
  }
}
