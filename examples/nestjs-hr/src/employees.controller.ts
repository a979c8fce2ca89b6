import { Audited, Authorize, Principal, type HttpPrincipal } from '@bulwark/nestjs';
import {
  Body,
  Controller,
  Get,
  Inject,
  NotFoundException,
  Param,
  Post,
  Put,
  Query,
  Req,
} from '@nestjs/common';
import { checkSalary, EmployeeDirectory, profileOf, type NewEmployee } from './employee-directory';
import { actorOf, employeeRef, employeeResource, type HrRequest } from './hr-request';

/**
 * Employee records. Every route needs a bearer token (BulwarkModule's global guard); each one
 * states what it does to which resource (@Authorize, decided by the HR policy) and leaves an
 * audit event (@Audited: actor, action, resource, outcome, including refusals).
 */
@Controller('employees')
export class EmployeesController {
  constructor(@Inject(EmployeeDirectory) private readonly directory: EmployeeDirectory) {}

  @Get()
  @Authorize('employee:list', 'employees')
  @Audited('employee.list', { resource: 'employees' })
  list(@Principal() me: HttpPrincipal) {
    return this.directory.visibleTo(me);
  }

  @Post()
  @Authorize('employee:create', 'employees')
  @Audited('employee.create', { resource: 'employees' })
  async create(@Body() body: NewEmployee, @Principal() me: HttpPrincipal, @Req() req: HrRequest) {
    return profileOf(await this.directory.create(body ?? {}, actorOf(me, req)));
  }

  /** Exact match on the national id's blind index: HR only. */
  @Get('search')
  @Authorize('employee:search', 'employees')
  @Audited('employee.search', { resource: 'employees' })
  async search(@Query('nationalId') nationalId: unknown) {
    return (await this.directory.findByNationalId(nationalId)).map(profileOf);
  }

  @Get(':id')
  @Authorize('employee:read', employeeResource)
  @Audited('employee.read', { resource: employeeRef })
  async read(@Param('id') id: string) {
    return profileOf(await this.found(id));
  }

  @Get(':id/salary')
  @Authorize('salary:read', employeeResource)
  @Audited('salary.read', { resource: employeeRef, category: 'hr' })
  async salary(@Param('id') id: string) {
    const employee = await this.found(id);
    return { id: employee.id, salary: employee.salary, currency: 'EUR' };
  }

  @Put(':id/salary')
  @Authorize('salary:update', employeeResource)
  @Audited('salary.update', { resource: employeeRef, category: 'hr' })
  async setSalary(
    @Param('id') id: string,
    @Body() body: { salary?: unknown },
    @Principal() me: HttpPrincipal,
    @Req() req: HrRequest,
  ) {
    const salary = checkSalary(body?.salary);
    const employee = await this.directory.setSalary(await this.found(id), salary, actorOf(me, req));
    return { id: employee.id, salary: employee.salary, currency: 'EUR' };
  }

  @Get(':id/national-id')
  @Authorize('national-id:read', employeeResource)
  @Audited('national-id.read', { resource: employeeRef, category: 'hr' })
  async nationalId(@Param('id') id: string) {
    const employee = await this.found(id);
    return { id: employee.id, nationalId: employee.nationalId };
  }

  private async found(id: string) {
    const employee = await this.directory.get(id);
    if (employee === null) throw new NotFoundException('No such employee.');
    return employee;
  }
}
