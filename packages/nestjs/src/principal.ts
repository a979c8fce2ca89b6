import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { HttpPrincipal } from './core-http';

/**
 * Handler parameter decorator: the authenticated principal (`{ id, roles, type, claims }`), or
 * undefined on a @Public route called without a token.
 *
 * @example get(@Principal() me: HttpPrincipal) { ... }
 */
export const Principal = createParamDecorator(
  (_data: unknown, execution: ExecutionContext): HttpPrincipal | undefined =>
    execution.switchToHttp().getRequest<{ principal?: HttpPrincipal }>().principal,
);
