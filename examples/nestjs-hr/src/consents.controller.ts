import type { ConsentManager } from '@bulwark/core';
import { BULWARK_CONSENT_MANAGER, clientIp, Principal, type HttpPrincipal } from '@bulwark/nestjs';
import { Controller, Delete, Get, HttpCode, Inject, Param, Post, Req } from '@nestjs/common';
import type { HrRequest } from './hr-request';

/**
 * The caller's own consents. Granting and withdrawing are equally easy (GDPR Art. 7(3)); the
 * ConsentManager records each change with its proof (text hash, time, ip) and audits it.
 */
@Controller('consents')
export class ConsentsController {
  constructor(@Inject(BULWARK_CONSENT_MANAGER) private readonly consent: ConsentManager) {}

  @Get()
  async list(@Principal() me: HttpPrincipal) {
    return Promise.all(
      this.consent.listPurposes().map(async (p) => {
        const status = await this.consent.check(me.id, p.id);
        const text = p.versions.find((v) => v.version === p.currentVersion)?.text;
        return { name: p.name, text, currentVersion: p.currentVersion, ...status };
      }),
    );
  }

  @Post(':purposeId')
  @HttpCode(201)
  grant(@Param('purposeId') purposeId: string, @Principal() me: HttpPrincipal, @Req() req: HrRequest) {
    return this.consent.grant(me.id, purposeId, this.proof(req));
  }

  @Delete(':purposeId')
  withdraw(@Param('purposeId') purposeId: string, @Principal() me: HttpPrincipal, @Req() req: HrRequest) {
    return this.consent.withdraw(me.id, purposeId, this.proof(req));
  }

  private proof(req: HrRequest) {
    const ua = req.headers['user-agent'];
    return {
      ...(clientIp(req) ? { ip: clientIp(req) } : {}),
      ...(typeof ua === 'string' ? { userAgent: ua.slice(0, 256) } : {}),
      source: 'api',
    };
  }
}
