import 'reflect-metadata';
import { Controller, Get, Injectable, Module, UseGuards, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { BulwarkConfigError, type TokenService } from '@bulwark/core';
import {
  Audited,
  Authorize,
  BULWARK_OPTIONS,
  BulwarkGuard,
  BulwarkModule,
  RequireConsent,
  type BulwarkModuleOptions,
} from '../src';
import { auditEntries, consentManager, memoryAuditLog, policyEngine, tokenService } from './support/fixtures';

/** An app's own configuration service, as ConfigService from @nestjs/config would be. */
@Injectable()
class AppConfig {
  readonly tokens: TokenService = tokenService();
  readonly realm = 'records-api';
}

@Module({ providers: [AppConfig], exports: [AppConfig] })
class AppConfigModule {}

@Controller('items')
class ItemsController {
  @Get()
  @Authorize('read', 'records')
  @Audited('items.list')
  list(): string[] {
    return ['a'];
  }
}

async function boot(imports: unknown[], controllers: unknown[]): Promise<INestApplication> {
  @Module({ imports: imports as never[], controllers: controllers as never[] })
  class AppModule {}
  const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  await app.init();
  return app;
}

async function bootError(imports: unknown[], controllers: unknown[]): Promise<BulwarkConfigError> {
  try {
    const app = await boot(imports, controllers);
    await app.close();
  } catch (error) {
    expect(error).toBeInstanceOf(BulwarkConfigError);
    return error as BulwarkConfigError;
  }
  throw new Error('the application booted');
}

describe('BulwarkModule.forRootAsync', () => {
  it('builds the options from an injected config service', async () => {
    const log = await memoryAuditLog();
    const authorizer = policyEngine();
    const app = await boot(
      [
        BulwarkModule.forRootAsync({
          imports: [AppConfigModule],
          inject: [AppConfig],
          useFactory: async (config: AppConfig): Promise<BulwarkModuleOptions> => ({
            tokens: config.tokens,
            authorizer,
            auditLog: log,
            authentication: { realm: config.realm },
          }),
        }),
      ],
      [ItemsController],
    );
    try {
      const config = app.get(AppConfig);
      expect(app.get<BulwarkModuleOptions>(BULWARK_OPTIONS).tokens).toBe(config.tokens);
      const token = await config.tokens.sign({ roles: ['reader'] }, { subject: 'alice' });
      await request(app.getHttpServer())
        .get('/items')
        .set('Authorization', `Bearer ${token}`)
        .expect(200, ['a']);
      const res = await request(app.getHttpServer()).get('/items').expect(401);
      // The realm came from the config service.
      expect(res.headers['www-authenticate']).toBe('Bearer realm="records-api"');
    } finally {
      await app.close(); // drains the queued audit events
    }
    const entries = await auditEntries(log, 2);
    expect(entries.map((e) => [e.action, e.outcome])).toEqual([
      ['items.list', 'success'],
      ['items.list', 'denied'],
    ]);
    await log.close();
  });

  it('rejects a factory result without a token service, naming the field', async () => {
    const error = await bootError(
      [BulwarkModule.forRootAsync({ useFactory: () => ({}) as BulwarkModuleOptions })],
      [],
    );
    expect(error.details).toMatchObject({ path: 'tokens' });
  });
});

describe('start-up checks', () => {
  it('fails the boot when @Authorize is used without an authorizer', async () => {
    const error = await bootError(
      [BulwarkModule.forRoot({ tokens: tokenService(), auditLog: await memoryAuditLog() })],
      [ItemsController],
    );
    expect(error.message).toMatch(/@Authorize on ItemsController\.list/);
  });

  it('fails the boot when @Audited is used without an audit log', async () => {
    const error = await bootError(
      [BulwarkModule.forRoot({ tokens: tokenService(), authorizer: policyEngine() })],
      [ItemsController],
    );
    expect(error.message).toMatch(/@Audited on ItemsController\.list/);
  });

  it('fails the boot on a @RequireConsent purpose the ConsentManager does not know', async () => {
    @Controller('news')
    class NewsController {
      @Get()
      @RequireConsent('newsletter')
      get(): string {
        return 'news';
      }
    }
    const error = await bootError(
      [BulwarkModule.forRoot({ tokens: tokenService(), consent: await consentManager() })],
      [NewsController],
    );
    expect(error.message).toMatch(/newsletter is not a registered purpose/);
  });

  it('rejects bad decorator arguments when the class is defined', () => {
    expect(() => Audited('records read')).toThrow(BulwarkConfigError);
    expect(() => Authorize('', 'records')).toThrow(BulwarkConfigError);
    expect(() => Authorize('read', { type: '' })).toThrow(BulwarkConfigError);
    expect(() => RequireConsent()).toThrow(BulwarkConfigError);
  });

  it('rejects a realm that would break out of the WWW-Authenticate header', async () => {
    const error = await bootError(
      [BulwarkModule.forRoot({ tokens: tokenService(), authentication: { realm: 'x", error="none' } })],
      [],
    );
    expect(error.details).toMatchObject({ path: 'authentication.realm' });
  });
});

describe('scoped registration (globalEnhancers: false)', () => {
  it('protects only the controllers that apply BulwarkGuard themselves', async () => {
    @Controller('guarded')
    @UseGuards(BulwarkGuard)
    class GuardedController {
      @Get()
      get(): string {
        return 'guarded';
      }
    }
    @Controller('open')
    class OpenController {
      @Get()
      get(): string {
        return 'open';
      }
    }
    const app = await boot(
      [BulwarkModule.forRoot({ tokens: tokenService(), global: false, globalEnhancers: false })],
      [GuardedController, OpenController],
    );
    try {
      await request(app.getHttpServer()).get('/open').expect(200);
      await request(app.getHttpServer()).get('/guarded').expect(401);
    } finally {
      await app.close();
    }
  });
});

describe('audit never sits on the response path', () => {
  @Controller('ping')
  class PingController {
    @Get()
    @Audited('ping')
    ping(): string {
      return 'pong';
    }

    @Get('plain')
    plain(): string {
      return 'plain';
    }
  }

  it('answers while the audit store is still writing, and when it fails', async () => {
    const held: (() => void)[] = [];
    const errors: unknown[] = [];
    let fail = false;
    const slowLog = {
      append: () =>
        fail
          ? Promise.reject(new Error('disk full'))
          : new Promise<void>((resolve) => held.push(() => resolve())),
    };
    const tokens = tokenService();
    const app = await boot(
      [BulwarkModule.forRoot({ tokens, auditLog: slowLog, audit: { onError: (e) => errors.push(e) } })],
      [PingController],
    );
    const token = await tokens.sign({}, { subject: 'alice' });
    try {
      await request(app.getHttpServer())
        .get('/ping')
        .set('Authorization', `Bearer ${token}`)
        .expect(200, 'pong');
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(held).toHaveLength(1); // the event is queued, the response already went out
      fail = true;
      await request(app.getHttpServer())
        .get('/ping')
        .set('Authorization', `Bearer ${token}`)
        .expect(200, 'pong');
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(errors).toHaveLength(1);
    } finally {
      held.forEach((release) => release());
      await app.close();
    }
  });

  it('audit.allRequests also records routes without @Audited', async () => {
    const log = await memoryAuditLog();
    const tokens = tokenService();
    const app = await boot(
      [BulwarkModule.forRoot({ tokens, auditLog: log, audit: { allRequests: true, category: 'access' } })],
      [PingController],
    );
    try {
      await request(app.getHttpServer()).get('/ping/plain').expect(401);
    } finally {
      await app.close();
    }
    const [entry] = await auditEntries(log, 1);
    expect(entry).toMatchObject({
      action: 'http.get',
      outcome: 'denied',
      category: 'access',
      details: { route: '/ping/plain', status: 401 },
    });
    await log.close();
  });
});
