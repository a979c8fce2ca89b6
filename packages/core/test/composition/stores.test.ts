import { createBulwark, type BulwarkConfig } from '../../src/bulwark';
import { MemoryBreakGlassStore } from '../../src/authz/break-glass-store';
import { MemoryAttestationStore } from '../../src/compliance/attestation';
import { KeyRing, MemoryKeyStore } from '../../src/crypto/key-ring';
import { EnvKeyProvider } from '../../src/crypto/env-key-provider';
import { generateMasterKey } from '../../src/crypto/master-key';
import { BulwarkConfigError, ErrorCodes } from '../../src/errors';
import { MemoryMfaStore } from '../../src/mfa/memory-mfa-store';
import { MemoryConsentStore } from '../../src/privacy/memory-consent-store';
import { MemoryDsrStore } from '../../src/privacy/memory-dsr-store';
import { MemoryRegisterStore } from '../../src/privacy/register-store';
import { memoryProvider, weakPasswords } from './composition-helpers';

/** One set of stores, as two instances on one database would share them. */
function sharedStores() {
  return {
    masterKey: memoryProvider(), // the same master key on every instance
    keys: new MemoryKeyStore(),
    consent: new MemoryConsentStore(),
    dsr: new MemoryDsrStore(),
    mfa: new MemoryMfaStore(),
    breakGlass: new MemoryBreakGlassStore(),
    breaches: new MemoryRegisterStore<never>(),
    processors: new MemoryRegisterStore<never>(),
    processing: new MemoryRegisterStore<never>(),
    retentionRules: new MemoryRegisterStore<never>(),
    legalHolds: new MemoryRegisterStore<never>(),
    attestations: new MemoryAttestationStore(),
  };
}

const processor = {
  id: 'mailer',
  name: 'Mailer',
  role: 'processor' as const,
  scope: { dataCategories: ['personal'], purposes: ['news'] },
};

function config(shared: ReturnType<typeof sharedStores>, name = 'Mailer'): BulwarkConfig {
  const { masterKey, ...stores } = shared;
  return {
    passwords: weakPasswords,
    keys: { masterKey, ensure: ['pii'] } as BulwarkConfig['keys'],
    audit: { store: 'memory' },
    authz: { policy: { version: 1, roles: { nurse: {} }, policies: [] } },
    mfa: { policy: { requiredFor: [] }, totp: { issuer: 'T' }, recoveryCodes: { count: 2 } },
    privacy: {
      consent: { purposes: [{ id: 'news', name: 'News', version: 1, text: 'News.' }] },
      dsr: { verifyIdentity: () => true, evidence: { discardSecurityEvidence: true } },
      processors: [{ ...processor, name }],
      processing: { controller: { name: 'C' } },
      retention: { rules: [{ category: 'personal', days: 30, basis: 'b' }] },
      breaches: {},
    },
    compliance: {},
    stores,
  };
}

