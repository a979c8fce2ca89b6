import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { Container } from 'inversify';
import type { AuditEntry } from '../../src/audit/audit-event';
import type { AuditSink } from '../../src/audit/audit-sink';
import { FileAuditStore } from '../../src/audit/file-audit-store';
import { MemoryAuditStore } from '../../src/audit/memory-audit-store';
import { MemoryCheckpointStore } from '../../src/audit/memory-checkpoint-store';
import { CheckpointSigner } from '../../src/audit/checkpoint-signer';
import { createBulwark, type BulwarkConfig } from '../../src/bulwark';
import { BULWARK_TYPES, bulwarkContainerModule } from '../../src/container-module';
import { MemoryKeyStore } from '../../src/crypto/key-ring';
import { BulwarkConfigError } from '../../src/errors';
import { MemoryMfaStore } from '../../src/mfa/memory-mfa-store';
import { MemoryConsentStore } from '../../src/privacy/memory-consent-store';
import { MemoryDsrStore } from '../../src/privacy/memory-dsr-store';
import { exists, memoryProvider, POLICY_YAML, tempDir, weakPasswords } from './composition-helpers';

/** Every resource records its close in one shared log, so the order is observable. */
function recorder() {
  const closed: string[] = [];
  class KeyStore extends MemoryKeyStore {
    async close(): Promise<void> {
      closed.push('keys.store');
    }
  }
  class AuditStore extends MemoryAuditStore {
    override async close(): Promise<void> {
      closed.push('audit.store');
      await super.close();
    }
  }
  class CheckpointStore extends MemoryCheckpointStore {
    async close(): Promise<void> {
      closed.push('audit.checkpoint.store');
    }
  }
  class MfaStore extends MemoryMfaStore {
    async close(): Promise<void> {
      closed.push('mfa.store');
    }
  }
  class ConsentStore extends MemoryConsentStore {
    async close(): Promise<void> {
      closed.push('privacy.consent.store');
    }
  }
  class DsrStore extends MemoryDsrStore {
    async close(): Promise<void> {
      closed.push('privacy.dsr.store');
    }
  }
  const sink: AuditSink & { entries: AuditEntry[] } = {
    entries: [],
    write(entries) {
      this.entries.push(...entries);
    },
    close() {
      closed.push('audit.sink');
    },
  };
  return { closed, KeyStore, AuditStore, CheckpointStore, MfaStore, ConsentStore, DsrStore, sink };
}

async function recordedConfig(r: ReturnType<typeof recorder>): Promise<BulwarkConfig> {
  return {
    keys: { masterKey: memoryProvider(), store: new r.KeyStore() },
    passwords: weakPasswords,
    audit: {
      store: new r.AuditStore(),
      hmacKey: randomBytes(32),
      checkpoint: { signingKey: await CheckpointSigner.generate(), store: new r.CheckpointStore() },
      sinks: [r.sink],
    },
    authz: { policy: POLICY_YAML },
    mfa: { policy: { requiredFor: ['admin'] }, store: new r.MfaStore(), totp: { issuer: 'Clinic' } },
    threat: { bruteForce: {}, detector: {} },
    privacy: { consent: { store: new r.ConsentStore() }, dsr: { store: new r.DsrStore() } },
    compliance: {},
  };
}

