import { Public } from '@bulwark/nestjs';
import { applyDecorators, createParamDecorator, SetMetadata, type ExecutionContext } from '@nestjs/common';

export const SKIP_AUTH = 'app:skip-auth';

/**
 * A route anyone may call (token optional). The app's own marker, read by its AuthGuard in mode
 * `before`; adopting Bulwark added `Public()`, read by Bulwark's guard in mode `after` (inert
 * metadata while BulwarkModule is not imported).
 */
export const SkipAuth = () => applyDecorators(SetMetadata(SKIP_AUTH, true), Public());

/**
 * The signed-in user's id, or undefined. Mode `before`: the app's guard sets `req.user` to the
 * token's claims (`id` a number). Mode `after`: Bulwark's guard sets `req.user` to its principal,
 * whose `id` is a string (principal mapping in src/adopt/bulwark-wiring.ts): both read as a number.
 */
export const CurrentUserId = createParamDecorator((_data: unknown, ctx: ExecutionContext) => {
  const user = ctx.switchToHttp().getRequest<{ user?: { id?: unknown } }>().user;
  const id = typeof user?.id === 'string' ? Number(user.id) : user?.id;
  return typeof id === 'number' && Number.isSafeInteger(id) ? id : undefined;
});
