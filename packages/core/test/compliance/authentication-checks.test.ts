import { randomBytes } from 'node:crypto';
import {
  ComplianceKit,
  ComplianceReport,
  MemorySessionStore,
  PasswordHasher,
  SessionEngine,
  type SessionStore,
} from '../../src';
import type { StoredSession } from '../../src/store';

async function report(
  services: Parameters<ComplianceKit['register']>[0],
  framework: 'pci' | 'hipaa' | 'iso27001' | 'soc2',
) {
  const kit = new ComplianceKit().register(services);
  return new ComplianceReport(kit).run(framework);
}

const secret = randomBytes(32);

describe('sessions.timeouts (PCI DSS 8.2.8, HIPAA automatic logoff, ISO A.8.5)', () => {
  it('passes on the live engine with a 15-minute idle time-out, after probing the store', async () => {
    const r = await report({ sessions: new SessionEngine({ secret }) }, 'pci');
    const c = r.controls.find((x) => x.id === 'pci-8.2.8')!;
    expect(c).toMatchObject({ kind: 'automated', status: 'pass', passLevel: 'partial' });
    expect(c.summary).toMatch(/900 s idle .*refused an idle and an expired session/);
  });

  it('fails a 30-minute idle time-out for PCI, passes it for ISO (30-minute limit)', async () => {
    const sessions = new SessionEngine({ secret, idleTimeoutSec: 1800 });
    expect((await report({ sessions }, 'pci')).controls.find((x) => x.id === 'pci-8.2.8')).toMatchObject({
      status: 'fail',
    });
    expect(
      (await report({ sessions }, 'iso27001')).controls.find((x) => x.id === 'iso27001-a8.5-sessions'),
    ).toMatchObject({ status: 'pass' });
  });

  it('fails when the store does not let the engine refuse an idle session (the probe, not the configuration)', async () => {
    // A store that "refreshes" every session it returns: configuration says 15 minutes, behaviour says forever.
    class Refreshing extends MemorySessionStore implements SessionStore {
      override async get(id: string): Promise<StoredSession | undefined> {
        const s = await super.get(id);
        return (
          s && {
            ...s,
            lastSeenAt: Date.now(),
            createdAt: Date.now(),
            absoluteExpiresAt: Date.now() + 3_600_000,
          }
        );
      }
    }
    const r = await report({ sessions: new SessionEngine({ secret, store: new Refreshing() }) }, 'hipaa');
    const c = r.controls.find((x) => x.id === 'hipaa-164.312-a-2-iii')!;
    expect(c.status).toBe('fail');
    expect(c.summary).toMatch(/an idle session was accepted/);
  });

  it('fails without a registered engine, naming how to register it', async () => {
    const c = (await report({}, 'pci')).controls.find((x) => x.id === 'pci-8.2.8')!;
    expect(c.status).toBe('fail');
    expect(c.remediation).toMatch(/kit.register\(\{ sessions \}\)/);
  });
});

describe('passwords.policy (PCI DSS 8.3.6, HIPAA password management, ISO A.5.17, SOC 2 CC6.1)', () => {
  it('fails PCI 8.3.6 with the NIST default of 8 characters for MFA accounts, and says so', async () => {
    const c = (await report({ passwordHasher: new PasswordHasher({ policy: {} }) }, 'pci')).controls.find(
      (x) => x.id === 'pci-8.3.6',
    )!;
    expect(c.status).toBe('fail');
    expect(c.summary).toMatch(/8 characters .*below the required 12/);
  });

  it('passes PCI 8.3.6 partially with 12 characters for every account (no composition rules: a customized approach)', async () => {
    const hasher = new PasswordHasher({ policy: { minLength: 15, minLengthWithMfa: 12 } });
    const c = (await report({ passwordHasher: hasher }, 'pci')).controls.find((x) => x.id === 'pci-8.3.6')!;
    expect(c).toMatchObject({ status: 'pass', passLevel: 'partial' });
    expect(JSON.stringify(c)).toMatch(/customized approach/);
  });

  it('passes HIPAA, ISO and SOC 2 password-policy controls with the NIST defaults', async () => {
    const passwordHasher = new PasswordHasher({ policy: {} });
    for (const [fw, id] of [
      ['hipaa', 'hipaa-164.308-a-5-ii-d-policy'],
      ['iso27001', 'iso27001-a5.17-policy'],
      ['soc2', 'soc2-cc6.1-password-policy'],
    ] as const) {
      expect((await report({ passwordHasher }, fw)).controls.find((x) => x.id === id)).toMatchObject({
        status: 'pass',
      });
    }
  });

  it('fails when the hasher enforces no policy (passwords.hash("a") would be accepted)', async () => {
    const c = (await report({ passwordHasher: new PasswordHasher() }, 'pci')).controls.find(
      (x) => x.id === 'pci-8.3.6',
    )!;
    expect(c.status).toBe('fail');
    expect(c.remediation).toMatch(/policy/);
  });
});
