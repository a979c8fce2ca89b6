import 'reflect-metadata';
import { Controller, Get, Module, Res, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { Response } from 'express';
import request from 'supertest';
import { AuditLog, type TokenService } from '@bulwark/core';
import { Audited, BulwarkModule, RequireConsent, type BulwarkModuleOptions } from '../src';
import { consentManager, policyEngine, tokenService } from './support/fixtures';
import { FlakyAuditStore, LEAKS, PATIENT } from '../../../test/support/flaky-audit-store';

// Issue 13 item 8: audit that cannot stop silently, on NestJS (platform-express) over HTTP with a
// real AuditLog on a store that fails like a full disk.

@Controller('patients')
class PatientsController {
  @Get('one')
  @Audited('patients.read', { category: 'phi' })
  one(@Res({ passthrough: true }) res: Response): typeof PATIENT {
    res.setHeader('X-Patient-Name', PATIENT.name);
    return PATIENT;
  }

  @Get('report-only')
  @Audited('patients.read', { category: 'phi', onFailure: 'report' })
  reportOnly(): typeof PATIENT {
    return PATIENT;
  }

  @Get('consented')
  @Audited('patients.offers')
  @RequireConsent('marketing')
  consented(): typeof PATIENT {
    return PATIENT;
  }

  @Get('hello')
  @Audited('hello.read')
  hello(): { hello: string } {
    return { hello: 'world' };
  }

  /** Whether the response's write methods are wrapped (the fail-closed hold) when the handler runs. */
  @Get('held')
  @Audited('patients.held', { category: 'phi' })
  held(@Res({ passthrough: true }) res: Response): { held: boolean } {
    return { held: Object.hasOwn(res, 'end') };
  }

  @Get('not-held')
  @Audited('hello.held')
  notHeld(@Res({ passthrough: true }) res: Response): { held: boolean } {
    return { held: Object.hasOwn(res, 'end') };
  }

  @Get('plain')
  plain(): { hello: string } {
    return { hello: 'world' };
  }
}

describe('BulwarkModule audit onFailure (NestJS over HTTP)', () => {
  let app: INestApplication;
  let tokens: TokenService;
  let store: FlakyAuditStore;
  let log: AuditLog;
  let reported: unknown[];
  let token: string;

  async function start(audit: BulwarkModuleOptions['audit'] = {}): Promise<void> {
    tokens = tokenService();
    store = new FlakyAuditStore();
    log = await AuditLog.open({ store, onWriteFailure: () => undefined });
    reported = [];
    const consent = await consentManager();
    await consent.grant('alice', 'marketing');
    @Module({
      imports: [
        BulwarkModule.forRoot({
          tokens,
          authorizer: policyEngine(),
          auditLog: log,
          consent,
          audit: { onError: (e) => reported.push(e), ...audit },
        }),
      ],
      controllers: [PatientsController],
    })
    class AppModule {}
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    token = await tokens.sign({ roles: ['reader'] }, { subject: 'alice' });
  }

  afterEach(async () => {
    store.failing = false;
    await app?.close();
    await log?.close();
  });

  const get = (path: string) =>
    request(app.getHttpServer()).get(path).set('Authorization', `Bearer ${token}`);

  it('stores a PHI read before the response is released', async () => {
    await start();
    let open!: () => void;
    store.gate = new Promise((r) => (open = r));
    const appended = new Promise<void>((r) => (store.onAppend = r));
    let received = false;
    const pending = get('/patients/one')
      .expect(200)
      .then((r) => {
        received = true;
        return r;
      });
    await appended;
    // Give a released response every chance to arrive before the gate opens.
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    expect(received).toBe(false);
    store.gate = undefined;
    open();
    const res = await pending;
    expect(res.body).toEqual(PATIENT);
    expect(store.rawEntries.filter((e) => e.action === 'patients.read')).toHaveLength(1);
  });

  it('answers 503 problem+json for a PHI read it cannot record, and leaks neither body nor headers', async () => {
    await start();
    store.failing = true;
    const res = await get('/patients/one').expect(503);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body).toMatchObject({
      status: 503,
      code: 'ERR_AUDIT_UNAVAILABLE',
      requestId: res.headers['x-request-id'],
    });
    expect(res.text).not.toMatch(LEAKS);
    expect(res.headers['x-patient-name']).toBeUndefined();
    expect(res.headers['x-content-type-options']).toBe('nosniff');
  });

  it('treats a @RequireConsent route as classified, serves a plain route and counts the losses', async () => {
    await start();
    await get('/patients/consented').expect(200);
    store.failing = true;
    const refused = await get('/patients/consented').expect(503);
    expect(refused.text).not.toMatch(LEAKS);
    await get('/patients/hello').expect(200, { hello: 'world' });
    await get('/patients/hello').expect(200, { hello: 'world' });
    for (let i = 0; i < 100 && log.describe().writes.failed < 3; i++)
      await new Promise((r) => setTimeout(r, 5));
    expect(log.describe().writes).toMatchObject({ failed: 3, failing: true });
    expect(reported).toHaveLength(1);
  });

  it("serves a classified route whose own policy is 'report'", async () => {
    await start();
    store.failing = true;
    const res = await get('/patients/report-only').expect(200);
    expect(res.body).toEqual(PATIENT);
  });

  it("fails every audited route closed with audit.onFailure 'fail-closed'", async () => {
    await start({ onFailure: 'fail-closed' });
    store.failing = true;
    const res = await get('/patients/hello').expect(503);
    expect(res.body.code).toBe('ERR_AUDIT_UNAVAILABLE');
  });

  it("wraps a response only when its route fails closed ('report' routes keep Node's own write path)", async () => {
    await start();
    await get('/patients/held').expect(200, { held: true });
    await get('/patients/not-held').expect(200, { held: false });
  });

  it('with audit.allRequests (audit started before the route is known) classified routes still fail closed', async () => {
    await start({ allRequests: true });
    await get('/patients/held').expect(200, { held: true });
    await get('/patients/not-held').expect(200, { held: false });
    store.failing = true;
    expect((await get('/patients/one').expect(503)).text).not.toMatch(LEAKS);
    expect((await get('/patients/consented').expect(503)).text).not.toMatch(LEAKS);
    await get('/patients/plain').expect(200, { hello: 'world' });
    await get('/patients/hello').expect(200, { hello: 'world' });
  });

  it('refuses a bad onFailure at class load', () => {
    expect(() => Audited('x.read', { onFailure: 'open' as never })).toThrow(/Audited\.onFailure/);
  });
});
