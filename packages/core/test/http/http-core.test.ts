import fc from 'fast-check';
import { BulwarkConfigError, BulwarkError, BulwarkTokenError, ErrorCodes } from '../../src/errors';
import { BearerAuthenticator } from '../../src/http/bearer-authenticator';
import { readCookie, serializeCookie } from '../../src/http/cookies';
import { CsrfTokens } from '../../src/http/csrf-tokens';
import { InputGuard, checkResourceId } from '../../src/http/input-guard';
import { BulwarkHttpError } from '../../src/http/bulwark-http-error';
import { problemFor } from '../../src/http/problem-details';
import { outcomeFromStatus, requestAuditEvent } from '../../src/http/request-audit';
import { clientRequestIdFrom, newRequestId } from '../../src/http/request-id';

const SECRET = 'x'.repeat(32);

describe('CsrfTokens', () => {
  const tokens = new CsrfTokens({ secret: SECRET });

  it('verifies its own tokens only for the same binding, and no tampered token (property)', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.nat(66), (binding, other, pos) => {
        const token = tokens.issue(binding);
        expect(tokens.verify(token, binding)).toBe(true);
        if (other !== binding) expect(tokens.verify(token, other)).toBe(false);
        const flipped = token.slice(0, pos) + (token[pos] === 'A' ? 'B' : 'A') + token.slice(pos + 1);
        if (flipped !== token) expect(tokens.verify(flipped, binding)).toBe(false);
      }),
      { numRuns: 200 },
    );
  });

  it('accepts tokens of a previous secret after rotation, and refuses a foreign secret', () => {
    const old = tokens.issue('s1');
    expect(new CsrfTokens({ secret: 'y'.repeat(32), previousSecrets: [SECRET] }).verify(old, 's1')).toBe(
      true,
    );
    expect(new CsrfTokens({ secret: 'y'.repeat(32) }).verify(old, 's1')).toBe(false);
    expect(() => new CsrfTokens({ secret: 'short' })).toThrow(BulwarkConfigError);
  });
});

describe('problemFor', () => {
  it.each([
    [new BulwarkTokenError(ErrorCodes.TOKEN_EXPIRED, 'x'), 401, 'https://bulwark.dev/problems/token-expired'],
    [
      new BulwarkError(ErrorCodes.CONSENT_REQUIRED, 'x', { purposeId: 'p' }),
      403,
      'https://bulwark.dev/problems/consent-required',
    ],
    [new BulwarkError(ErrorCodes.CSRF_INVALID, 'x'), 403, 'https://bulwark.dev/problems/bad-csrf-token'],
    [
      new BulwarkError(ErrorCodes.HTTP_TOO_MANY_REQUESTS, 'x', { retryAfterSec: 12.2 }),
      429,
      'https://bulwark.dev/problems/http-too-many-requests',
    ],
    [
      new BulwarkError(ErrorCodes.CRYPTO_UNKNOWN_KEY, 'key pii v3 missing'),
      500,
      'https://bulwark.dev/problems/internal',
    ],
    [
      Object.assign(new Error('Unexpected token in {"ssn":"123"}'), {
        status: 400,
        type: 'entity.parse.failed',
        expose: true,
      }),
      400,
      'about:blank',
    ],
    [new Error('boom'), 500, 'https://bulwark.dev/problems/internal'],
    ['a string', 500, 'https://bulwark.dev/problems/internal'],
  ])('maps %p to %i', (error, status, type) => {
    const p = problemFor(error, { requestId: 'r' });
    expect(p.status).toBe(status);
    expect(p.body.type).toBe(type);
    expect(p.body.requestId).toBe('r');
    expect(JSON.stringify(p.body)).not.toMatch(/pii v3|ssn|boom/);
  });

  it('says error="invalid_token" only when a token was sent and refused (RFC 6750 §3.1)', () => {
    // No token involved: a failed sign-in, a revoked cookie session, a webhook, the app's own 401.
    const tokenless: unknown[] = [
      new BulwarkHttpError(ErrorCodes.SIGNIN_FAILED, 401, 'x'),
      new BulwarkError(ErrorCodes.SESSION_REVOKED, 'x'),
      new BulwarkError(ErrorCodes.ALERT_WEBHOOK_INVALID, 'x'),
      Object.assign(new Error('Unauthorized'), { status: 401, expose: true }),
    ];
    for (const error of tokenless) {
      const p = problemFor(error, { realm: 'api' });
      expect(p.status).toBe(401);
      expect(p.headers['www-authenticate']).toBe('Bearer realm="api"');
    }
  });

  it('sets WWW-Authenticate on 401 and Retry-After on 429', () => {
    expect(
      problemFor(new BulwarkTokenError(ErrorCodes.TOKEN_MALFORMED, 'x')).headers['www-authenticate'],
    ).toBe('Bearer realm="bulwark", error="invalid_token"');
    expect(problemFor(new BulwarkTokenError(ErrorCodes.TOKEN_REVOKED, 'x')).headers['www-authenticate']).toBe(
      'Bearer realm="bulwark", error="invalid_token"',
    );
    expect(
      problemFor(new BulwarkError(ErrorCodes.HTTP_TOO_MANY_REQUESTS, 'x', { retryAfterSec: 12.2 })).headers[
        'retry-after'
      ],
    ).toBe('13');
  });
});

