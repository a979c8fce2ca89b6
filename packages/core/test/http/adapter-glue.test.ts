import { Readable } from 'node:stream';
import { BulwarkConfigError, ErrorCodes } from '../../src/errors';
import { assembleBundleSteps } from '../../src/http/assemble-bundle-steps';
import { checkAuthorizeArgs, resolveAuthorization } from '../../src/http/http-resource-spec';
import type { HttpPrincipal } from '../../src/http/http-principal';
import { isPublicPath, kitService, planBulwarkBundle } from '../../src/http/plan-bulwark-bundle';
import { PrivacyEndpoint, type PrivacyEndpointRequest } from '../../src/http/privacy-endpoint';
import type { PrivacyApiResponse } from '../../src/http/privacy-api';
import { checkRequireConsent, consentCheckerFor } from '../../src/http/require-consent-check';
import { buildSecurityHeaders } from '../../src/http/security-header-options';

// The framework-free halves of the Express and Koa adapters: plain data in, plain decisions out.

function configError(fn: () => unknown): BulwarkConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(BulwarkConfigError);
    expect((err as BulwarkConfigError).code).toBe(ErrorCodes.CONFIG_INVALID);
    return err as BulwarkConfigError;
  }
  throw new Error('expected a BulwarkConfigError');
}

const tokens = { verify: async () => ({ payload: { sub: 'alice' } }) } as never;
const auditLog = { append: async () => undefined };
const authorizer = { check: async () => ({ allowed: true, reasonId: 'ok' }) } as never;
const caller: HttpPrincipal = { id: 'u1', roles: [], type: 'user', claims: {} };

describe('planBulwarkBundle', () => {
  it('orders the steps and turns audit / authenticate on with their kit service', () => {
    expect(planBulwarkBundle({}, {}).order).toEqual([
      'requestId',
      'problemDetails',
      'securityHeaders',
      'fetchMetadata',
      'inputGuard',
    ]);
    const plan = planBulwarkBundle(
      { tokens, auditLog },
      { csrf: { secret: 'x' }, authenticate: { publicPaths: ['/health', '/docs/*'] } },
    );
    expect(plan.order.join(' > ')).toBe(
      'requestId > problemDetails > securityHeaders > audit > fetchMetadata > inputGuard > authenticate > csrf',
    );
    expect(Object.isFrozen(plan.order)).toBe(true);
    expect(plan.audit?.log).toBe(auditLog);
    expect(plan.authenticate).toEqual({ options: { tokens }, publicPaths: ['/health', '/docs/*'] });
    expect(plan.csrfEvidence).toEqual({ enabled: true, method: 'signed-double-submit-cookie' });
    const off = planBulwarkBundle(
      { tokens, auditLog },
      { securityHeaders: false, inputGuard: false, audit: false, authenticate: false, fetchMetadata: false },
    );
    expect(off.order).toEqual(['requestId', 'problemDetails']);
    expect(off.csrfEvidence).toEqual({ enabled: false });
  });

  it('fails closed on bad kits and options, naming the path', () => {
    expect(configError(() => planBulwarkBundle(null as never, {})).details).toEqual({ path: 'kit' });
    expect(configError(() => planBulwarkBundle({}, { csrf: 'yes' as never })).message).toBe(
      'csrf must be an options object or false',
    );
    expect(configError(() => planBulwarkBundle({}, { audit: {} })).message).toBe(
      'audit needs kit.auditLog (an AuditLog)',
    );
    expect(configError(() => planBulwarkBundle({}, { authenticate: {} })).details).toEqual({
      path: 'kit.tokens',
    });
    expect(
      configError(() => planBulwarkBundle({ tokens }, { authenticate: { publicPaths: ['health'] } })).details,
    ).toEqual({ path: 'authenticate.publicPaths' });
  });

  it('matches public paths exactly or by /prefix/*, never by a look-alike prefix', () => {
    const paths = ['/health', '/docs/*'];
    for (const p of ['/health', '/docs', '/docs/', '/docs/a/b']) expect(isPublicPath(p, paths)).toBe(true);
    for (const p of ['/health/x', '/healthz', '/docsx', '/api/docs/a', '/']) {
      expect(isPublicPath(p, paths)).toBe(false);
    }
  });

  it('names the missing kit service of a route-level step', () => {
    expect(kitService({ authorizer }, 'authorizer')).toBe(authorizer);
    expect(configError(() => kitService({}, 'consent')).message).toBe(
      'requireConsent needs kit.consent (a ConsentManager)',
    );
    expect(configError(() => kitService({}, 'bruteForce')).details).toEqual({ path: 'kit.bruteForce' });
  });
});

