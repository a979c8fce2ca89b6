import { hkdfSync, randomBytes } from 'node:crypto';
import { SubjectPseudonymizer } from '../../src/audit/subject-pseudonymizer';
import { createBulwark, type BulwarkConfig } from '../../src/bulwark';
import { weakPasswords } from './composition-helpers';

const SUBJECT = 'patient-7f3a9c21';

async function kit(privacyDsr: NonNullable<BulwarkConfig['privacy']>['dsr'], hmacKey?: Uint8Array) {
  return createBulwark({
    passwords: weakPasswords,
    audit: { store: 'memory', ...(hmacKey ? { hmacKey } : {}) },
    privacy: { dsr: privacyDsr },
  });
}

async function probeAndErase(bulwark: Awaited<ReturnType<typeof kit>>) {
  const log = bulwark.auditLog!;
  for (let i = 0; i < 3; i++) {
    await log.append({
      actor: { id: SUBJECT, type: 'user' },
      action: 'http.get',
      resource: { type: 'patients', id: 'patient-other' },
      outcome: 'denied',
    });
  }
  await log.append({ actor: { id: SUBJECT, type: 'user' }, action: 'http.get', outcome: 'success' });
  const dsr = bulwark.dsr!;
  const req = await dsr.receive({ type: 'erasure', subjectId: SUBJECT });
  expect((await dsr.securityEvents(req.id)).count).toBe(3);
  await dsr.verifyIdentity(req.id);
  return dsr.erase(req.id);
}

describe('createBulwark: privacy.dsr.evidence', () => {
  it('derives the pseudonym key from audit.hmacKey, so pseudonyms are stable across restarts', async () => {
    const hmacKey = randomBytes(32);
    const derived = new Uint8Array(
      hkdfSync('sha256', hmacKey, new Uint8Array(0), 'bulwark/dsr-erasure-pseudonym/v1', 32),
    );
    const expected = new SubjectPseudonymizer({ key: derived }).pseudonym(SUBJECT);
    for (let run = 0; run < 2; run++) {
      const bulwark = await kit({ store: 'memory', verifyIdentity: () => true }, hmacKey);
      const result = await probeAndErase(bulwark);
      expect(result.auditPreserved).toBe(3);
      expect(result.evidencePseudonym).toBe(expected);
      expect((await bulwark.auditLog!.query({ actorId: expected, outcome: 'denied' })).entries).toHaveLength(
        3,
      );
      expect((await bulwark.auditLog!.verify()).ok).toBe(true);
      await bulwark.close();
    }
  });

  it('takes an explicit key and the configured rules', async () => {
    const pseudonymKey = randomBytes(32);
    const bulwark = await kit({
      store: 'memory',
      verifyIdentity: () => true,
      evidence: { pseudonymKey, outcomes: ['failure'] },
    });
    const result = await probeAndErase(bulwark);
    expect(result.auditPreserved).toBe(0);
    expect((await bulwark.auditLog!.query({ outcome: 'denied' })).entries).toEqual([]);
    await bulwark.close();
  });

  it('discardSecurityEvidence needs no key and keeps nothing', async () => {
    const bulwark = await kit({
      store: 'memory',
      verifyIdentity: () => true,
      evidence: { discardSecurityEvidence: true },
    });
    const result = await probeAndErase(bulwark);
    expect(result.auditPreserved).toBe(0);
    expect(JSON.stringify((await bulwark.auditLog!.query({ limit: 1000 })).entries)).not.toContain(SUBJECT);
    await bulwark.close();
  });
});
