import {
  Inject,
  Injectable,
  UnauthorizedException,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AppTokens } from './app-tokens';
import { SKIP_AUTH } from './auth.decorators';

/**
 * The app's own authentication (mode `before` only): `Authorization: Token <jwt>` verified with
 * its secret; `req.user` = the claims. Replaced by Bulwark's guard in mode `after`.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    @Inject(Reflector) private readonly reflector: Reflector,
    @Inject(AppTokens) private readonly tokens: AppTokens,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const req = ctx.switchToHttp().getRequest<{ headers: Record<string, unknown>; user?: unknown }>();
    const skip = this.reflector.getAllAndOverride<boolean>(SKIP_AUTH, [ctx.getHandler(), ctx.getClass()]);
    const header = req.headers.authorization;
    const match = typeof header === 'string' ? /^Token ([A-Za-z0-9._~+/-]+=*)$/.exec(header) : null;
    if (match === null) {
      if (skip) return true;
      throw new UnauthorizedException();
    }
    const claims = await this.tokens.verify(match[1]!);
    if (claims === undefined) throw new UnauthorizedException();
    req.user = claims;
    return true;
  }
}
