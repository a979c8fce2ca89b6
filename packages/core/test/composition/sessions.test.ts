import { randomBytes } from 'node:crypto';
import { AUTH_AUDIT_ACTIONS, createBulwark, ErrorCodes } from '../../src';

describe('createBulwark sessions and accounts sections', () => {
  it('wires the engine to the audit log, the clock and the compliance kit, and accounts to the sessions', async () => {
    let now = Date.UTC(2026, 0, 1, 12);
    const bw = await createBulwark({
      audit: { store: 'memory' },
      sessions: { secret: randomBytes(32), idleTimeoutSec: 600 },
      accounts: {},
      threat: { bruteForce: {} },
      compliance: { httpSurface: false },
      clock: () => new Date(now),
    });
    try {
      let cookie = '';
      const setCookie = (v: string) => void (cookie = v.split(';')[0]!);
      await (await bw.sessions!.open({ cookieHeader: undefined, setCookie })).login({ id: 'alice' });
      now += 599_000;
      expect((await bw.sessions!.open({ cookieHeader: cookie, setCookie })).userId).toBe('alice');
      await bw.accounts!.disable('alice', { by: { id: 'admin' }, reason: 'left-company' });
      expect((await bw.sessions!.open({ cookieHeader: cookie, setCookie: () => {} })).isNew).toBe(true);
      await expect(bw.accounts!.assertActive('alice')).rejects.toMatchObject({
        code: ErrorCodes.ACCOUNT_DISABLED,
      });
      const actions = (await bw.auditLog!.query({})).entries.map((e) => e.action);
      expect(actions).toEqual(
        expect.arrayContaining([
          AUTH_AUDIT_ACTIONS.sessionCreated,
          AUTH_AUDIT_ACTIONS.sessionRevoked,
          AUTH_AUDIT_ACTIONS.accountDisabled,
        ]),
      );
      const pci = await bw.compliance!.report('pci');
      // Registered with the kit: the session control reads the engine (10 idle minutes) and probes it.
      expect(pci.controls.find((c) => c.id === 'pci-8.2.8')).toMatchObject({ status: 'pass' });
    } finally {
      await bw.close();
    }
  });

  it('refuses bad session options at start-up, naming the path', async () => {
    await expect(createBulwark({ sessions: { secret: 'short' } })).rejects.toThrow(/sessions.secret/);
    await expect(createBulwark({ accounts: { resetTokenTtlSec: 5 } })).rejects.toThrow(
      /accounts.resetTokenTtlSec/,
    );
  });
});
