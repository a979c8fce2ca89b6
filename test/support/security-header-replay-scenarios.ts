import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { securityHeaderOptions, type SecurityHeaderOptions } from '@bulwark/core/http';
import * as fc from 'fast-check';
import helmet, { type HelmetOptions } from 'helmet';

const alternative = (...values: unknown[]) =>
  fc.option(fc.constantFrom<unknown>(...values), { nil: undefined });
/** Any securityHeaders options (no functions): every header on, off, or set otherwise. */
export const securityHeaderOptionsArb: fc.Arbitrary<SecurityHeaderOptions> = fc
  .record({
    contentSecurityPolicy: fc.option(
      fc.oneof(
        fc.constant(false),
        fc.record({
          reportOnly: fc.boolean(),
          useDefaults: fc.boolean(),
          directives: fc.dictionary(
            fc.constantFrom('script-src', 'img-src', 'frame-ancestors', 'workerSrc', 'report-uri'),
            fc.constantFrom(["'self'"], ["'self'", 'https://cdn.example.test'], ["'none'"], ['/csp']),
            { maxKeys: 3 },
          ),
        }),
      ),
      { nil: undefined },
    ),
    crossOriginEmbedderPolicy: alternative(true, false, { policy: 'credentialless' }),
    crossOriginOpenerPolicy: alternative(false, { policy: 'same-origin-allow-popups' }),
    crossOriginResourcePolicy: alternative(false, { policy: 'cross-origin' }),
    originAgentCluster: alternative(false),
    referrerPolicy: alternative(false, { policy: ['origin', 'strict-origin-when-cross-origin'] }),
    strictTransportSecurity: alternative(false, { maxAge: 300, includeSubDomains: false, preload: false }),
    xContentTypeOptions: alternative(false),
    xDnsPrefetchControl: alternative(false, { allow: true }),
    xDownloadOptions: alternative(false),
    xFrameOptions: alternative(false, { action: 'sameorigin' }),
    xPermittedCrossDomainPolicies: alternative(false, { permittedPolicies: 'by-content-type' }),
    xPoweredBy: alternative(false),
    xXssProtection: alternative(false),
  })
  .map((o) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)));

/**
 * The securityHeaders step replays the header writes recorded from helmet once (issue 21) instead
 * of running helmet's chain per request. A response must end up exactly as helmet leaves it: the
 * same header names in the same order and spelling, the same values, X-Powered-By removed, for any
 * configuration; options with a function (a CSP nonce) keep helmet running per request. Shared by
 * the Express, Koa and NestJS suites: `build(options)` makes the adapter's `securityHeaders(options)` and
 * returns a function running it on one response.
 */
/** The header names as set (Node has it since 15.13; @types/node 20 does not declare it). */
const rawNames = (res: ServerResponse): string[] =>
  (res as ServerResponse & { getRawHeaderNames(): string[] }).getRawHeaderNames();

export function securityHeaderReplayScenarios(
  name: string,
  build: (options: SecurityHeaderOptions) => (req: IncomingMessage, res: ServerResponse) => void,
): void {
  const fresh = () => {
    const req = new IncomingMessage(new Socket());
    req.method = 'GET';
    req.url = '/';
    const res = new ServerResponse(req);
    // What a framework sets before the step runs (Express's X-Powered-By, helmet removes it).
    res.setHeader('X-Powered-By', 'Framework');
    res.setHeader('Content-Type', 'text/plain');
    return { req, res };
  };
  const viaHelmet = (options: SecurityHeaderOptions) => {
    const { req, res } = fresh();
    helmet(securityHeaderOptions(options) as HelmetOptions)(req, res, (err?: unknown) => {
      if (err) throw err;
    });
    return { names: rawNames(res), headers: res.getHeaders() };
  };
  const viaStep = (options: SecurityHeaderOptions, step = build(options)) => {
    const { req, res } = fresh();
    step(req, res);
    return { names: rawNames(res), headers: res.getHeaders() };
  };

  describe(`${name}: securityHeaders replays what helmet writes`, () => {
    it('leaves every response as helmet does (names, order, spelling, values), for any options', () => {
      expect(viaStep({})).toEqual(viaHelmet({}));
      expect(viaStep({}).names).not.toContain('X-Powered-By');
      fc.assert(
        fc.property(securityHeaderOptionsArb, (options) => {
          expect(viaStep(options)).toEqual(viaHelmet(options));
        }),
        { numRuns: 300 },
      );
    });

    it('runs helmet per request when an option is a function (a CSP nonce)', () => {
      let n = 0;
      const options = {
        contentSecurityPolicy: { directives: { 'script-src': ["'self'", () => `'nonce-n${++n}'`] } },
      };
      const step = build(options); // one step, two responses: each gets its own nonce
      const first = viaStep(options, step).headers['content-security-policy'];
      const second = viaStep(options, step).headers['content-security-policy'];
      expect(first).toContain("script-src 'self' 'nonce-n");
      expect(second).toContain("script-src 'self' 'nonce-n");
      expect(second).not.toEqual(first);
    });
  });
}
