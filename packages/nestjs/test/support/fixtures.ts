import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  NotFoundException,
  Param,
  ParseIntPipe,
  Post,
  ServiceUnavailableException,
  BadRequestException,
} from '@nestjs/common';
import { AuditLog, MemoryAuditStore, PolicyEngine, TokenService, type AuditEntry } from '@bulwark/core';
// TEMPORARY: ConsentManager is not yet exported from @bulwark/core's index.
import { ConsentManager } from '@bulwark/core';
import { Audited, Authorize, Principal, Public, RequireConsent, type HttpPrincipal } from '../../src';

export const ISSUER = 'https://id.bulwark.test';
export const AUDIENCE = 'records-api';
export const SECRET = randomBytes(32);

export function tokenService(
  overrides: Partial<ConstructorParameters<typeof TokenService>[0]> = {},
): TokenService {
  return new TokenService({
    algorithms: ['HS256'],
    signingKey: { key: SECRET },
    issuer: ISSUER,
    audience: AUDIENCE,
    ...overrides,
  });
}

/** Readers read records; editors also create; nobody reads the locked record (a hard deny). */
export function policyEngine(): PolicyEngine {
  return new PolicyEngine({
    policy: {
      version: 1,
      roles: { reader: {}, editor: { inherits: ['reader'] } },
      policies: [
        {
          id: 'records',
          rules: [
            {
              id: 'read-any',
              effect: 'allow',
              roles: ['reader'],
              actions: ['read'],
              resources: ['records', 'records/*'],
            },
            { id: 'create', effect: 'allow', roles: ['editor'], actions: ['create'], resources: ['records'] },
            {
              id: 'locked',
              effect: 'deny',
              roles: ['*'],
              actions: ['*'],
              resources: ['records/locked'],
              reasonId: 'record_locked',
            },
          ],
        },
      ],
    },
  });
}

export async function consentManager(): Promise<ConsentManager> {
  const consent = new ConsentManager();
  consent.registerPurpose({
    id: 'marketing',
    name: 'Marketing e-mails',
    version: 1,
    text: 'We may e-mail offers.',
  });
  return consent;
}

export async function memoryAuditLog(): Promise<AuditLog> {
  return AuditLog.open({ store: new MemoryAuditStore() });
}

/** Audit events are queued when a response closes; wait until `count` are stored. */
export async function auditEntries(log: AuditLog, count: number): Promise<AuditEntry[]> {
  for (let i = 0; i < 200; i++) {
    await log.flush();
    const page = await log.query({ limit: 1000 });
    if (page.entries.length >= count) return page.entries;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(
    `expected ${count} audit entries, got ${(await log.query({ limit: 1000 })).entries.length}`,
  );
}

const recordOf = (r: { params: Readonly<Record<string, string>> }) => ({ type: 'records', id: r.params.id });

@Controller('records')
@Authorize('read', 'records')
@Audited('records.access', { resource: 'records' })
export class RecordsController {
  /** Class-level @Authorize / @Audited apply. */
  @Get()
  list(@Principal() me: HttpPrincipal): { by: string } {
    return { by: me.id };
  }

  /** Method-level metadata overrides the class's. */
  @Get(':id')
  @Authorize('read', recordOf)
  @Audited('records.read', { resource: recordOf })
  read(@Param('id') id: string, @Principal() me: HttpPrincipal): { id: string; by: string } {
    if (id === 'boom') throw new Error('connection to db://admin:hunter2@10.0.0.5 refused');
    if (id === 'missing') throw new NotFoundException('No record with this id.');
    if (id === 'down') throw new ServiceUnavailableException('replica lag on db-7');
    return { id, by: me.id };
  }

  @Post()
  @HttpCode(201)
  @Authorize('create', 'records')
  @Audited('records.create', { resource: 'records' })
  create(@Body() body: { title?: unknown }): { title: unknown } {
    if (typeof body?.title !== 'string')
      throw new BadRequestException(['title must be a string', 'title is required']);
    return { title: body.title };
  }

  @Delete(':id')
  @Authorize('delete', recordOf)
  remove(): void {}

  @Get('n/:n')
  @Authorize('read', 'records')
  number(@Param('n', ParseIntPipe) n: number): { n: number } {
    return { n };
  }
}

@Controller('public')
@Public()
export class PublicController {
  @Get()
  hello(@Principal() me: HttpPrincipal | undefined): { hello: string } {
    return { hello: me?.id ?? 'anonymous' };
  }

  /** @Public(false) on the method re-protects it. */
  @Get('private')
  @Public(false)
  private(@Principal() me: HttpPrincipal): { me: string } {
    return { me: me.id };
  }
}

@Controller('offers')
export class OffersController {
  @Get()
  @RequireConsent('marketing')
  offers(): { offers: string[] } {
    return { offers: ['10% off'] };
  }
}

@Controller('me')
export class MeController {
  /** Authenticated only: no @Authorize. */
  @Get()
  me(@Principal() me: HttpPrincipal): { id: string; roles: readonly string[] } {
    return { id: me.id, roles: me.roles };
  }
}