describe('Bulwark.close()', () => {
  it('closes every resource once, newest first, and the services refuse work afterwards', async () => {
    const r = recorder();
    const bulwark = await createBulwark(await recordedConfig(r));
    await bulwark.auditLog!.append({
      actor: { id: 'u', type: 'user' },
      action: 'x.read',
      outcome: 'success',
    });
    // Concurrent and repeated calls share one close.
    await Promise.all([bulwark.close(), bulwark.close()]);
    await bulwark.close();
    expect(r.closed).toEqual([
      'privacy.dsr.store',
      'privacy.consent.store',
      'mfa.store',
      // The audit log closes its sinks, then its store, then its checkpoint store.
      'audit.sink',
      'audit.store',
      'audit.checkpoint.store',
      'keys.store',
    ]);
    expect(r.sink.entries).toHaveLength(1);
    await expect(
      bulwark.auditLog!.append({ actor: { id: 'u', type: 'user' }, action: 'x', outcome: 'success' }),
    ).rejects.toMatchObject({ code: 'ERR_AUDIT_CLOSED' });
    expect(() => bulwark.keyRing!.encrypt('pii', 'x')).toThrow();
  });

  it('flushes queued audit entries to the file store before it resolves, and releases the lock', async () => {
    const { dir, remove } = await tempDir();
    try {
      const file = path.join(dir, 'audit.jsonl');
      const hmacKey = randomBytes(32);
      const config: BulwarkConfig = { passwords: weakPasswords, audit: { store: { file }, hmacKey } };
      const bulwark = await createBulwark(config);
      // Not awaited: these are still queued when close() is called.
      const pending = Array.from({ length: 50 }, (_, i) =>
        bulwark.auditLog!.append({
          actor: { id: `u${i}`, type: 'user' },
          action: 'record.read',
          outcome: 'success',
        }),
      );
      await bulwark.close();
      const lines = (await fs.readFile(file, 'utf8')).trim().split('\n');
      expect(lines).toHaveLength(50);
      await Promise.all(pending);
      expect(await exists(`${file}.lock`)).toBe(false);
      // The same file reopens (lock released) and the keyed chain verifies.
      const again = await createBulwark(config);
      expect(again.auditLog!.size).toBe(50);
      expect((await again.auditLog!.verify()).ok).toBe(true);
      await again.close();
    } finally {
      await remove();
    }
  });

  it('writes the threat detector’s last violations before the log closes', async () => {
    const { dir, remove } = await tempDir();
    try {
      const file = path.join(dir, 'audit.jsonl');
      const bulwark = await createBulwark({
        passwords: weakPasswords,
        audit: { store: { file } },
        threat: { detector: { failedLogins: { perAccount: { threshold: 2, windowSec: 60 }, perIp: false } } },
      });
      for (let i = 0; i < 2; i++) {
        void bulwark.auditLog!.append({
          actor: { id: 'anon', type: 'anonymous' },
          action: 'auth.login',
          outcome: 'failure',
          details: { account: 'alice' },
        });
      }
      await bulwark.close();
      const actions = (await fs.readFile(file, 'utf8'))
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).action);
      expect(actions).toEqual(['auth.login', 'auth.login', 'security.violation']);
    } finally {
      await remove();
    }
  });

  it('closes the remaining resources when one fails to close, then reports the failure', async () => {
    const r = recorder();
    class BrokenConsentStore extends MemoryConsentStore {
      async close(): Promise<void> {
        throw new Error('consent store close failed');
      }
    }
    const config = await recordedConfig(r);
    config.privacy!.consent = { store: new BrokenConsentStore() };
    const bulwark = await createBulwark(config);
    await expect(bulwark.close()).rejects.toThrow('consent store close failed');
    expect(r.closed).toContain('audit.store');
    expect(r.closed).toContain('keys.store');
  });
});

