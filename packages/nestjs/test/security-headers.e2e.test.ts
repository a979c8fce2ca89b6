import 'reflect-metadata';
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { Controller, Get, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { securityHeaderOptions, type SecurityHeaderOptions } from '@bulwark/core/http';
import * as fc from 'fast-check';
import helmet, { type HelmetOptions } from 'helmet';
import { BulwarkModule, Public } from '../src';
import { securityHeaderOptionsArb } from '../../../test/support/security-header-replay-scenarios';
import { tokenService } from './support/fixtures';
import { PLATFORMS, createApp, type Platform } from './support/platform';

/**
 * BulwarkModule's security-header step replays the header writes recorded once from helmet
 * (helmet still runs per request when an option is a function, e.g. a CSP nonce). Over real HTTP,
 * on both of Nest's platforms, a response carries exactly the headers helmet sets for the same
 * options, in helmet's order, and none that helmet removes.
 */

@Controller('page')
@Public()
class PageController {
  @Get()
  page(): { ok: true } {
    return { ok: true };
  }
}

async function start(platform: Platform, securityHeaders: SecurityHeaderOptions) {
  @Module({
    imports: [BulwarkModule.forRoot({ tokens: tokenService(), securityHeaders })],
    controllers: [PageController],
  })
  class AppModule {}
  const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
  return createApp(platform, moduleRef);
}

/** What helmet does to a fresh response for `options`: the headers it sets, in order, and the ones it removes. */
function helmetWrites(options: SecurityHeaderOptions): { set: [string, string][]; removed: string[] } {
  const req = new IncomingMessage(new Socket());
  req.method = 'GET';
  req.url = '/';
  const res = new ServerResponse(req);
  const set: [string, string][] = [];
  const removed: string[] = [];
  const setHeader = res.setHeader.bind(res);
  res.setHeader = (name: string, value: string | number | readonly string[]) => {
    set.push([name.toLowerCase(), String(value)]);
    return setHeader(name, value);
  };
  res.removeHeader = (name: string) => void removed.push(name.toLowerCase());
  helmet(securityHeaderOptions(options) as HelmetOptions)(req, res, (err?: unknown) => {
    if (err) throw err;
  });
  return { set, removed };
}

/** The response's headers as received, in order (lower-cased names). */
function received(rawHeaders: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) out.push([rawHeaders[i]!.toLowerCase(), rawHeaders[i + 1]!]);
  return out;
}

async function expectHelmetHeaders(platform: Platform, options: SecurityHeaderOptions): Promise<void> {
  const expected = helmetWrites(options);
  const names = new Set(expected.set.map(([name]) => name));
  const app = await start(platform, options);
  try {
    // Two requests: every response gets the headers, not only the first.
    for (let i = 0; i < 2; i++) {
      const res = await request(app.getHttpServer()).get('/page').expect(200);
      // The raw headers as received (supertest keeps the Node response as `res`).
      const headers = received((res as unknown as { res: { rawHeaders: string[] } }).res.rawHeaders);
      expect(headers.filter(([name]) => names.has(name))).toEqual(expected.set);
      for (const name of expected.removed) expect(res.headers[name]).toBeUndefined();
    }
  } finally {
    await app.close();
  }
}

describe.each(PLATFORMS)('BulwarkModule security headers over HTTP (%s)', (platform) => {
  it.each<[string, SecurityHeaderOptions]>([
    ['the defaults', {}],
    ['one header overridden', { xFrameOptions: { action: 'sameorigin' } }],
    [
      'headers turned off',
      { contentSecurityPolicy: false, strictTransportSecurity: false, xPoweredBy: false },
    ],
    [
      'a report-only CSP',
      { contentSecurityPolicy: { reportOnly: true, directives: { 'report-uri': ['/csp'] } } },
    ],
  ])('sends what helmet sends, for %s', async (_label, options) => {
    await expectHelmetHeaders(platform, options);
  });

  it('sends what helmet sends, for any options', async () => {
    await fc.assert(
      fc.asyncProperty(securityHeaderOptionsArb, (options) => expectHelmetHeaders(platform, options)),
      { numRuns: 15 },
    );
  });

  it('runs helmet per request when an option is a function (a CSP nonce)', async () => {
    let n = 0;
    const app = await start(platform, {
      contentSecurityPolicy: { directives: { 'script-src': ["'self'", () => `'nonce-n${++n}'`] } },
    });
    try {
      const first = await request(app.getHttpServer()).get('/page').expect(200);
      const second = await request(app.getHttpServer()).get('/page').expect(200);
      // Each response gets its own nonce (the headers captured as evidence at start-up took one).
      expect(first.headers['content-security-policy']).toMatch(/script-src 'self' 'nonce-n\d+'/);
      expect(second.headers['content-security-policy']).toMatch(/script-src 'self' 'nonce-n\d+'/);
      expect(second.headers['content-security-policy']).not.toEqual(first.headers['content-security-policy']);
    } finally {
      await app.close();
    }
  });
});
