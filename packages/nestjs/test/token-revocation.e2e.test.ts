/**
 * Token revocation on NestJS over real HTTP (ASVS 5.0 V7.4.1-V7.4.3): BulwarkModule's `revocation`
 * option makes the guard refuse a revoked token, cached verification or not; two application
 * instances sharing Redis refuse a token revoked on the other on their next request.
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { Module, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import Redis from 'ioredis';
import request from 'supertest';
import {
  ErrorCodes,
  MemoryRevocationStore,
  RedisRevocationStore,
  TokenRevocation,
  type RevocationStore,
  type TokenService,
} from '@bulwark/core';
import { BulwarkModule } from '../src';
import { validateBulwarkOptions } from '../src/bulwark-module-options';
import { describeWithService, SERVICE_URLS } from '../../../test/support/services';
import { MeController, tokenService } from './support/fixtures';

const apps: INestApplication[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
});

async function start(tokens: TokenService, store: RevocationStore) {
  const revocation = new TokenRevocation({ store, tokens });
  @Module({
    imports: [BulwarkModule.forRoot({ tokens, revocation })],
    controllers: [MeController],
  })
  class AppModule {}
  const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  await app.init();
  apps.push(app);
  return { server: app.getHttpServer(), revocation };
}

const me = (server: unknown, token: string) =>
  request(server as Parameters<typeof request>[0])
    .get('/me')
    .set('Authorization', `Bearer ${token}`);

function expectRefused(res: request.Response): void {
  expect(res.status).toBe(401);
  expect(res.body.code).toBe(ErrorCodes.TOKEN_INVALID);
}

describe('token revocation on NestJS', () => {
  it('refuses a revoked token although the guard cached its verification', async () => {
    const tokens = tokenService();
    const { server, revocation } = await start(tokens, new MemoryRevocationStore());
    const token = await tokens.sign({ roles: ['reader'] }, { subject: 'alice' });
    const other = await tokens.sign({ roles: ['reader'] }, { subject: 'alice' });
    expect((await me(server, token)).status).toBe(200);
    await revocation.revoke(token);
    expectRefused(await me(server, token));
    expect((await me(server, other)).status).toBe(200);
    await revocation.revokeAllFor('alice');
    expectRefused(await me(server, other));
  });

  it('refuses a non-function revocation option at start-up', () => {
    expect(() => validateBulwarkOptions({ tokens: tokenService(), revocation: {} as never })).toThrow(
      /BulwarkModule: revocation must be a TokenRevocation/,
    );
  });
});

describeWithService('redis', 'token revocation on NestJS across two instances sharing Redis', () => {
  const clients: Redis[] = [];
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.quit()));
  });

  it('revoked on one instance, refused by the other on its next request', async () => {
    const keyPrefix = `bw-test:nest-revocation:${randomBytes(6).toString('hex')}:`;
    const store = () => {
      const client = new Redis(SERVICE_URLS.redis);
      clients.push(client);
      return new RedisRevocationStore({ client, keyPrefix });
    };
    const tokens = tokenService();
    const one = await start(tokens, store());
    const two = await start(tokens, store());
    const token = await tokens.sign({}, { subject: 'alice' });
    expect((await me(two.server, token)).status).toBe(200);
    await one.revocation.revoke(token);
    expectRefused(await me(two.server, token));
  });
});