describe('createBulwark({ stores })', () => {
  it('hands every section its shared store: two instances see each other, config is seeded once', async () => {
    const stores = sharedStores();
    const a = await createBulwark(config(stores));
    const b = await createBulwark(config(stores));
    try {
      const request = await a.dsr!.receive({ type: 'access', subjectId: 'alice' });
      expect((await b.dsr!.get(request.id))?.status).toBe('received');
      await a.consent!.grant('alice', 'news');
      expect((await b.consent!.check('alice', 'news')).granted).toBe(true);
      await a.breaches!.record({
        id: 'inc',
        title: 't',
        detectedAt: new Date(),
        severity: 'low',
        affectedSubjects: 1,
        dataCategories: ['personal'],
      });
      expect((await b.breaches!.list()).map((i) => i.id)).toEqual(['inc']);
      await a.dataRetention!.addHold({ id: 'h', reason: 'r', category: 'personal' });
      expect((await b.dataRetention!.holds()).map((h) => h.id)).toEqual(['h']);
      expect((await stores.processors.get('mailer'))!.version).toBe(1); // seeded once, unchanged
      const enrolment = await a.totp!.enroll('u1', { label: 'u1' });
      expect(enrolment.secret).toMatch(/^[A-Z2-7]+$/);
      expect(await b.totp!.isEnrolled('u1')).toBe(false); // enrolled, not yet confirmed
      expect((await stores.mfa.getTotp('u1'))!.secret).toMatch(/^bw2\./); // ring-encrypted at rest

      // Break-glass: the adapters' authorizer reads grants through the store.
      const grant = await a.policyEngine!.grantBreakGlass({
        actor: { id: 'nina' },
        reason: 'emergency',
        actions: 'read',
        resources: 'records/*',
        durationMs: 60_000,
      });
      expect(b.authorizer).not.toBe(b.policyEngine);
      const d = await b.authorizer!.check({ id: 'nina', roles: ['nurse'] }, 'read', {
        type: 'records',
        id: 'r1',
      });
      expect(d.breakGlassId).toBe(grant.id);

      // Attestations of manual controls: given on one instance, counted on the other.
      const manual = a.compliance!.catalogue.list().find((c) => c.manual !== undefined)!;
      await a.compliance!.attest(manual.id, {
        by: 'Ada',
        role: 'CISO',
        statement: 'Reviewed.',
        expiresAt: new Date(Date.now() + 86_400_000),
      });
      expect((await b.compliance!.attestations()).map((v) => v.controlId)).toEqual([manual.id]);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('a configuration change is applied by the next instance to start (the config is the source of truth)', async () => {
    const stores = sharedStores();
    const a = await createBulwark(config(stores));
    const b = await createBulwark(config(stores, 'Mailer GmbH'));
    try {
      expect((await a.processors!.get('mailer'))!.name).toBe('Mailer GmbH');
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("a section's own store wins", async () => {
    const stores = sharedStores();
    const own = new MemoryDsrStore();
    const c = config(stores);
    c.privacy!.dsr = { ...c.privacy!.dsr, store: own };
    const bulwark = await createBulwark(c);
    try {
      const r = await bulwark.dsr!.receive({ type: 'access', subjectId: 'bob' });
      expect(await own.get(r.id)).toBeDefined();
      expect(await stores.dsr.get(r.id)).toBeUndefined();
    } finally {
      await bulwark.close();
    }
  });

  it.each([
    ['not an object', 'memory', 'stores'],
    ['an unknown store', { ledger: {} }, 'stores.ledger'],
    ['a store of the wrong kind', { dsr: new MemoryConsentStore() }, 'stores.dsr'],
    ['a register store without versions', { breaches: { get() {}, list() {} } }, 'stores.breaches'],
    ['an attestation store that cannot list', { attestations: { append() {} } }, 'stores.attestations'],
  ])('refuses %s', async (_name, stores, path) => {
    const err = await createBulwark({ passwords: weakPasswords, stores } as unknown as BulwarkConfig).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(BulwarkConfigError);
    expect(err).toMatchObject({ code: ErrorCodes.CONFIG_INVALID, details: { path } });
  });
});

describe('createBulwark({ keys: { acceptFormat1 } })', () => {
  it('passes acceptFormat1: false to the ring: format-1 envelopes are refused', async () => {
    const env = { BULWARK_MASTER_KEY: generateMasterKey() };
    const masterKey = new EnvKeyProvider({ env });
    const store = new MemoryKeyStore();
    const legacyRing = await KeyRing.open({
      provider: new EnvKeyProvider({ env }),
      store,
      envelopeFormat: 1,
    });
    await legacyRing.createKey('pii');
    const legacy = legacyRing.encrypt('pii', 'ada', { aad: 'a' });
    await legacyRing.close();
    const bulwark = await createBulwark({
      passwords: weakPasswords,
      keys: { masterKey, store, acceptFormat1: false } as BulwarkConfig['keys'],
    });
    try {
      expect(() => bulwark.keyRing!.decrypt(legacy, { aad: 'a' })).toThrow(
        expect.objectContaining({ code: ErrorCodes.CRYPTO_DECRYPTION_FAILED }),
      );
    } finally {
      await bulwark.close();
    }
  });
});
