import { BulwarkHttpError } from '../../src/http/bulwark-http-error';
import { BruteForceGate } from '../../src/http/brute-force-gate';
import { BruteForceGuard } from '../../src/threat/brute-force-guard';

const body = { username: 'alice', password: 'x' };

async function refusal(p: Promise<unknown>): Promise<BulwarkHttpError> {
  const error = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(BulwarkHttpError);
  return error as BulwarkHttpError;
}

/** Lets the settle promises started by after() finish. */
const settled = () => new Promise((resolve) => setImmediate(resolve));

describe('BruteForceGate', () => {
  it('reserves before the handler: racing requests beyond the limit get 429 before any credential check', async () => {
    const gate = new BruteForceGate({
      guard: new BruteForceGuard({ ip: false, account: false, ipAccount: { maxFailures: 3 } }),
    });
    const attempt = gate.attempt('192.0.2.1', body);
    const outcomes = await Promise.allSettled(Array.from({ length: 20 }, () => gate.before(attempt)));
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(3);
    const refused = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected')!;
    expect((refused.reason as BulwarkHttpError).status).toBe(429);
  });

  it('settles from the final status: 401 counts, 2xx and other statuses refund, an unfinished answer counts', async () => {
    const guard = new BruteForceGuard({ ip: false, account: false, ipAccount: { maxFailures: 2 } });
    const gate = new BruteForceGate({ guard });
    const attempt = gate.attempt('192.0.2.2', body);
    for (const status of [200, 400, 500, 302, 200]) {
      gate.after(await gate.before(attempt), status);
      await settled();
    }
    gate.after(await gate.before(attempt), 401);
    await settled();
    // The client hung up before the answer: the check may have run, so it counts (and locks here).
    const ticket = await gate.before(attempt);
    gate.after(ticket, undefined);
    gate.after(ticket, 200); // a second settle of the same ticket is ignored
    await settled();
    await settled();
    const error = await refusal(gate.before(attempt));
    expect(error.details).toMatchObject({ location: 'ip+account', retryAfterSec: 60 });
  });

  it('asks onChallenge when only the account lockout refuses, and lets a passed challenge through', async () => {
    const guard = new BruteForceGuard({ ip: false, account: { maxFailures: 2 } });
    const passed = jest.fn(
      async (r: { headers: Record<string, unknown> }) => r.headers['x-captcha'] === 'ok',
    );
    const gate = new BruteForceGate({ guard, onChallenge: passed });
    for (const ip of ['203.0.113.1', '203.0.113.2']) {
      gate.after(await gate.before(gate.attempt(ip, body)), 401);
      await settled();
    }
    const fresh = gate.attempt('192.0.2.50', body);
    const error = await refusal(gate.before(fresh, { headers: {}, body }));
    expect(error.status).toBe(429);
    expect(error.details).toMatchObject({ location: 'account', challenge: true });
    const ticket = await gate.before(fresh, { headers: { 'x-captcha': 'ok' }, body });
    expect(ticket.reservation).toBeDefined();
    expect(passed).toHaveBeenCalledTimes(2);
  });

  it('treats a throwing onChallenge as a failed challenge and reports it', async () => {
    const guard = new BruteForceGuard({ ip: false, account: { maxFailures: 1 } });
    const onError = jest.fn();
    const gate = new BruteForceGate({
      guard,
      onError,
      onChallenge: () => {
        throw new Error('captcha service down');
      },
    });
    gate.after(await gate.before(gate.attempt('203.0.113.1', body)), 401);
    await settled();
    const error = await refusal(gate.before(gate.attempt('192.0.2.9', body), { headers: {}, body }));
    expect(error.status).toBe(429);
    expect(onError).toHaveBeenCalledTimes(1);
  });

  it('validates onChallenge and successStatuses eagerly', () => {
    expect(() => new BruteForceGate({ guard: new BruteForceGuard(), onChallenge: 'yes' as never })).toThrow(
      'bruteForce.onChallenge must be a function',
    );
    for (const bad of [[401], [500], 'all'])
      expect(
        () => new BruteForceGate({ guard: new BruteForceGuard(), successStatuses: bad as never }),
      ).toThrow('bruteForce.successStatuses must be 2xx/3xx statuses');
  });

  it('treats the listed successStatuses as successes (a form login answering 303)', async () => {
    const guard = new BruteForceGuard({ ip: false, account: { maxFailures: 2 } });
    const gate = new BruteForceGate({ guard, successStatuses: [303] });
    const home = gate.attempt('192.0.2.60', body);
    gate.after(await gate.before(home), 303); // signs in: the address becomes a known client
    await settled();
    for (const ip of ['203.0.113.1', '203.0.113.2']) {
      gate.after(await gate.before(gate.attempt(ip, body)), 401);
      await settled();
    }
    await refusal(gate.before(gate.attempt('192.0.2.61', body)));
    expect((await gate.before(home)).reservation).toBeDefined();
  });
});
