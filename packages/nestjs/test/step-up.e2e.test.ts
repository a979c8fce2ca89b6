import 'reflect-metadata';
import { Controller, Get, Module, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { Authorize, BulwarkModule, RequireRecentAuth, validateBulwarkOptions } from '../src';
import { STEP_UP_CASES, expectStepUpAnswer, stepUpKit } from '../../../test/support/step-up-scenarios';

@Controller()
class StepUpController {
  @Get('account/email')
  @RequireRecentAuth(300)
  recent(): { ok: true } {
    return { ok: true };
  }

  @Get('account/passkey-only')
  @RequireRecentAuth({ factors: ['webauthn'] })
  passkey(): { ok: true } {
    return { ok: true };
  }

  @Get('settings')
  @Authorize('read', 'settings')
  settings(): { ok: true } {
    return { ok: true };
  }

  @Get('prescriptions/sign')
  @Authorize('sign', 'prescriptions')
  sign(): { ok: true } {
    return { ok: true };
  }
}

describe('step-up over HTTP (NestJS: module mfaPolicy, @RequireRecentAuth)', () => {
  const kit = stepUpKit();
  let app: INestApplication;

  beforeAll(async () => {
    @Module({
      imports: [
        BulwarkModule.forRoot({ tokens: kit.tokens, authorizer: kit.authorizer, mfaPolicy: kit.mfaPolicy }),
      ],
      controllers: [StepUpController],
    })
    class AppModule {}
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
  });

  afterAll(async () => {
    await app.close();
  });

  it.each(STEP_UP_CASES)('$name', async (c) => {
    const token = await kit.token(c.roles, c.amr, c.agoSec);
    const res = await request(app.getHttpServer()).get(c.route).set('Authorization', `Bearer ${token}`);
    expectStepUpAnswer(c, res);
  });

  it('refuses a bad requirement at decoration time and a bad mfaPolicy at start-up', () => {
    expect(() => RequireRecentAuth(-5)).toThrow(/maxAgeSec/);
    expect(() => validateBulwarkOptions({ tokens: kit.tokens, mfaPolicy: {} as never })).toThrow(/mfaPolicy/);
  });
});
