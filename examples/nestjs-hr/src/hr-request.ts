import type { AuditActor } from '@bulwark/core';
import { clientIp, type BulwarkRequestContext, type HttpPrincipal } from '@bulwark/nestjs';
import type { EmployeeDirectory } from './employee-directory';

/** The Express request as the HR app sees it: HrModule's middleware attaches the directory. */
export interface HrRequest {
  hrDirectory: EmployeeDirectory;
  ip?: string;
  headers: Record<string, string | string[] | undefined>;
}

/**
 * `@Authorize` resource of `/employees/:id...` routes: the id from the URL plus the attribute the
 * policy's manager rule needs (`resource.managerId`), looked up before the decision. An unknown
 * id has no manager, so only HR (and nobody else) gets past the guard, to a 404.
 */
export async function employeeResource(r: BulwarkRequestContext) {
  const id = String(r.params.id);
  const directory = r.execution.switchToHttp().getRequest<HrRequest>().hrDirectory;
  return { type: 'employees', id, managerId: (await directory.managerOf(id)) ?? '' };
}

/** The audited resource: the id alone, no lookup. */
export const employeeRef = (r: BulwarkRequestContext) => ({ type: 'employees', id: String(r.params.id) });

/** Who the entity audit subscriber records as having made a change. */
export function actorOf(principal: HttpPrincipal, request: HrRequest): AuditActor {
  const ua = request.headers['user-agent'];
  return {
    id: principal.id,
    type: 'user',
    ...(clientIp(request) ? { ip: clientIp(request) } : {}),
    ...(typeof ua === 'string' ? { userAgent: ua.slice(0, 256) } : {}),
  };
}