describe('InputGuard and checkResourceId', () => {
  it('refuses any id that decodes to a traversal, and keeps plain ids (property)', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[A-Za-z0-9_-]{1,20}$/),
        fc.constantFrom('..', '%2e%2e', '%252e%252e', '..%2f', 'a/b', 'a\\b', '%5c'),
        (id, evil) => {
          expect(checkResourceId(id)).toBe(id);
          expect(() => checkResourceId(`${id}${evil}`)).toThrow(BulwarkError);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('checks depth and forbidden keys without recursion on hostile nesting', () => {
    const guard = new InputGuard({ maxDepth: 1000 });
    let deep: unknown = {};
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(() => guard.checkValue(deep, 'body')).toThrow(
      expect.objectContaining({ code: ErrorCodes.HTTP_INPUT_TOO_DEEP }),
    );
    expect(() => guard.checkValue(JSON.parse('{"a":[{"__proto__":1}]}'), 'body')).toThrow(
      expect.objectContaining({ code: ErrorCodes.HTTP_INPUT_FORBIDDEN_KEY }),
    );
  });
});

describe('request audit, ids, cookies, bearer parsing', () => {
  it('derives the outcome from the final status', () => {
    expect([200, 302, 401, 403, 404, 500].map(outcomeFromStatus)).toEqual([
      'success',
      'success',
      'denied',
      'denied',
      'failure',
      'failure',
    ]);
  });

  it('clips hostile request data instead of losing the event', () => {
    const event = requestAuditEvent({
      method: 'GE T\n',
      route: '/x'.repeat(1000),
      status: 200,
      latencyMs: 1,
      ip: 'not-an-ip',
      userAgent: 'u'.repeat(5000),
    });
    expect(event.action).toBe('http.get');
    expect(event.actor.ip).toBeUndefined();
    expect(event.actor.userAgent).toHaveLength(512);
  });

  it('derives the action from any method or given action exactly as before the per-method cache', () => {
    const chars = /[^A-Za-z0-9_.:/-]/g;
    const previous = (method: string, given?: string): string => {
      const m = method.toLowerCase().replace(chars, '').slice(0, 16) || 'unknown';
      const action = (given ?? `http.${m}`).replace(chars, '_').slice(0, 128);
      return /^[A-Za-z0-9]/.test(action) ? action : `http.${action}`;
    };
    const method = fc.oneof(
      fc.constantFrom('GET', 'get', 'POST', 'M-SEARCH', 'PROPFIND', '', ' ', '\n', 'ÄÖ', 'x'.repeat(40)),
      fc.string({ maxLength: 24 }),
    );
    const given = fc.option(
      fc.oneof(fc.constantFrom('patient.read', '_x', '-', ''), fc.string({ maxLength: 140 })),
      {
        nil: undefined,
      },
    );
    fc.assert(
      fc.property(method, given, (m, a) => {
        const facts = {
          method: m,
          route: '/r',
          status: 200,
          latencyMs: 1,
          ...(a === undefined ? {} : { action: a }),
        };
        // Twice: the first call may fill the cache, the second reads it.
        expect(requestAuditEvent(facts).action).toBe(previous(m, a));
        expect(requestAuditEvent(facts).action).toBe(previous(m, a));
      }),
      { numRuns: 1000 },
    );
  });

  it("takes the auditor's category unless the route named one, and leaves out what the facts lack", () => {
    const base = { method: 'GET', route: '/r', status: 200, latencyMs: 1.23456789 };
    expect(requestAuditEvent(base, 'http').category).toBe('http');
    expect(requestAuditEvent({ ...base, category: 'phi' }, 'http').category).toBe('phi');
    const bare = requestAuditEvent(base);
    expect(bare).toEqual({
      actor: { id: 'anonymous', type: 'anonymous' },
      action: 'http.get',
      outcome: 'success',
      details: { method: 'GET', route: '/r', status: 200, latencyMs: 1.235 },
    });
    const full = requestAuditEvent({
      ...base,
      status: 403,
      requestId: 'rid',
      clientRequestId: 'cid',
      principal: { id: 'u-1', type: 'user' },
      ip: '::ffff:203.0.113.9',
      userAgent: 'ua',
      resource: { type: 'doc', id: 'd-1' },
      action: 'docs.read',
      errorCode: 'ERR_X',
      errorReason: 'why',
      reasonId: 'rule-1',
    });
    expect(full).toEqual({
      actor: { id: 'u-1', type: 'user', ip: '203.0.113.9', userAgent: 'ua' },
      action: 'docs.read',
      outcome: 'denied',
      resource: { type: 'doc', id: 'd-1' },
      requestId: 'rid',
      details: {
        method: 'GET',
        route: '/r',
        status: 403,
        latencyMs: 1.235,
        errorCode: 'ERR_X',
        errorReason: 'why',
        reasonId: 'rule-1',
        clientRequestId: 'cid',
      },
    });
  });

  it('mints request ids, keeps a client-supplied id sanitised, reads cookies and parses token credentials', () => {
    expect(newRequestId()).toMatch(/^[0-9a-f-]{36}$/);
    expect(clientRequestIdFrom('abc-123')).toBe('abc-123');
    expect(clientRequestIdFrom('evil\nlog line')).toBe('evil_log_line');
    expect(clientRequestIdFrom(['x'.repeat(500), 'y'])).toBe('x'.repeat(128));
    expect(clientRequestIdFrom('   ')).toBeUndefined();
    expect(readCookie(`a=1; ${serializeCookie('b', 'tok').split(';')[0]}; c=3`, 'b')).toBe('tok');
    expect(BearerAuthenticator.credential(undefined)).toBeUndefined();
    // Another scheme's credential is not ours to judge; a malformed one of ours is a 400.
    expect(BearerAuthenticator.credential('Basic abc')).toBeUndefined();
    expect(() => BearerAuthenticator.credential('Bearer a b')).toThrow(
      expect.objectContaining({ code: ErrorCodes.HTTP_AUTH_MALFORMED, status: 400 }),
    );
    expect(BearerAuthenticator.credential('token abc', ['Token'])).toBe('abc');
  });

  it('answers cachedPrincipal synchronously only for a token it verified and still holds', async () => {
    let now = 1_000_000;
    let calls = 0;
    const verifier = {
      verify: async (token: string) => {
        calls++;
        if (token !== 'good') throw new BulwarkTokenError(ErrorCodes.TOKEN_SIGNATURE_INVALID, 'bad');
        return { payload: { sub: 'a', exp: now / 1000 + 10 }, protectedHeader: { alg: 'HS256' } };
      },
    };
    const auth = new BearerAuthenticator({ tokens: verifier, now: () => now });
    expect(auth.cachedPrincipal('Bearer good')).toBeUndefined(); // never verified
    const principal = await auth.authenticate('Bearer good');
    expect(auth.cachedPrincipal('Bearer good')).toBe(principal);
    expect(auth.cachedPrincipal('bearer  good')).toBe(principal); // scheme is case-insensitive
    expect(calls).toBe(1);
    // Anything else is left to authenticate(): another token, a refused one, other schemes, malformed.
    await expect(auth.authenticate('Bearer forged')).rejects.toThrow();
    for (const header of [
      'Bearer forged',
      'Basic good',
      'Bearer a b',
      '',
      undefined,
      ['Bearer forged', 'Bearer good'],
    ]) {
      expect(auth.cachedPrincipal(header)).toBeUndefined();
    }
    // Repeated headers: the first value counts, as in authenticate().
    expect(auth.cachedPrincipal(['Bearer good', 'Bearer forged'])).toBe(principal);
    now += 11_000; // past exp
    expect(auth.cachedPrincipal('Bearer good')).toBeUndefined();
    // With a revocation check (which must run on every request) or no cache: never.
    const revocable = new BearerAuthenticator({
      tokens: verifier,
      now: () => now,
      revocation: { check: async () => undefined },
    });
    await revocable.authenticate('Bearer good');
    expect(revocable.cachedPrincipal('Bearer good')).toBeUndefined();
    const uncached = new BearerAuthenticator({ tokens: verifier, now: () => now, cacheTtlSec: 0 });
    await uncached.authenticate('Bearer good');
    expect(uncached.cachedPrincipal('Bearer good')).toBeUndefined();
  });

  it('caches a verified token only until its expiry', async () => {
    let now = 1_000_000;
    let calls = 0;
    const auth = new BearerAuthenticator({
      tokens: {
        verify: async () => (
          calls++,
          { payload: { sub: 'a', exp: now / 1000 + 10 }, protectedHeader: { alg: 'HS256' } }
        ),
      },
      now: () => now,
    });
    await auth.authenticate('Bearer t');
    await auth.authenticate('Bearer t');
    expect(calls).toBe(1);
    now += 11_000; // past exp
    await auth.authenticate('Bearer t');
    expect(calls).toBe(2);
  });
});
