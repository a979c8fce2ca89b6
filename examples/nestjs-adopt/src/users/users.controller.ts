import { Audited } from '@bulwark/nestjs';
import { Body, Controller, Get, HttpCode, Inject, Param, Post, Put } from '@nestjs/common';
import { CurrentUserId, SkipAuth } from '../auth/auth.decorators';
import { UsersService } from './users.service';

/**
 * RealWorld-style user routes. `@Audited` (from @bulwark/nestjs) was added by the adoption on
 * the writes: registration, login and profile changes each leave a tamper-evident audit event
 * (actor, action, outcome, request id); while BulwarkModule is not imported it is inert metadata.
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

  @Get('user')
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
