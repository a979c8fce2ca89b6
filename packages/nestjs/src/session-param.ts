import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { HttpSession } from '@bulwark/core';
import { nodeRequest } from './request-tracking';

/**
 * The request's Bulwark session (module option `sessions`) as a handler parameter:
 * `login(@Session() session: HttpSession) { await session.login({ id }) }`.
 */
export const Session = createParamDecorator(
  (_data: unknown, ctx: ExecutionContext): HttpSession | undefined =>
    nodeRequest(ctx.switchToHttp().getRequest<{ bulwarkSession?: HttpSession }>()).bulwarkSession,
);
