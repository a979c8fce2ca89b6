import {
  Body,
  Controller,
  Get,
  Header,
  HttpCode,
  Inject,
  Post,
  Query,
  Redirect,
  Req,
  Res,
} from '@nestjs/common';
import { BulwarkHttpError, ErrorCodes } from '@bulwark/core';
import { safeRedirectPath } from '@bulwark/core/http';
import { Public } from './public';
import { clientIp } from './request-tracking';
import { SAML_SIGN_IN_OPTIONS, type SamlSignInOptions } from './saml-sign-in-options';
import { signInRequest } from './sign-in-request';

type RedirectTo = { url: string; statusCode: number };

/**
 * SAML 2.0 endpoints: `GET /auth/saml/metadata`, `GET /auth/saml/login?relayState=/path`,
 * `POST /auth/saml/acs`, `GET /auth/saml/logout`, `POST /auth/saml/logout` (see
 * @bulwark/express samlRouter). Refusals are BulwarkErrors (401 `ERR_SIGNIN_FAILED` as problem+json
 * through BulwarkExceptionFilter).
 */
@Public()
@Controller('auth/saml')
export class SamlSignInController {
  constructor(@Inject(SAML_SIGN_IN_OPTIONS) private readonly options: SamlSignInOptions) {}

  @Get('metadata')
  @Header('Content-Type', 'application/samlmetadata+xml')
  metadata(): string {
    return this.options.saml.metadata();
  }

  @Get('login')
  @Redirect()
  async login(@Query('relayState') relayState: unknown): Promise<RedirectTo> {
    return { url: await this.options.saml.loginUrl(safeRedirectPath(relayState)), statusCode: 302 };
  }

  @Post('acs')
  @HttpCode(303)
  @Redirect()
  async acs(
    @Body() body: unknown,
    @Req() req: Record<string, unknown>,
    @Res({ passthrough: true }) res: unknown,
  ): Promise<RedirectTo> {
    const result = await this.options.saml.acs(body, signInRequest(req, clientIp(req)));
    req.principal = result.principal;
    await this.options.onSignIn(result.principal, { req, res, session: result.session });
    return { url: safeRedirectPath(result.relayState), statusCode: 303 };
  }

  @Get('logout')
  @Redirect()
  async logout(
    @Req() req: unknown,
    @Res({ passthrough: true }) res: unknown,
    @Query('relayState') relayState: unknown,
  ): Promise<RedirectTo> {
    const session = this.options.sessionOf?.(req);
    if (session === undefined) return { url: '/', statusCode: 303 };
    const url = await this.options.saml.logoutUrl(session, safeRedirectPath(relayState));
    await this.options.onSignOut?.({ req, res });
    return { url, statusCode: 302 };
  }

  @Post('logout')
  @Redirect()
  async loggedOut(
    @Body() body: unknown,
    @Req() req: unknown,
    @Res({ passthrough: true }) res: unknown,
  ): Promise<RedirectTo> {
    if (typeof (body as { SAMLRequest?: unknown } | null)?.SAMLRequest === 'string') {
      if (this.options.onIdpLogout === undefined) {
        throw new BulwarkHttpError(ErrorCodes.HTTP_NOT_FOUND, 404, 'No resource at this URL.');
      }
      const { session, responseUrl } = await this.options.saml.logoutRequest(body);
      await this.options.onIdpLogout(session, { req, res });
      return { url: responseUrl, statusCode: 302 };
    }
    await this.options.saml.logoutResponse(body);
    await this.options.onSignOut?.({ req, res });
    const relayState = (typeof body === 'object' && body !== null ? body : {}) as { RelayState?: unknown };
    return { url: safeRedirectPath(relayState.RelayState), statusCode: 303 };
  }
}
