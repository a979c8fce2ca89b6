// The http benchmark's `--profile` attribution (bench/lib/profile-steps.js), on hand-made profiles.
const { attributeProfile, stepOfUrl } = require('../bench/lib/profile-steps.js') as {
  attributeProfile(profile: Profile): {
    busyMs: number;
    idleMs: number;
    steps: Record<string, { selfMs: number; totalMs: number }>;
  };
  stepOfUrl(url: string): string | undefined;
};

interface Frame {
  id: number;
  fn: string;
  url: string;
  children?: number[];
}
interface Profile {
  nodes: { id: number; callFrame: { functionName: string; url: string }; children?: number[] }[];
  samples: number[];
  timeDeltas: number[];
}

const CORE = 'file:///app/node_modules/@bulwark/core/dist';
const ROOT = '/repo/packages';

/** A profile whose samples are `samples` (node ids), 1 ms apart. */
function profile(frames: Frame[], samples: number[]): Profile {
  return {
    nodes: frames.map((f) => ({
      id: f.id,
      callFrame: { functionName: f.fn, url: f.url },
      ...(f.children ? { children: f.children } : {}),
    })),
    samples,
    timeDeltas: samples.map(() => 1000),
  };
}

describe('bench --profile: samples attributed to bundle steps', () => {
  it('recognises each step by its file', () => {
    expect(stepOfUrl(`file://${ROOT}/core/dist/tokens/token-service.js`)).toBe('auth');
    expect(stepOfUrl(`file://${ROOT}/express/dist/authenticate.js`)).toBe('auth');
    expect(stepOfUrl('file:///repo/node_modules/jose/dist/webapi/jwt/verify.js')).toBe('jose');
    expect(stepOfUrl(`file://${ROOT}/koa/dist/csrf.js`)).toBe('csrf');
    expect(stepOfUrl(`file://${ROOT}/core/dist/http/input-guard.js`)).toBe('input guard');
    expect(stepOfUrl(`file://${ROOT}/core/dist/audit/audit-log.js`)).toBe('audit');
    expect(stepOfUrl(`${CORE}/http/problem-details.js`)).toBe('problem details');
    expect(stepOfUrl('file:///repo/node_modules/helmet/index.cjs')).toBe('headers');
    expect(stepOfUrl('file:///repo/node_modules/router/index.js')).toBe('framework');
    expect(stepOfUrl('node:_http_outgoing')).toBeUndefined();
  });

  it('self goes to the innermost step on the stack, total to every step on it; idle is left out', () => {
    // root -> router -> authenticate -> token-service -> jose -> (native)
    //                                 \-> node setHeader (charged to auth)
    const p = profile(
      [
        { id: 1, fn: '(root)', url: '', children: [2, 7, 8] },
        { id: 2, fn: 'handle', url: 'file:///r/node_modules/router/index.js', children: [3] },
        { id: 3, fn: 'mw', url: `file://${ROOT}/express/dist/authenticate.js`, children: [4, 6] },
        { id: 4, fn: 'verify', url: `file://${ROOT}/core/dist/tokens/token-service.js`, children: [5] },
        { id: 5, fn: 'jwtVerify', url: 'file:///r/node_modules/jose/dist/webapi/jwt/verify.js' },
        { id: 6, fn: 'setHeader', url: 'node:_http_outgoing' },
        { id: 7, fn: '(idle)', url: '' },
        { id: 8, fn: '(garbage collector)', url: '' },
      ],
      // jose x3, auth's own setHeader x2, router x1, idle x2, gc x1, then a last sample (no interval after it)
      [5, 5, 5, 6, 6, 2, 7, 7, 8, 2],
    );
    const { busyMs, idleMs, steps } = attributeProfile(p);
    expect(idleMs).toBe(2);
    expect(busyMs).toBe(7);
    expect(steps.jose).toEqual({ selfMs: 3, totalMs: 3 });
    expect(steps.auth).toEqual({ selfMs: 2, totalMs: 5 });
    expect(steps.framework).toEqual({ selfMs: 1, totalMs: 6 });
    expect(steps.gc).toEqual({ selfMs: 1, totalMs: 1 });
  });

  it("the audit hold's pass-through wrappers are transparent: the socket write is the caller's", () => {
    const p = profile(
      [
        { id: 1, fn: '(root)', url: '', children: [2] },
        { id: 2, fn: 'send', url: 'file:///r/node_modules/express/lib/response.js', children: [3] },
        { id: 3, fn: 'r.end', url: `${CORE}/http/request-audit-hold.js`, children: [4] },
        { id: 4, fn: 'call', url: `${CORE}/http/request-audit-hold.js`, children: [5, 6] },
        { id: 5, fn: 'writev', url: '' },
        { id: 6, fn: 'hold', url: `${CORE}/http/request-audit-hold.js` },
      ],
      [5, 5, 6, 5],
    );
    const { steps } = attributeProfile(p);
    expect(steps.framework.selfMs).toBe(2);
    expect(steps.audit).toEqual({ selfMs: 1, totalMs: 1 });
  });
});
