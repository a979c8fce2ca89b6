import { createHash } from 'node:crypto';
import { AuditLog } from '../../src/audit/audit-log';
import { MemoryAuditStore } from '../../src/audit/memory-audit-store';
import { BulwarkConsentError, ErrorCodes } from '../../src/errors';
import { ConsentManager } from '../../src/privacy/consent-manager';
import type { ConsentRecord, ConsentStore } from '../../src/privacy/consent-store';
import { MemoryConsentStore } from '../../src/privacy/memory-consent-store';
import { codeOf, errorOf, manualClock } from './privacy-helpers';

const sha = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');
const NEWSLETTER_V1 = 'We may e-mail you our newsletter.';
const NEWSLETTER_V2 = 'We may e-mail you our newsletter and partner offers.';

function manager(store: ConsentStore = new MemoryConsentStore(), auditLog?: AuditLog) {
  const clock = manualClock();
  const consent = new ConsentManager({ store, auditLog, clock: clock.now });
  consent.registerPurpose({
    id: 'newsletter',
    name: 'Newsletter',
    version: 1,
    text: NEWSLETTER_V1,
    marketing: true,
  });
  consent.registerPurpose({ id: 'analytics', name: 'Analytics', version: 1, text: 'We measure usage.' });
  return { consent, clock };
}