describe('assembleBundleSteps', () => {
  it('makes the planned steps in plan order, wraps public paths and reports headers / close', async () => {
    const plan = planBulwarkBundle(
      { tokens, auditLog },
      { csrf: { secret: 'x' }, authenticate: { publicPaths: ['/health'] } },
    );
    const closed = jest.fn(async () => undefined);
    let skip: ((path: string) => boolean) | undefined;
    const built = assembleBundleSteps(plan, {
      requestId: () => 'requestId',
      securityHeaders: () => Object.assign('securityHeaders', { headers: { 'x-a': '1' } }),
      audit: (o) => Object.assign(`audit:${o.log === auditLog}`, { close: closed }),
      inputGuard: () => 'inputGuard',
      authenticate: (o) => `authenticate:${o.tokens === tokens}`,
      csrf: () => 'csrf',
      cors: () => 'cors',
      fetchMetadata: () => 'fetchMetadata',
      rateLimit: () => 'rateLimit',
      unless: (mw, s) => {
        skip = s;
        return `unless(${mw})`;
      },
    });
    expect(built.steps.map(String)).toEqual([
      'requestId',
      'securityHeaders',
      'audit:true',
      'fetchMetadata',
      'inputGuard',
      'unless(authenticate:true)',
      'csrf',
    ]);
    expect(skip?.('/health')).toBe(true);
    expect(skip?.('/api')).toBe(false);
    expect(built.headers).toEqual({ 'x-a': '1' });
    await built.close();
    expect(closed).toHaveBeenCalledTimes(1);
    const bare = assembleBundleSteps(
      planBulwarkBundle({}, { securityHeaders: false, fetchMetadata: false }),
      {
        requestId: () => 'requestId',
        inputGuard: () => 'inputGuard',
      } as never,
    );
    expect(bare.steps).toEqual(['requestId', 'inputGuard']);
    expect(bare.headers).toEqual({});
    await expect(bare.close()).resolves.toBeUndefined();
  });
});

describe('authorize arguments and resource resolution', () => {
  it('checks the arguments at start-up', () => {
    checkAuthorizeArgs('read', 'docs', undefined);
    expect(configError(() => checkAuthorizeArgs('', 'docs', undefined)).details).toEqual({
      path: 'authorize.action',
    });
    expect(configError(() => checkAuthorizeArgs('read', null, undefined)).details).toEqual({
      path: 'authorize.resource',
    });
    expect(configError(() => checkAuthorizeArgs('read', 'docs', {})).details).toEqual({
      path: 'authorize.authorizer',
    });
  });

  it('resolves the spec against the request, refusing traversal ids and a missing authorizer', async () => {
    const req = { id: 7 };
    const fromReq = (r: { id: unknown }) => ({ type: 'docs', id: r.id as string });
    await expect(resolveAuthorization(authorizer, 'docs', req, caller)).resolves.toEqual({
      authorizer,
      resource: { type: 'docs' },
      audited: { type: 'docs' },
    });
    expect((await resolveAuthorization(authorizer, fromReq, req, caller)).audited).toEqual({
      type: 'docs',
      id: '7',
    });
    await expect(resolveAuthorization(authorizer, fromReq, { id: '../../admin' }, caller)).rejects.toThrow();
    const spec = jest.fn(() => 'docs');
    await expect(resolveAuthorization(undefined, spec, req, caller)).rejects.toMatchObject({
      details: { path: 'authorize.authorizer' },
    });
    expect(spec).not.toHaveBeenCalled();
    // A loader's numeric id (an integer key) is the string the policy's `docs/7` rules name.
    const numeric = (r: { id: unknown }) => ({ type: 'docs', id: r.id }) as unknown as { type: string };
    expect((await resolveAuthorization(authorizer, numeric, req, caller)).resource).toEqual({
      type: 'docs',
      id: '7',
    });
  });

  it('answers an anonymous caller 401 before the loader runs', async () => {
    const loader = jest.fn(async () => ({ type: 'docs', id: '1' }));
    await expect(resolveAuthorization(authorizer, loader, {}, undefined)).rejects.toMatchObject({
      code: ErrorCodes.HTTP_AUTH_REQUIRED,
      status: 401,
    });
    expect(loader).not.toHaveBeenCalled();
  });

  it('awaits a loader; a loader that finds nothing is a 404 before any decision', async () => {
    const loader = async (r: { id: string }) =>
      r.id === '1' ? { type: 'docs', id: '1', ownerId: 'u1' } : undefined;
    await expect(resolveAuthorization(authorizer, loader, { id: '1' }, caller)).resolves.toMatchObject({
      resource: { type: 'docs', id: '1', ownerId: 'u1' },
    });
    await expect(resolveAuthorization(authorizer, loader, { id: '2' }, caller)).rejects.toMatchObject({
      code: 'ERR_HTTP_NOT_FOUND',
      status: 404,
    });
  });
});