describe('createBulwark start-up failures', () => {
  it('closes the file audit store (releasing its lock) and the key ring when the policy file is missing', async () => {
    const { dir, remove } = await tempDir();
    try {
      const r = recorder();
      const file = path.join(dir, 'audit.jsonl');
      const config: BulwarkConfig = {
        keys: { masterKey: memoryProvider(), store: new r.KeyStore() },
        passwords: weakPasswords,
        audit: { store: { file } },
        authz: { policy: { file: path.join(dir, 'missing-policy.yaml') } },
      };
      const err = await createBulwark(config).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(BulwarkConfigError);
      expect((err as BulwarkConfigError).details).toEqual({ path: 'authz.policy.file' });
      expect((err as Error).message).toContain('ENOENT');
      // The store was opened (the file exists) and closed again: no lock is left behind.
      expect(await exists(file)).toBe(true);
      expect(await exists(`${file}.lock`)).toBe(false);
      expect(r.closed).toEqual(['keys.store']);
      const store = await FileAuditStore.open({ path: file });
      await store.close();
    } finally {
      await remove();
    }
  });

  it('names the rule of an invalid policy file and releases the audit lock', async () => {
    const { dir, remove } = await tempDir();
    try {
      const file = path.join(dir, 'audit.jsonl');
      const policyFile = path.join(dir, 'policy.yaml');
      await fs.writeFile(policyFile, POLICY_YAML.replace('effect: allow', 'effect: maybe'));
      const err = await createBulwark({
        passwords: weakPasswords,
        audit: { store: { file } },
        authz: { policy: { file: policyFile } },
      }).catch((e: unknown) => e as BulwarkConfigError);
      expect(err).toBeInstanceOf(BulwarkConfigError);
      expect((err as BulwarkConfigError).details?.path).toBe('authz.policy.policies[0].rules[0].effect');
      expect(await exists(`${file}.lock`)).toBe(false);
    } finally {
      await remove();
    }
  });

  it('validates the whole config before opening anything', async () => {
    const { dir, remove } = await tempDir();
    try {
      const file = path.join(dir, 'audit.jsonl');
      await expect(
        createBulwark({
          passwords: weakPasswords,
          audit: { store: { file } },
          privacy: { consent: { store: 'memory', purposes: [{ id: 'x' } as never] } },
        }),
      ).rejects.toMatchObject({ details: { path: 'privacy.consent.purposes[0]' } });
      // The audit section comes first, but nothing was opened: no log file was even created.
      expect(await exists(file)).toBe(false);
    } finally {
      await remove();
    }
  });

  it('refuses a file audit store another Bulwark holds, closing the key ring it opened', async () => {
    const { dir, remove } = await tempDir();
    try {
      const file = path.join(dir, 'audit.jsonl');
      const first = await createBulwark({ passwords: weakPasswords, audit: { store: { file } } });
      const r = recorder();
      await expect(
        createBulwark({
          keys: { masterKey: memoryProvider(), store: new r.KeyStore() },
          passwords: weakPasswords,
          audit: { store: { file } },
        }),
      ).rejects.toMatchObject({ code: 'ERR_AUDIT_STORE_LOCKED' });
      expect(r.closed).toEqual(['keys.store']);
      await first.close();
    } finally {
      await remove();
    }
  });
});

describe('bulwarkContainerModule with some sections', () => {
  it('binds the configured services and leaves the others unbound', async () => {
    const bulwark = await createBulwark({
      passwords: weakPasswords,
      audit: { store: 'memory' },
      authz: { policy: POLICY_YAML },
    });
    try {
      const container = new Container();
      await container.load(bulwarkContainerModule(bulwark));
      expect(container.get(BULWARK_TYPES.AuditLog)).toBe(bulwark.auditLog);
      expect(container.get(BULWARK_TYPES.Authorizer)).toBe(bulwark.policyEngine);
      for (const token of [
        BULWARK_TYPES.KeyRing,
        BULWARK_TYPES.TokenService,
        BULWARK_TYPES.MfaPolicy,
        BULWARK_TYPES.TotpFactor,
        BULWARK_TYPES.RecoveryCodes,
        BULWARK_TYPES.BruteForceGuard,
        BULWARK_TYPES.ThreatDetector,
        BULWARK_TYPES.ClassificationRegistry,
        BULWARK_TYPES.ConsentManager,
        BULWARK_TYPES.DataSubjectRequests,
        BULWARK_TYPES.ProcessorRegister,
        BULWARK_TYPES.ProcessingRegister,
        BULWARK_TYPES.DataRetention,
        BULWARK_TYPES.BreachRegister,
        BULWARK_TYPES.ComplianceKit,
      ]) {
        expect(container.isBound(token)).toBe(false);
        expect(() => container.get(token)).toThrow();
      }
      expect(bulwark.consent).toBeUndefined();
      expect(bulwark.compliance).toBeUndefined();
    } finally {
      await bulwark.close();
    }
  });
});