describe('ConsentManager', () => {
  it('grants, checks and withdraws; withdrawn consent checks false', async () => {
    const { consent, clock } = manager();
    expect(await consent.check('u-1', 'newsletter')).toEqual({
      purposeId: 'newsletter',
      granted: false,
      state: 'none',
      version: null,
      at: null,
      needsRenewal: false,
    });
    const g = await consent.grant('u-1', 'newsletter', {
      ip: '203.0.113.9',
      userAgent: 'UA',
      source: 'signup-form',
    });
    expect(g).toMatchObject({
      action: 'granted',
      version: 1,
      textHash: sha(NEWSLETTER_V1),
      ip: '203.0.113.9',
    });
    expect(await consent.check('u-1', 'newsletter')).toMatchObject({
      granted: true,
      state: 'granted',
      version: 1,
    });
    expect((await consent.check('u-1', 'analytics')).granted).toBe(false);
    expect((await consent.check('u-2', 'newsletter')).granted).toBe(false);

    clock.advance(1000);
    // Same inputs as grant (Art. 7(3)).
    await consent.withdraw('u-1', 'newsletter', {
      ip: '203.0.113.9',
      userAgent: 'UA',
      source: 'signup-form',
    });
    const status = await consent.check('u-1', 'newsletter');
    expect(status).toMatchObject({
      granted: false,
      state: 'withdrawn',
      version: 1,
      at: '2025-03-01T09:00:01.000Z',
    });
    expect(await codeOf(() => consent.enforce('u-1', 'newsletter'))).toBe(ErrorCodes.CONSENT_REQUIRED);

    clock.advance(1000);
    await consent.grant('u-1', 'newsletter');
    expect((await consent.enforce('u-1', 'newsletter')).granted).toBe(true);
  });

  it('keeps the full history in order, per subject and purpose', async () => {
    const { consent } = manager();
    await consent.grant('u-1', 'newsletter');
    await consent.grant('u-1', 'analytics');
    await consent.withdraw('u-1', 'newsletter');
    await consent.grant('u-2', 'newsletter');
    const all = await consent.history('u-1');
    expect(all.map((r) => `${r.purposeId}:${r.action}`)).toEqual([
      'newsletter:granted',
      'analytics:granted',
      'newsletter:withdrawn',
    ]);
    expect((await consent.history('u-1', 'newsletter')).map((r) => r.action)).toEqual([
      'granted',
      'withdrawn',
    ]);
    expect(all.every((r) => r.subjectId === 'u-1' && /^[0-9a-f-]{36}$/.test(r.id))).toBe(true);
  });

  it('a text version bump asks for renewal; a minVersion bump invalidates old consent', async () => {
    const { consent } = manager();
    await consent.grant('u-1', 'newsletter');
    // Minor change: v2 published, v1 consent still valid but renewal suggested.
    consent.registerPurpose({ id: 'newsletter', name: 'Newsletter', version: 2, text: NEWSLETTER_V2 });
    expect(consent.purpose('newsletter')).toMatchObject({
      currentVersion: 2,
      minVersion: 1,
      marketing: true,
    });
    expect(await consent.check('u-1', 'newsletter')).toMatchObject({
      granted: true,
      needsRenewal: true,
      version: 1,
    });

    // Material change: consent below v2 no longer counts.
    consent.registerPurpose({
      id: 'newsletter',
      name: 'Newsletter',
      version: 2,
      text: NEWSLETTER_V2,
      minVersion: 2,
    });
    expect(await consent.check('u-1', 'newsletter')).toMatchObject({
      granted: false,
      state: 'outdated',
      needsRenewal: true,
      version: 1,
    });
    expect(await codeOf(() => consent.enforce('u-1', 'newsletter'))).toBe(ErrorCodes.CONSENT_REQUIRED);
    // Granting the outdated text is refused; granting the current one renews.
    expect(await codeOf(() => consent.grant('u-1', 'newsletter', { version: 1 }))).toBe(
      ErrorCodes.CONSENT_UNKNOWN_VERSION,
    );
    const renewed = await consent.grant('u-1', 'newsletter');
    expect(renewed).toMatchObject({ version: 2, textHash: sha(NEWSLETTER_V2) });
    expect(await consent.check('u-1', 'newsletter')).toMatchObject({
      granted: true,
      needsRenewal: false,
      version: 2,
    });
  });

  it('accepts requiresRenewalBelow as an alias of minVersion', () => {
    const { consent } = manager();
    const p = consent.registerPurpose({
      id: 'newsletter',
      name: 'N',
      version: 2,
      text: NEWSLETTER_V2,
      requiresRenewalBelow: 2,
    });
    expect(p.minVersion).toBe(2);
  });

  it('refuses to re-use a version number for a different text', async () => {
    const { consent } = manager();
    const err = await errorOf(() =>
      consent.registerPurpose({ id: 'newsletter', name: 'Newsletter', version: 1, text: 'something else' }),
    );
    expect(err).toBeInstanceOf(BulwarkConsentError);
    expect(err.code).toBe(ErrorCodes.CONSENT_VERSION_CONFLICT);
    // same text again is idempotent
    expect(
      consent.registerPurpose({ id: 'newsletter', name: 'Newsletter', version: 1, text: NEWSLETTER_V1 })
        .versions,
    ).toHaveLength(1);
  });

  it('writes consent.granted / consent.withdrawn audit events with the text hash and ip', async () => {
    const log = await AuditLog.open({ store: new MemoryAuditStore() });
    const { consent } = manager(new MemoryConsentStore(), log);
    const g = await consent.grant('u-1', 'newsletter', { ip: '198.51.100.4', source: 'banner' });
    await consent.withdraw('u-1', 'newsletter', { ip: '198.51.100.4' });
    const { entries } = await log.query({ action: 'consent.*' });
    expect(entries.map((e) => e.action)).toEqual(['consent.granted', 'consent.withdrawn']);
    expect(entries[0]).toMatchObject({
      actor: { id: 'u-1', type: 'user', ip: '198.51.100.4' },
      resource: { type: 'consent-purpose', id: 'newsletter' },
      category: 'consent',
      time: g.at,
      details: {
        purposeId: 'newsletter',
        version: 1,
        textHash: sha(NEWSLETTER_V1),
        recordId: g.id,
        source: 'banner',
      },
    });
    expect(entries[1]!.details).toMatchObject({ textHash: sha(NEWSLETTER_V1), version: 1 });
    expect((await log.verify()).ok).toBe(true);
    await log.close();
  });

  it('does not record a change the audit log refuses (fail closed)', async () => {
    const store = new MemoryConsentStore();
    const consent = new ConsentManager({
      store,
      auditLog: { append: async () => Promise.reject(new Error('disk full')) },
    });
    consent.registerPurpose({ id: 'p', name: 'P', version: 1, text: 't' });
    const err = await errorOf(() => consent.grant('someone@example.com', 'p'));
    expect(err.code).toBe(ErrorCodes.CONSENT_STORE);
    expect(err.message).not.toContain('someone@example.com');
    expect(JSON.stringify(err.details)).not.toContain('someone@example.com');
    expect(await store.history('someone@example.com')).toEqual([]);
  });

  it('rejects unknown purposes and bad input with typed errors that never echo the subject id', async () => {
    const { consent } = manager();
    expect(await codeOf(() => consent.grant('u-1', 'nope'))).toBe(ErrorCodes.CONSENT_UNKNOWN_PURPOSE);
    expect(await codeOf(() => consent.check('u-1', 'nope'))).toBe(ErrorCodes.CONSENT_UNKNOWN_PURPOSE);
    expect(await codeOf(() => consent.withdraw('u-1', 'nope'))).toBe(ErrorCodes.CONSENT_UNKNOWN_PURPOSE);
    expect(await codeOf(() => consent.history('u-1', 'nope'))).toBe(ErrorCodes.CONSENT_UNKNOWN_PURPOSE);
    expect(await codeOf(() => consent.grant('', 'newsletter'))).toBe(ErrorCodes.CONSENT_INVALID_ARGUMENT);
    expect(await codeOf(() => consent.grant('u-1', 'newsletter', { ip: 'not-an-ip' }))).toBe(
      ErrorCodes.CONSENT_INVALID_ARGUMENT,
    );
    expect(await codeOf(() => consent.grant('u-1', 'newsletter', { version: 9 }))).toBe(
      ErrorCodes.CONSENT_UNKNOWN_VERSION,
    );
    expect(await codeOf(() => consent.grant('u-1', 'newsletter', { version: 0 }))).toBe(
      ErrorCodes.CONSENT_INVALID_ARGUMENT,
    );
    expect(await codeOf(() => consent.registerPurpose({ id: 'x y', name: 'n', version: 1, text: 't' }))).toBe(
      ErrorCodes.CONSENT_INVALID_ARGUMENT,
    );
    expect(await codeOf(() => consent.registerPurpose({ id: 'x', name: 'n', version: 1, text: '' }))).toBe(
      ErrorCodes.CONSENT_INVALID_ARGUMENT,
    );
    expect(
      await codeOf(() =>
        consent.registerPurpose({ id: 'x', name: 'n', version: 1, text: 't', minVersion: 2 }),
      ),
    ).toBe(ErrorCodes.CONSENT_INVALID_ARGUMENT);
    expect(() => new ConsentManager({ store: {} as ConsentStore })).toThrow(BulwarkConsentError);
  });

  it('truncates an oversized user agent instead of refusing the withdrawal', async () => {
    const { consent } = manager();
    await consent.grant('u-1', 'newsletter');
    const r = await consent.withdraw('u-1', 'newsletter', { userAgent: 'x'.repeat(10_000) });
    expect(r.userAgent).toHaveLength(512);
    expect((await consent.check('u-1', 'newsletter')).granted).toBe(false);
  });

  it('wraps store failures in ERR_CONSENT_STORE', async () => {
    const broken: ConsentStore = {
      append: async () => {
        throw new Error('db down');
      },
      latest: async () => {
        throw new Error('db down');
      },
      history: async () => [] as ConsentRecord[],
    };
    const consent = new ConsentManager({ store: broken });
    consent.registerPurpose({ id: 'p', name: 'P', version: 1, text: 't' });
    expect(await codeOf(() => consent.grant('u', 'p'))).toBe(ErrorCodes.CONSENT_STORE);
    expect(await codeOf(() => consent.check('u', 'p'))).toBe(ErrorCodes.CONSENT_STORE);
  });

  it('lists purposes with flags and text hashes as evidence, and counts grants without ids', async () => {
    const { consent } = manager();
    consent.registerPurpose({
      id: 'essential',
      name: 'Essential',
      version: 1,
      text: 'needed',
      requiresConsent: false,
    });
    await consent.grant('u-1', 'newsletter');
    await consent.grant('u-2', 'newsletter');
    await consent.withdraw('u-2', 'newsletter');
    const purposes = consent.purposes();
    expect(purposes.map((p) => p.id)).toEqual(['analytics', 'essential', 'newsletter']);
    expect(purposes.find((p) => p.id === 'newsletter')).toMatchObject({
      marketing: true,
      requiresConsent: true,
      versions: [{ version: 1, textHash: sha(NEWSLETTER_V1) }],
    });
    expect(purposes.find((p) => p.id === 'essential')?.requiresConsent).toBe(false);
    expect(await consent.grantCounts()).toEqual({ analytics: 0, essential: 0, newsletter: 1 });
  });

  it('exposes consent history as a DSR data source; erasing records is opt-in', async () => {
    const store = new MemoryConsentStore();
    const { consent } = manager(store);
    await consent.grant('u-1', 'newsletter', { ip: '203.0.113.1' });
    const source = consent.dataSource();
    expect(source.erase).toBeUndefined();
    const records = await source.export('u-1');
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({
      type: 'ConsentRecord',
      fields: { purposeId: 'newsletter', ip: '203.0.113.1' },
    });
    const erasing = consent.dataSource({ eraseRecords: true });
    expect(await erasing.erase!('u-1')).toBe(1);
    expect(await consent.history('u-1')).toEqual([]);
  });
});
