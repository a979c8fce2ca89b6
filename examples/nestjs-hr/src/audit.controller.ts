import type { AuditLog } from '@bulwark/core';
import { Audited, Authorize, BULWARK_AUDIT_LOG } from '@bulwark/nestjs';
import { BadRequestException, Controller, Get, Inject, Query } from '@nestjs/common';

/** HR's view of the audit trail: verify the hash chain, read entries about one employee. */
@Controller('audit')
export class AuditController {
  constructor(@Inject(BULWARK_AUDIT_LOG) private readonly log: AuditLog) {}

  @Get('verify')
  @Authorize('audit:verify', 'audit')
  @Audited('audit.verify', { resource: 'audit' })
  async verify() {
    const report = await this.log.verify();
    return {
      ok: report.ok,
      entries: report.treeSize,
      root: report.root,
      ...(report.firstBad ? { firstBad: report.firstBad } : {}),
    };
  }

  @Get('events')
  @Authorize('audit:read', 'audit')
  @Audited('audit.read', { resource: 'audit' })
  async events(@Query('resourceId') resourceId?: string, @Query('limit') limit?: string) {
    const n = limit === undefined ? 100 : Number(limit);
    if (!Number.isInteger(n) || n < 1 || n > 1000) throw new BadRequestException('limit must be 1 to 1000');
    if (resourceId !== undefined && !/^[A-Za-z0-9._-]{1,64}$/.test(resourceId)) {
      throw new BadRequestException('resourceId is not valid');
    }
    await this.log.flush();
    const page = await this.log.query({ ...(resourceId ? { resourceId } : {}), limit: n, order: 'desc' });
    return page.entries;
  }
}
