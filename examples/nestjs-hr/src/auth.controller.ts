import { lockedOut } from '@bulwark/core/http';
import { clientIp, Public } from '@bulwark/nestjs';
import { Body, Controller, HttpCode, Inject, Post, Req, UnauthorizedException } from '@nestjs/common';
import { EmployeeDirectory } from './employee-directory';
import { HR_KIT, type HrKit } from './hr-kit';
import type { HrRequest } from './hr-request';

export const TOKEN_TTL_SEC = 3600;

/** Login: argon2id password check, brute-force lockout per IP and account, a short-lived JWT. */
@Controller('auth')
@Public()
export class AuthController {
  constructor(
    @Inject(EmployeeDirectory) private readonly directory: EmployeeDirectory,
    @Inject(HR_KIT) private readonly kit: HrKit,
  ) {}

  @Post('login')
  @HttpCode(200)
  async login(@Body() body: { email?: unknown; password?: unknown }, @Req() req: HrRequest) {
    const guard = this.kit.bruteForce!;
    const attempt = {
      ...(clientIp(req) ? { ip: clientIp(req) } : {}),
      ...(typeof body?.email === 'string' ? { account: body.email.slice(0, 254) } : {}),
    };
    // Reserved before the password check, so concurrent guesses cannot outrun the limits.
    const gate = await guard.reserve(attempt);
    if (!gate.allowed) {
      throw lockedOut(gate);
    }
    const { reservation } = gate;
    let employee: Awaited<ReturnType<EmployeeDirectory['authenticate']>>;
    try {
      employee = await this.directory.authenticate(body?.email, body?.password);
      await this.kit.auditLog!.append({
        actor: {
          id: employee?.id ?? 'anonymous',
          type: 'user',
          ...(clientIp(req) ? { ip: clientIp(req) } : {}),
        },
        action: 'auth.login',
        outcome: employee ? 'success' : 'failure',
        category: 'security',
      });
    } catch (error) {
      // The password may have been checked: the attempt stays counted.
      await reservation.fail();
      throw error;
    }
    if (employee === undefined) {
      await reservation.fail();
      throw new UnauthorizedException('Wrong e-mail or password.');
    }
    await reservation.succeed();
    const token = await this.kit.tokens!.sign(
      { roles: [employee.role] },
      { subject: employee.id, ttlSec: TOKEN_TTL_SEC },
    );
    return {
      token,
      tokenType: 'Bearer',
      expiresIn: TOKEN_TTL_SEC,
      employeeId: employee.id,
      role: employee.role,
    };
  }
}
