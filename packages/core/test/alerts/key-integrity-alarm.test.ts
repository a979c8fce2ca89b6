import { randomBytes } from 'node:crypto';
import type { Alert, AlertChannel } from '../../src/alerts/alert';
import { createBulwark } from '../../src/composition/create-bulwark';
import { KeyRing } from '../../src/crypto/key-ring';
import { generateMasterKey } from '../../src/crypto/master-key';
import { MemoryKeyStore } from '../../src/crypto/memory-key-store';
import { ErrorCodes } from '../../src/errors';
import { providerFor } from '../crypto/helpers';

// Issue 19: a key that fails to unwrap (wrong master key, KMS refusal, tampered key store) or a
// bw2 envelope whose key commitment does not match is a critical integrity alarm, routed like the
// audit log's own alarms and de-duplicated per key.

/** A channel that keeps what it is sent (a real AlertChannel: the router's whole path runs). */
function capture(): AlertChannel & { alerts: Alert[] } {
  const alerts: Alert[] = [];
  return {
    name: 'soc',
    kind: 'test',
    alerts,
    send(alert) {
      alerts.push(alert);
      return Promise.resolve();
    },
  };
}

const alertsConfig = (channel: AlertChannel) => ({
  channels: [channel],
  // Only critical alerts: proves the alarm is critical whatever its source's severity.
  routes: [{ channels: [channel.name], minSeverity: 'critical' as const }],
  retry: { attempts: 1, intervalMs: 0 },
});

describe('key integrity alarms', () => {
  it('a key store the master key cannot unwrap fails start-up with one critical alert', async () => {
    const store = new MemoryKeyStore();
    const ring = await KeyRing.open({ provider: providerFor(), store });
    await ring.createKey('pii');
    await ring.close();
    const channel = capture();
    await expect(
      createBulwark({
        keys: { masterKey: providerFor(generateMasterKey()), store },
        alerts: alertsConfig(channel),
      }),
    ).rejects.toMatchObject({ code: ErrorCodes.CRYPTO_KEY_UNWRAP_FAILED });
    expect(channel.alerts).toHaveLength(1);
    const [alert] = channel.alerts;
    expect(alert).toMatchObject({
      rule: 'integrity.key-unwrap-failed',
      severity: 'critical',
      category: 'integrity',
      subject: { kind: 'unwrap' },
    });
    expect(alert!.message).toContain(ErrorCodes.CRYPTO_KEY_UNWRAP_FAILED);
  });

  it('bw2 commitment failures raise one alert per key (de-duplicated), and the value is still refused', async () => {
    const channel = capture();
    const bulwark = await createBulwark({
      keys: { masterKey: providerFor(), store: new MemoryKeyStore(), ensure: ['pii', 'phi'] },
      audit: { store: 'memory' },
      alerts: alertsConfig(channel),
    });
    try {
      const ring = bulwark.keyRing!;
      const envelope = ring.encrypt('pii', 'national id 756.1234.5678.97');
      expect(envelope.startsWith('bw2.')).toBe(true);
      const parts = envelope.split('.');
      // Another key's commitment (well-formed: 43 base64url characters), as a swapped value would carry.
      parts[3] = randomBytes(32).toString('base64url');
      const forged = parts.join('.');
      for (let i = 0; i < 5; i++) {
        expect(() => ring.decrypt(forged)).toThrow(
          expect.objectContaining({ code: ErrorCodes.CRYPTO_DECRYPTION_FAILED }),
        );
      }
      await expect(ring.decryptAsync(forged)).rejects.toMatchObject({
        code: ErrorCodes.CRYPTO_DECRYPTION_FAILED,
      });
      const other = ring.encrypt('phi', 'x').split('.');
      other[3] = randomBytes(32).toString('base64url');
      expect(() => ring.decrypt(other.join('.'))).toThrow();
      await waitFor(() => channel.alerts.length >= 2);
      // One per key, whatever the number of failures; critical; no plaintext, no envelope.
      expect(channel.alerts.map((a) => a.subject)).toEqual([
        { keyId: 'pii', kind: 'commitment' },
        { keyId: 'phi', kind: 'commitment' },
      ]);
      expect(channel.alerts.every((a) => a.severity === 'critical')).toBe(true);
      const text = JSON.stringify(channel.alerts);
      expect(text).not.toContain('756.1234');
      expect(text).not.toContain(parts[4]!);
      // The untouched value still decrypts: the alarm changes nothing for good data.
      expect(ring.decryptString(envelope)).toBe('national id 756.1234.5678.97');
      // Delivered alerts are themselves evidence in the audit log.
      await bulwark.auditLog!.flush();
      const delivered = await bulwark.auditLog!.query({ action: 'alert.delivered', limit: 100 });
      expect(delivered.entries.map((e) => e.details?.rule)).toEqual([
        'integrity.key-unwrap-failed',
        'integrity.key-unwrap-failed',
      ]);
    } finally {
      await bulwark.close();
    }
  });

  it('key rotations of the running app are recorded in its audit log', async () => {
    const bulwark = await createBulwark({
      keys: { masterKey: providerFor(), store: new MemoryKeyStore(), ensure: ['pii'] },
      audit: { store: 'memory' },
    });
    try {
      await bulwark.keyRing!.rotate('pii');
      const rotated = await bulwark.auditLog!.query({ action: 'key.rotated', limit: 10 });
      expect(rotated.entries.map((e) => e.details)).toEqual([
        { operation: 'rotate', keyId: 'pii', version: 2 },
      ]);
    } finally {
      await bulwark.close();
    }
  });
});

async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error('timed out waiting for the alerts');
    await new Promise((r) => setTimeout(r, 10));
  }
}
