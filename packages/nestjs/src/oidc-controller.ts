import { Controller, Get, Inject, Post, Req, Res, type Type } from '@nestjs/common';
import { BulwarkOidcRoutes } from './oidc-routes';
import { Public } from './public';
import type { PlatformRequest, PlatformResponse } from './request-tracking';

/**
 * The OIDC controller mounted at `path`: `GET login`, `GET callback`, `POST logout` and `POST
 * backchannel-logout`, public (no bearer token: they are how a user gets a session).
 */
export function oidcController(path: string): Type<unknown> {
  @Public()
  @Controller(path)
  class BulwarkOidcController {
    constructor(@Inject(BulwarkOidcRoutes) private readonly routes: BulwarkOidcRoutes) {}

    @Get('login')
    login(@Req() req: PlatformRequest, @Res() res: PlatformResponse): Promise<void> {
      return this.routes.serve('/login', req, res);
    }

    @Get('callback')
    callback(@Req() req: PlatformRequest, @Res() res: PlatformResponse): Promise<void> {
      return this.routes.serve('/callback', req, res);
    }

    @Post('logout')
    logout(@Req() req: PlatformRequest, @Res() res: PlatformResponse): Promise<void> {
      return this.routes.serve('/logout', req, res);
    }

    @Post('backchannel-logout')
    backchannelLogout(@Req() req: PlatformRequest, @Res() res: PlatformResponse): Promise<void> {
      return this.routes.serve('/backchannel-logout', req, res);
    }
  }
  return BulwarkOidcController;
}
