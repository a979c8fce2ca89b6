import { recordHeaderWrites, writeHeaders } from '../../src/http/security-header-options';

type Res = {
  setHeader(n: string, v: unknown): void;
  removeHeader(n: string): void;
  getHeader?(n: string): unknown;
};
type Mw = (req: unknown, res: Res, next: (err?: unknown) => void) => void;
const record = (mw: Mw, options: Record<string, unknown> = {}) =>
  recordHeaderWrites(mw as Parameters<typeof recordHeaderWrites>[0], options);

describe('recordHeaderWrites (what the securityHeaders step replays instead of running helmet)', () => {
  it('records string sets and removes in order, and writeHeaders replays them', () => {
    const writes = record((_req, res, next) => {
      res.setHeader('X-Frame-Options', 'DENY');
      res.removeHeader('X-Powered-By');
      res.setHeader('Referrer-Policy', 'no-referrer');
      next();
    });
    expect(writes).toEqual([
      ['X-Frame-Options', 'DENY'],
      ['X-Powered-By'],
      ['Referrer-Policy', 'no-referrer'],
    ]);
    const log: unknown[] = [];
    writeHeaders(
      { setHeader: (n, v) => log.push(['set', n, v]), removeHeader: (n) => log.push(['remove', n]) },
      writes!,
    );
    expect(log).toEqual([
      ['set', 'X-Frame-Options', 'DENY'],
      ['remove', 'X-Powered-By'],
      ['set', 'Referrer-Policy', 'no-referrer'],
    ]);
  });

  it('records nothing (the middleware runs per request) whenever the writes might depend on the request', () => {
    const ok: Mw = (_req, res, next) => {
      res.setHeader('A', 'b');
      next();
    };
    // An option holding a function anywhere (a CSP nonce), also inside an array or a Set.
    expect(record(ok, { csp: { directives: { 'script-src': ["'self'", () => 'x'] } } })).toBeUndefined();
    expect(record(ok, { csp: { directives: { 'script-src': new Set([() => 'x']) } } })).toBeUndefined();
    // A middleware that fails, does not pass on synchronously, reads the response, or sets a non-string.
    expect(record((_req, _res, next) => next(new Error('no')))).toBeUndefined();
    expect(record(() => undefined)).toBeUndefined();
    expect(
      record((_req, res, next) => {
        res.getHeader!('x');
        next();
      }),
    ).toBeUndefined();
    expect(
      record((_req, res, next) => {
        res.setHeader('Set-Cookie', ['a=1']);
        next();
      }),
    ).toBeUndefined();
    expect(record(ok, { nested: { list: [1, 'two', { ok: true }] } })).toEqual([['A', 'b']]);
  });
});
