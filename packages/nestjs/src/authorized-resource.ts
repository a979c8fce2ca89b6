import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { AuthzResource } from '@bulwark/core';

/**
 * Handler parameter decorator: the resource `@Authorize` decided on (what its loader returned), so
 * the handler does not read the record a second time.
 *
 * @example get(@AuthorizedResource() note: Note) { return note; }
 */
export const AuthorizedResource = createParamDecorator(
  (_data: unknown, execution: ExecutionContext): AuthzResource | undefined =>
    execution.switchToHttp().getRequest<{ authorizedResource?: AuthzResource }>().authorizedResource,
);