describe('requireConsent options', () => {
  const consent = {
    purpose: (id: string) => {
      if (id !== 'marketing') throw new Error('unknown');
    },
    check: async () => ({ granted: true, state: 'granted', needsRenewal: false }),
  };

  it('checks the purpose against the ConsentManager when given, else only its shape', () => {
    checkRequireConsent('marketing', consent);
    checkRequireConsent('anything', undefined);
    expect(configError(() => checkRequireConsent('typo', consent)).details).toEqual({
      path: 'requireConsent.purpose',
    });
    expect(configError(() => checkRequireConsent('', undefined)).message).toBe(
      'requireConsent.purpose must be a purpose id',
    );
    expect(consentCheckerFor(consent)).toBe(consent);
    expect(configError(() => consentCheckerFor(undefined)).details).toEqual({
      path: 'requireConsent.consent',
    });
  });
});

describe('buildSecurityHeaders', () => {
  it('hands the merged options to the factory and captures the headers it sets', () => {
    const seen: unknown[] = [];
    const built = buildSecurityHeaders({ xFrameOptions: false }, (options) => {
      seen.push(options);
      return (_req: unknown, res: { setHeader(n: string, v: string): void }, next: () => void) => {
        res.setHeader('X-Test', 'on');
        next();
      };
    });
    expect(built.headers).toEqual({ 'x-test': 'on' });
    expect((seen[0] as Record<string, unknown>).xFrameOptions).toBe(false);
  });

  it('turns a factory error into a BulwarkConfigError and passes Bulwark config errors through', () => {
    const err = configError(() =>
      buildSecurityHeaders({}, () => {
        throw new Error('bad directive');
      }),
    );
    expect(err.message).toBe('securityHeaders: bad directive');
    expect(configError(() => buildSecurityHeaders({ nope: 1 }, () => () => undefined)).details).toEqual({
      path: 'securityHeaders.nope',
    });
  });
});

describe('PrivacyEndpoint', () => {
  const purposes = [{ id: 'marketing', name: 'M', version: 1 }];
  const consent = {
    purpose: () => purposes[0],
    check: async () => ({ granted: false, state: 'none', needsRenewal: false }),
    grant: async () => ({}),
    withdraw: async () => ({}),
    listPurposes: () => purposes,
  };

  function run(endpoint: PrivacyEndpoint, req: Partial<PrivacyEndpointRequest>) {
    const calls: { principal?: HttpPrincipal; out?: PrivacyApiResponse; error?: unknown } = {};
    const done = endpoint.serve(
      {
        method: 'GET',
        path: '/consents',
        route: '/privacy/consents',
        headers: {},
        stream: Readable.from([]),
        ...req,
      },
      {
        setPrincipal: (p) => {
          calls.principal = p;
        },
        respond: (out) => {
          calls.out = out;
        },
        fail: (error) => {
          calls.error = error;
        },
        auditFacts: () => ({ errorCode: calls.error !== undefined ? 'E' : undefined }),
      },
    );
    return done.then(() => calls);
  }

  it('needs an audit log', () => {
    expect(configError(() => new PrivacyEndpoint({ consent } as never)).details).toEqual({
      path: 'kit.auditLog',
    });
  });

  it('answers through the responder and audits every call, refused ones too', async () => {
    const events: { action: string; outcome: string }[] = [];
    const log = { append: async (e: never) => void events.push(e) };
    const endpoint = new PrivacyEndpoint({ consent, auditLog: log } as never);
    const alice = { id: 'alice', type: 'user' } as HttpPrincipal;
    const ok = await run(endpoint, { principal: alice });
    expect(ok.out?.status).toBe(200);
    expect(ok.principal).toBe(alice);
    const refused = await run(endpoint, {});
    expect(refused.out).toBeUndefined();
    expect(refused.error).toBeDefined();
    const hostile = await run(endpoint, { principal: alice, method: 'POST', body: { ['__proto__']: 1 } });
    expect(hostile.error).toBeDefined();
    await new Promise((r) => setImmediate(r));
    expect(events.map((e) => e.outcome)).toEqual(['success', 'denied', 'failure']);
  });
});
