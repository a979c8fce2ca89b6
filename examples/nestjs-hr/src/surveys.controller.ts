import type { ConsentManager } from '@bulwark/core';
import {
  Audited,
  Authorize,
  BULWARK_CONSENT_MANAGER,
  Principal,
  RequireConsent,
  type HttpPrincipal,
} from '@bulwark/nestjs';
import { BadRequestException, Body, Controller, Get, Inject, Post, Req } from '@nestjs/common';
import { EmployeeDirectory } from './employee-directory';
import { wellbeingPurpose } from './hr-policy';
import { actorOf, type HrRequest } from './hr-request';

/** The wellbeing survey: answers only with a standing consent; HR sees aggregates only. */
@Controller('surveys/wellbeing')
export class SurveysController {
  constructor(
    @Inject(EmployeeDirectory) private readonly directory: EmployeeDirectory,
    @Inject(BULWARK_CONSENT_MANAGER) private readonly consent: ConsentManager,
  ) {}

  @Post()
  @Authorize('survey:submit', 'surveys')
  @RequireConsent(wellbeingPurpose.id)
  @Audited('survey.submit', { resource: 'surveys' })
  async submit(
    @Body() body: { score?: unknown; comment?: unknown },
    @Principal() me: HttpPrincipal,
    @Req() req: HrRequest,
  ) {
    const score = body?.score;
    if (!Number.isInteger(score) || (score as number) < 1 || (score as number) > 5) {
      throw new BadRequestException('score must be an integer from 1 to 5');
    }
    const comment = body?.comment;
    if (comment !== undefined && (typeof comment !== 'string' || comment.length > 2000)) {
      throw new BadRequestException('comment must be a string of at most 2000 characters');
    }
    const status = await this.consent.check(me.id, wellbeingPurpose.id);
    const saved = await this.directory.surveys.save(
      this.directory.surveys.create({
        employeeId: me.id,
        score: score as number,
        comment: comment ?? null,
        consentVersion: status.version ?? wellbeingPurpose.version,
      }),
      { data: { actor: actorOf(me, req) } },
    );
    return { id: saved.id, recorded: true };
  }

  @Get('summary')
  @Authorize('survey:summary', 'surveys')
  @Audited('survey.summary', { resource: 'surveys' })
  async summary() {
    const row = await this.directory.surveys
      .createQueryBuilder('s')
      .select('COUNT(*)', 'responses')
      .addSelect('AVG(s.score)', 'averageScore')
      .getRawOne<{ responses: string | number; averageScore: string | number | null }>();
    const responses = Number(row?.responses ?? 0);
    return {
      responses,
      averageScore: responses === 0 ? null : Math.round(Number(row!.averageScore) * 100) / 100,
    };
  }
}
