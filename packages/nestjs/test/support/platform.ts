import type { INestApplication, NestApplicationOptions } from '@nestjs/common';
import type { TestingModule } from '@nestjs/testing';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';

/**
 * The HTTP platforms the e2e suites run on: each suite is written once and run on
 * @nestjs/platform-express and @nestjs/platform-fastify with `describe.each(PLATFORMS)`.
 */
export type Platform = 'express' | 'fastify';

export const PLATFORMS: readonly [Platform, Platform] = ['express', 'fastify'];

/** Options for the Fastify adapter (ignored on Express), e.g. `{ bodyLimit: 200 }`. */
export type FastifyOptions = ConstructorParameters<typeof FastifyAdapter>[0];

/**
 * Creates the Nest application on `platform` (logger off) and initialises it; on Fastify also
 * waits until Fastify's plugins are loaded, so supertest can use `app.getHttpServer()` at once.
 */
export async function createApp(
  platform: Platform,
  moduleRef: TestingModule,
  appOptions: NestApplicationOptions = {},
  fastifyOptions?: FastifyOptions,
): Promise<INestApplication> {
  if (platform === 'express') {
    const app = moduleRef.createNestApplication({ logger: false, ...appOptions });
    await app.init();
    return app;
  }
  const app = moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter(fastifyOptions), {
    logger: false,
    ...appOptions,
  });
  await app.init();
  await app.getHttpAdapter().getInstance().ready();
  return app;
}

/**
 * Sets a response header from a controller that took `@Res({ passthrough: true })`: Express
 * hands it Node's ServerResponse (`setHeader`), Fastify its reply (`header`).
 */
export function setResponseHeader(res: unknown, name: string, value: string): void {
  const target = res as {
    setHeader?: (name: string, value: string) => unknown;
    header?: (name: string, value: string) => unknown;
  };
  if (typeof target.setHeader === 'function') target.setHeader(name, value);
  else if (typeof target.header === 'function') target.header(name, value);
  else throw new TypeError('setResponseHeader: not an Express response or a Fastify reply');
}
