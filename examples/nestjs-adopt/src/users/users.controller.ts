import { Audited, Authorize } from '@bulwark/nestjs';
import { Body, Controller, Get, HttpCode, Inject, Param, Post, Put } from '@nestjs/common';
import { CurrentUserId, SkipAuth } from '../auth/auth.decorators';
import { UsersService } from './users.service';

/**
 * RealWorld-style user routes. `@Audited` (from @bulwark/nestjs) was added by the adoption on
 * the writes (registration, login, profile changes) and on the read of one's own personal data
 * (`GET /user`, also behind `@Authorize`): each call leaves a tamper-evident audit event (actor,
 * action, outcome, request id). While BulwarkModule is not imported they are inert metadata.
 */
@Controller()
export class UsersController {
  constructor(@Inject(UsersService) private readonly users: UsersService) {}

  @Post('users')
  @SkipAuth()
  @Audited('user.register', { resource: 'users' })
  register(@Body() body: unknown) {
    return this.users.register(body);
  }

  @Post('users/login')
  @HttpCode(200)
  @SkipAuth()
  @Audited('user.login', { resource: 'users' })
  login(@Body() body: unknown) {
    return this.users.login(body);
  }

  /** The caller's own e-mail and bio: a read of personal data, audited after the adoption. */
  @Get('user')
  @Authorize('user:read', 'users')
  @Audited('user.read', { resource: 'users' })
  current(@CurrentUserId() id: number) {
    return this.users.current(id);
  }

  @Put('user')
  @Audited('user.update', { resource: 'users' })
  update(@CurrentUserId() id: number, @Body() body: unknown) {
    return this.users.update(id, body);
  }

  @Get('profiles/:username')
  @SkipAuth()
  profile(@Param('username') username: string) {
    return this.users.profile(username);
  }
}
