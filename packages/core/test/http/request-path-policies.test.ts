import { BulwarkConfigError, ErrorCodes } from '../../src/errors';
import { BodyAllowlist } from '../../src/http/body-allowlist';
import { BulwarkHttpError } from '../../src/http/bulwark-http-error';
import { CorsPolicy, mergeVary } from '../../src/http/cors-policy';
import { FetchMetadataPolicy } from '../../src/http/fetch-metadata-policy';
import { InputGuard } from '../../src/http/input-guard';
import { clearSiteDataValue, markPrivateResponse } from '../../src/http/private-responses';
import { RequestRateLimiter } from '../../src/http/request-rate-limiter';

// The framework-free decisions behind the ASVS request-path steps; the same behaviour over real
// HTTP is in test/support/asvs-http-contract.ts (Express, Koa) and the NestJS e2e suite.

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return (err as BulwarkHttpError).code;
  }
  return undefined;
}

describe('FetchMetadataPolicy (the web.dev resource isolation policy)', () => {
  const policy = new FetchMetadataPolicy({ allowCrossSite: ['/public/*'] });
  const check = (method: string, headers: Record<string, string>, path = '/api') =>
    codeOf(() => policy.check({ method, path, headers }));

  it.each([
    ['no Fetch Metadata (old browser, curl)', 'POST', {}],
    ['same-origin', 'POST', { 'sec-fetch-site': 'same-origin' }],
    ['same-site', 'POST', { 'sec-fetch-site': 'same-site' }],
    ['user-initiated (none)', 'GET', { 'sec-fetch-site': 'none', 'sec-fetch-mode': 'navigate' }],
    [
      'cross-site GET navigation',
      'GET',
      { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' },
    ],
  ])('allows %s', (_name, method, headers) => {
    expect(check(method, headers)).toBeUndefined();
  });

  it.each([
    ['cross-site fetch', 'POST', { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'cors' }],
    [
      'cross-site form POST navigation',
      'POST',
      { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate' },
    ],
    [
      'cross-site <script> include',
      'GET',
      { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'no-cors', 'sec-fetch-dest': 'script' },
    ],
    [
      'cross-site <object> navigation',
      'GET',
      { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'object' },
    ],
    ['an unknown site value', 'GET', { 'sec-fetch-site': 'same-origin-ish' }],
  ])('refuses %s', (_name, method, headers) => {
    expect(check(method, headers)).toBe(ErrorCodes.HTTP_CROSS_SITE_REFUSED);
  });

  it('allows the allow-listed paths and, with allowSameSite: false, refuses sibling subdomains', () => {
    expect(
      check('POST', { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'cors' }, '/public/widget'),
    ).toBeUndefined();
    const strict = new FetchMetadataPolicy({ allowSameSite: false });
    expect(
      codeOf(() => strict.check({ method: 'POST', path: '/', headers: { 'sec-fetch-site': 'same-site' } })),
    ).toBe(ErrorCodes.HTTP_CROSS_SITE_REFUSED);
    expect(() => new FetchMetadataPolicy({ allowCrossSite: ['hooks'] })).toThrow(BulwarkConfigError);
    expect(() => new FetchMetadataPolicy({ allowsameSite: true } as never)).toThrow(/is not a known option/);
  });
});

describe('CorsPolicy', () => {
  it("serves '*' without credentials and without Vary, and answers nothing to same-origin requests", () => {
    const open = new CorsPolicy({ origins: '*' });
    expect(open.decide({ method: 'GET', headers: { origin: 'https://a.example' } })).toEqual({
      headers: { 'access-control-allow-origin': '*' },
      vary: [],
      preflight: false,
    });
    const strict = new CorsPolicy({ origins: ['https://a.example'] });
    expect(strict.decide({ method: 'GET', headers: {} }).headers).toEqual({});
    // A repeated Origin header is malformed: no match.
    expect(strict.allows('')).toBe(false);
    expect(
      strict.decide({ method: 'GET', headers: { origin: ['https://a.example', 'https://a.example'] } })
        .headers,
    ).toEqual({});
  });

  it('merges Vary with what the response already says', () => {
    expect(mergeVary('Accept-Encoding', ['Origin'])).toBe('Accept-Encoding, Origin');
    expect(mergeVary('origin', ['Origin'])).toBe('origin');
    expect(mergeVary('*', ['Origin'])).toBe('*');
    expect(mergeVary(undefined, ['Origin', 'Access-Control-Request-Method'])).toBe(
      'Origin, Access-Control-Request-Method',
    );
  });
});

describe('BodyAllowlist', () => {
  it('lets a parent listed alone accept its whole subtree and refuses prototype keys in the list', () => {
    const list = new BodyAllowlist(['meta', 'meta.x', 'name']);
    expect(list.apply({ meta: { anything: { deep: 1 } } })).toEqual({ meta: { anything: { deep: 1 } } });
    expect(() => new BodyAllowlist(['constructor'])).toThrow(BulwarkConfigError);
    expect(() => new BodyAllowlist(['a..b'])).toThrow(BulwarkConfigError);
    expect(() => new BodyAllowlist(['a'], { unknown: 'ignore' as never })).toThrow(BulwarkConfigError);
  });

  it('names at most ten unknown fields, printable and capped', () => {
    const body = Object.fromEntries(
      Array.from({ length: 12 }, (_, i) => [`f${i}\u0000${'x'.repeat(100)}`, 1]),
    );
    let message = '';
    try {
      new BodyAllowlist(['name']).apply(body);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/and 2 more\.$/);
    expect(message).not.toContain('\u0000');
    expect(message).not.toContain('x'.repeat(65));
  });
});

describe('InputGuard rejectDuplicateParams', () => {
  it('is off by default and refuses repeats (not explicit arrays) when on', () => {
    expect(codeOf(() => new InputGuard().checkQueryString('a=1&a=2'))).toBeUndefined();
    const guard = new InputGuard({ rejectDuplicateParams: true });
    expect(codeOf(() => guard.checkQueryString('a=1&a=2'))).toBe(ErrorCodes.HTTP_DUPLICATE_PARAMETER);
    expect(codeOf(() => guard.checkQueryString('a[]=1&a[]=2&b=1'))).toBeUndefined();
    expect(guard.describe().rejectDuplicateParams).toBe(true);
  });
});

describe('private responses', () => {
  it('sets no-store only where no Cache-Control was chosen, and builds Clear-Site-Data values', () => {
    const headers = new Map<string, string>();
    const res = {
      getHeader: (n: string) => headers.get(n.toLowerCase()),
      setHeader: (n: string, v: string) => headers.set(n.toLowerCase(), v),
    };
    markPrivateResponse(res);
    expect(headers.get('cache-control')).toBe('no-store');
    headers.set('cache-control', 'private, max-age=5');
    markPrivateResponse(res);
    expect(headers.get('cache-control')).toBe('private, max-age=5');
    expect(clearSiteDataValue(['cookies'])).toBe('"cookies"');
    expect(() => clearSiteDataValue(['everything' as never])).toThrow(BulwarkConfigError);
  });
});

describe('RequestRateLimiter options', () => {
  it('refuses bad budgets and names at start-up', () => {
    expect(() => new RequestRateLimiter({ perUser: false, perIp: false })).toThrow(/needs perUser or perIp/);
    expect(() => new RequestRateLimiter({ perUser: { limit: 0, windowSec: 60 } })).toThrow(
      /rateLimit\.perUser\.limit/,
    );
    expect(() => new RequestRateLimiter({ name: 'Bad Name"' })).toThrow(/rateLimit\.name/);
    expect(() => new RequestRateLimiter({ redis: {} as never })).toThrow(/rateLimit\.redis/);
  });

  it('counts nothing for a request with neither a principal nor an address', async () => {
    const limiter = new RequestRateLimiter({ perUser: { limit: 1, windowSec: 60 }, perIp: false });
    for (let i = 0; i < 3; i++) await expect(limiter.consume({})).resolves.toBeDefined();
    await limiter.consume({ principal: { type: 'user', id: 'a' } });
    await expect(limiter.consume({ principal: { type: 'user', id: 'a' } })).rejects.toMatchObject({
      code: ErrorCodes.HTTP_RATE_LIMITED,
      status: 429,
    });
    // Another principal type with the same id is another subject.
    await expect(limiter.consume({ principal: { type: 'service', id: 'a' } })).resolves.toBeDefined();
  });

  it('in memory, decides without a promise: consumeNow gives what consume gives, and throws the same 429', async () => {
    const limiter = new RequestRateLimiter({ perUser: false, perIp: { limit: 2, windowSec: 60 } });
    const client = { ip: '203.0.113.9' };
    expect(limiter.consumeNow(client)).toEqual({
      headers: { 'ratelimit-policy': '"api-ip";q=2;w=60', ratelimit: '"api-ip";r=1;t=60' },
    });
    // consume() counts on the same windows.
    await expect(limiter.consume(client)).resolves.toEqual({
      headers: { 'ratelimit-policy': '"api-ip";q=2;w=60', ratelimit: '"api-ip";r=0;t=60' },
    });
    let refusal: unknown;
    try {
      limiter.consumeNow(client);
    } catch (err) {
      refusal = err;
    }
    expect(refusal).toMatchObject({
      code: ErrorCodes.HTTP_RATE_LIMITED,
      status: 429,
      details: { retryAfterSec: 60, headers: { ratelimit: '"api-ip";r=0;t=60' } },
    });
    await expect(limiter.consume(client)).rejects.toMatchObject({ code: ErrorCodes.HTTP_RATE_LIMITED });
    // Another address has its own window.
    expect(limiter.consumeNow({ ip: '203.0.113.10' })).toBeDefined();
  });

  it('starts a new window when the old one is over', () => {
    jest.useFakeTimers({ now: 1_000_000 });
    try {
      const limiter = new RequestRateLimiter({ perUser: false, perIp: { limit: 1, windowSec: 10 } });
      limiter.consumeNow({ ip: '198.51.100.1' });
      jest.setSystemTime(1_009_000);
      expect(() => limiter.consumeNow({ ip: '198.51.100.1' })).toThrow(/Too many requests/);
      jest.setSystemTime(1_010_000);
      expect(limiter.consumeNow({ ip: '198.51.100.1' })?.headers.ratelimit).toBe('"api-ip";r=0;t=10');
    } finally {
      jest.useRealTimers();
    }
  });

  it('with Redis, consumeNow counts nothing and leaves the decision to consume()', () => {
    const redis = { multi: () => undefined, status: 'ready' } as never;
    const limiter = new RequestRateLimiter({ redis, readyTimeoutMs: 0 });
    expect(limiter.consumeNow({ ip: '203.0.113.9' })).toBeUndefined();
  });
});
