import { Body, Controller, HttpCode, Inject, Post, Req, Res } from '@nestjs/common';
import type { HttpPrincipal } from './core-http';
import { LDAP_SIGN_IN_OPTIONS, type LdapSignInOptions } from './ldap-sign-in-options';
import { Public } from './public';
import { clientIp } from './request-tracking';
import { signInRequest } from './sign-in-request';

/**
 * `POST /auth/ldap/login` with `{ username, password }`: the directory checks the credentials and
 * the app's `onSignIn` issues its session or token; its return value is the 200 body (default
 * `{ id, roles }`). Refusals are BulwarkErrors that BulwarkExceptionFilter answers as
 * problem+json (401 `ERR_SIGNIN_FAILED`, 429 while locked out, 503 when the directory is down).
 */
@Public()
@Controller('auth/ldap')
export class LdapSignInController {
  constructor(@Inject(LDAP_SIGN_IN_OPTIONS) private readonly options: LdapSignInOptions) {}

  @Post('login')
  @HttpCode(200)
  async login(
    @Body() body: unknown,
    @Req() req: Record<string, unknown>,
    @Res({ passthrough: true }) res: unknown,
  ): Promise<unknown> {
    const fields = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
    const principal: HttpPrincipal = await this.options.ldap.authenticate(
      {
        username: typeof fields.username === 'string' ? fields.username : '',
        password: typeof fields.password === 'string' ? fields.password : '',
      },
      signInRequest(req, clientIp(req)),
    );
    req.principal = principal;
    const answer = await this.options.onSignIn(principal, { req, res });
    return answer ?? { id: principal.id, roles: principal.roles };
  }
}
