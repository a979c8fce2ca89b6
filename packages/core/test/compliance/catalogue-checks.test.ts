import { AuditLog, AUDIT_REVIEW_ACTION } from '../../src/audit/audit-log';
import { MemoryAuditStore } from '../../src/audit/memory-audit-store';
import { runCheck, type CheckParams } from '../../src/compliance/automated-checks';
import { ComplianceKit } from '../../src/compliance/compliance-kit';
import type { CheckId } from '../../src/compliance/control';
import type { AuditEvidence, EvidenceBundle } from '../../src/compliance/evidence';
import { ErrorCodes } from '../../src/errors';
import { BreachRegister } from '../../src/privacy/breach-register';
import { DataRetention } from '../../src/privacy/data-retention';
import { fullKit, type FullKit } from './compliance-helpers';

// The checks added for the clauses the catalogue review found missing (issue 22), each against
// the live services of a fully configured kit, then against the input that must not pass.

const DAY = 86_400_000;
const HOUR = 3_600_000;

let f: FullKit;
beforeEach(async () => {
  f = await fullKit();
});
afterEach(async () => {
  await f.close();
});

const evidence = (kit: ComplianceKit = f.kit): Promise<EvidenceBundle> => kit.collectEvidence();
const check = async (id: CheckId, params: CheckParams = {}, kit: ComplianceKit = f.kit) =>
  runCheck(id, await evidence(kit), params);
/** The bundle as if collected `ms` later (for age limits; no timers in unit tests). */
const later = (bundle: EvidenceBundle, ms: number): EvidenceBundle => ({
  ...bundle,
  collectedAt: new Date(Date.parse(bundle.collectedAt) + ms).toISOString(),
});
const withAudit = (bundle: EvidenceBundle, data: Partial<AuditEvidence>): EvidenceBundle => ({
  ...bundle,
  audit: { ...bundle.audit!, data: { ...bundle.audit!.data, ...data } },
});

describe('every new check passes on the fully configured kit, with evidence', () => {
  it.each<[CheckId, CheckParams]>([
    ['audit.review', {}],
    ['audit.write-health', {}],
    ['privacy.lawful-basis', {}],
    ['dsr.rectification', {}],
    ['transfers.safeguards', {}],
    ['consent.records', {}],
    ['classification.inventory', {}],
    ['hashing.keyed-pan', {}],
    ['breach.deadline', { audience: 'authority', maxHours: 72 }],
    ['breach.deadline', { audience: 'subjects', maxHours: 1440 }],
    ['privacy.data-retention', {}],
  ])('%s %j', async (id, params) => {
    const outcome = await check(id, params);
    expect(outcome).toMatchObject({ status: 'pass' });
    expect(outcome.evidence.length).toBeGreaterThan(0);
  });

  it('each fails (never passes) on an empty kit', async () => {
    const bundle = await new ComplianceKit().collectEvidence();
    for (const id of [
      'audit.review',
      'audit.write-health',
      'privacy.lawful-basis',
      'dsr.rectification',
      'transfers.safeguards',
      'consent.records',
      'classification.inventory',
      'hashing.keyed-pan',
      'privacy.data-retention',
    ] as CheckId[]) {
      expect([id, runCheck(id, bundle, {}).status]).toEqual([id, 'fail']);
    }
    expect(runCheck('breach.deadline', bundle, { audience: 'subjects' }).status).toBe('fail');
  });
});

describe('audit.review and AuditLog.recordReview()', () => {
  it('fails when nobody recorded a review, passes once one is recorded, and fails when it grows old', async () => {
    const log = await AuditLog.open({ store: new MemoryAuditStore() });
    const kit = new ComplianceKit().register({ auditLog: log });
    await log.append({ actor: { id: 'u1', type: 'user' }, action: 'patient.read', outcome: 'success' });
    // Querying the log is not a review: only a recorded review counts.
    await log.query({ limit: 10 });
    const none = await check('audit.review', {}, kit);
    expect(none).toMatchObject({ status: 'fail' });
    expect(none.remediation).toContain('auditLog.recordReview({ by, scope })');

    const entry = await log.recordReview({
      by: 'ops-lead',
      scope: 'security events of the week',
      from: new Date(Date.now() - 7 * DAY),
      to: new Date(),
    });
    expect(entry).toMatchObject({
      action: AUDIT_REVIEW_ACTION,
      actor: { id: 'ops-lead', type: 'user' },
      category: 'audit',
      details: { scope: 'security events of the week' },
    });
    const bundle = await evidence(kit);
    expect(runCheck('audit.review', bundle, {})).toMatchObject({ status: 'pass' });
    expect(runCheck('audit.review', bundle, {}).summary).toContain('a person');
    // The evidence says when and by what kind of actor, never who.
    expect(bundle.audit!.data.lastReview).toMatchObject({ seq: entry.seq, actorType: 'user' });
    expect(JSON.stringify(bundle.audit)).not.toContain('ops-lead');

    expect(runCheck('audit.review', later(bundle, 8 * DAY), {})).toMatchObject({ status: 'fail' });
    // PCI DSS 10.4.1: daily.
    expect(runCheck('audit.review', later(bundle, 25 * HOUR), { maxAgeHours: 24 }).status).toBe('fail');
    expect(runCheck('audit.review', later(bundle, 23 * HOUR), { maxAgeHours: 24 }).status).toBe('pass');
    // A review time in the future is not trusted.
    expect(runCheck('audit.review', later(bundle, -HOUR), {}).status).toBe('fail');
    await log.close();
  });

  it('a log source that ignores the query filter does not make its latest entry a review', async () => {
    const log = await AuditLog.open({ store: new MemoryAuditStore() });
    await log.append({ actor: { id: 'u1', type: 'user' }, action: 'patient.read', outcome: 'success' });
    const careless = {
      size: log.size,
      retention: log.retention,
      verify: () => log.verify(),
      query: () => log.query({ order: 'desc', limit: 1 }),
    };
    const kit = new ComplianceKit().register({ auditLog: careless });
    const bundle = await evidence(kit);
    expect(bundle.audit!.data.lastReview).toBeUndefined();
    expect(runCheck('audit.review', bundle, {}).status).toBe('fail');
    await log.close();
  });

  it('does not accept a "review" event with no reviewer behind it', async () => {
    await f.auditLog.append({
      actor: { id: 'anon', type: 'anonymous' },
      action: AUDIT_REVIEW_ACTION,
      outcome: 'success',
    });
    const outcome = await check('audit.review');
    expect(outcome.status).toBe('fail');
    expect(outcome.summary).toContain('names no reviewer');
  });

  it.each([
    [null, /review must be an object/],
    [{ scope: 's' }, /review\.by/],
    [{ by: '', scope: 's' }, /review\.by/],
    [{ by: 'x'.repeat(257), scope: 's' }, /review\.by/],
    [{ by: 'a', scope: '' }, /review\.scope/],
    [{ by: 'a', byType: 'system', scope: 's' }, /review\.byType/],
    [{ by: 'a', scope: 's', from: 'yesterday' }, /review\.from must be a valid date/],
    [{ by: 'a', scope: 's', from: '2026-02-02T00:00:00Z', to: '2026-02-01T00:00:00Z' }, /must not be after/],
  ])('recordReview(%j) is refused with a typed error and writes nothing', async (input, message) => {
    const size = f.auditLog.size;
    await expect(f.auditLog.recordReview(input as never)).rejects.toMatchObject({
      code: ErrorCodes.AUDIT_INVALID_ARGUMENT,
      message: expect.stringMatching(message),
    });
    expect(f.auditLog.size).toBe(size);
  });
});

describe('audit.write-health', () => {
  it('is not demonstrated when the log does not report write health', async () => {
    const bundle = withAudit(await evidence(), { writes: undefined });
    expect(runCheck('audit.write-health', bundle, {}).status).toBe('not-demonstrated');
  });

  it('fails while writes fail, names the failure, and passes after a recovery saying what was lost', async () => {
    const base = await evidence();
    const failing = runCheck(
      'audit.write-health',
      withAudit(base, {
        writes: {
          failed: 3,
          succeeded: 10,
          failing: true,
          lastFailureAt: '2026-12-04T10:00:00.000Z',
          lastFailureCode: 'ERR_AUDIT_STORE',
        },
      }),
      {},
    );
    expect(failing).toMatchObject({ status: 'fail' });
    expect(failing.summary).toContain('ERR_AUDIT_STORE');
    const recovered = runCheck(
      'audit.write-health',
      withAudit(base, { writes: { failed: 3, succeeded: 11, failing: false } }),
      {},
    );
    expect(recovered.status).toBe('pass');
    expect(recovered.summary).toContain('3 failed writes were detected');
    expect(
      runCheck(
        'audit.write-health',
        withAudit(base, { writes: { failed: 0, succeeded: 0, failing: false } }),
        {},
      ).status,
    ).toBe('not-demonstrated');
  });
});

describe('privacy.lawful-basis', () => {
  it('fails for an activity with no basis or one naming none of Art. 6(1), and accepts each of the six', async () => {
    f.processing.register({
      id: 'ads',
      name: 'Ads',
      purposes: ['account'],
      entities: ['User'],
      subjectCategories: ['customers'],
      retention: { days: 30, description: 'a month' },
      securityMeasures: ['access control'],
    });
    f.processing.register({
      id: 'growth',
      name: 'Growth',
      purposes: ['account'],
      lawfulBasis: 'business needs',
      entities: ['User'],
      subjectCategories: ['customers'],
      retention: { days: 30, description: 'a month' },
      securityMeasures: ['access control'],
    });
    const outcome = await check('privacy.lawful-basis');
    expect(outcome.status).toBe('fail');
    expect(outcome.summary).toContain('no lawful basis: ads');
    expect(outcome.summary).toContain('growth');
    const bundle = await evidence();
    for (const basis of [
      'consent',
      'contract',
      'legal obligation (tax law)',
      'vital interests',
      'public task',
      'Art. 6(1)(f)',
    ]) {
      const b: EvidenceBundle = {
        ...bundle,
        processing: {
          ...bundle.processing!,
          data: { activities: [{ id: 'a', name: 'A', purposes: ['p'], lawfulBasis: basis }] },
        },
      };
      expect([basis, runCheck('privacy.lawful-basis', b, {}).status]).toEqual([basis, 'pass']);
    }
  });
});

describe('dsr.rectification', () => {
  it('names a source that cannot rectify', async () => {
    f.dsr.registerSource({ id: 'crm', describe: 'CRM', export: () => [], erase: () => 0 });
    const outcome = await check('dsr.rectification');
    expect(outcome.status).toBe('fail');
    expect(outcome.summary).toContain('crm');
    expect(outcome.summary).not.toContain('users-db');
  });
});

describe('transfers.safeguards', () => {
  const recipient = (id: string, extra: Record<string, unknown>) => ({
    id,
    name: id,
    role: 'processor' as const,
    agreements: [{ type: 'DPA' as const, signedAt: '2024-01-01T00:00:00.000Z' }],
    scope: { dataCategories: ['personal'], purposes: ['account'] },
    ...extra,
  });

  it('accepts adequacy for a country with a decision and signed SCCs', async () => {
    f.processors.register(recipient('mail-us', { country: 'US', transferMechanism: 'adequacy' }));
    f.processors.register(
      recipient('crm-in', {
        country: 'IN',
        transferMechanism: 'SCC',
        agreements: [
          { type: 'DPA', signedAt: '2024-01-01T00:00:00.000Z' },
          { type: 'SCC', signedAt: '2024-01-01T00:00:00.000Z' },
        ],
      }),
    );
    const outcome = await check('transfers.safeguards');
    expect(outcome).toMatchObject({ status: 'pass' });
    expect(outcome.summary).toContain('2 of 3 recipients are outside the EEA');
  });

  it.each([
    [{ country: 'US' }, 'no transfer mechanism'],
    [{ country: 'CN', transferMechanism: 'adequacy' }, 'no adequacy decision'],
    [{ country: 'IN', transferMechanism: 'SCC' }, 'SCCs not signed'],
    [{}, 'country not recorded'],
  ])('fails for a recipient %j (%s)', async (extra, reason) => {
    f.processors.register(recipient('x', extra));
    const outcome = await check('transfers.safeguards');
    expect(outcome.status).toBe('fail');
    expect(outcome.summary).toContain(reason);
  });

  it('is not applicable with no recipients', async () => {
    const bundle = await evidence();
    const empty = { ...bundle, processors: { ...bundle.processors!, data: { processors: [], gaps: [] } } };
    expect(runCheck('transfers.safeguards', empty, {}).status).toBe('not-applicable');
  });
});

describe('consent.records', () => {
  it('fails for a consent-based purpose without a versioned text, and is n/a without consent purposes', async () => {
    const bundle = await evidence();
    const purposes = bundle.consent!.data.purposes.map((p) => ({ ...p, version: undefined }));
    const b = { ...bundle, consent: { ...bundle.consent!, data: { purposes } } };
    expect(runCheck('consent.records', b, {}).status).toBe('fail');
    const none = {
      ...bundle,
      consent: {
        ...bundle.consent!,
        data: { purposes: purposes.map((p) => ({ ...p, requiresConsent: false })) },
      },
    };
    expect(runCheck('consent.records', none, {}).status).toBe('not-applicable');
  });
});

describe('classification.inventory', () => {
  it('fails when the record of processing names an entity with no classified field', async () => {
    f.processing.register({
      id: 'billing',
      name: 'Billing',
      purposes: ['billing'],
      lawfulBasis: 'contract',
      entities: ['Invoice'],
      subjectCategories: ['customers'],
      retention: { days: 3650, description: 'ten years' },
      securityMeasures: ['access control'],
    });
    const outcome = await check('classification.inventory');
    expect(outcome.status).toBe('fail');
    expect(outcome.summary).toContain('Invoice');
  });

  it('fails on an empty registry', async () => {
    for (const fld of f.classification.list()) f.classification.unregister(fld.entity, fld.field);
    expect((await check('classification.inventory')).status).toBe('fail');
  });
});

describe('hashing.keyed-pan', () => {
  it('fails when a hashed cardholder field keeps its value unencrypted, and is n/a when nothing is hashed', async () => {
    f.classification.register({
      entity: 'Card',
      field: 'number',
      category: 'cardholder',
      encrypted: false,
      blindIndexed: true,
    });
    const outcome = await check('hashing.keyed-pan');
    expect(outcome.status).toBe('fail');
    expect(outcome.summary).toContain('Card.number');
    f.classification.unregister('Card', 'number');
    f.classification.unregister('Payment', 'pan');
    f.classification.register({ entity: 'Payment', field: 'pan', category: 'cardholder', encrypted: true });
    expect((await check('hashing.keyed-pan')).status).toBe('not-applicable');
  });
});

describe('breach.deadline', () => {
  const kitWith = (breaches: BreachRegister) => new ComplianceKit().register({ breaches });

  it('is not demonstrated without an incident or drill in the period', async () => {
    const outcome = await check('breach.deadline', { audience: 'authority' }, kitWith(new BreachRegister()));
    expect(outcome.status).toBe('not-demonstrated');
    // An incident 10 days old is outside a 7-day period.
    const old = new BreachRegister();
    await old.record({
      title: 'Lost laptop',
      detectedAt: new Date(Date.now() - 10 * 86_400_000),
      severity: 'low',
      affectedSubjects: 1,
      dataCategories: ['personal'],
    });
    expect(
      (await check('breach.deadline', { audience: 'authority', periodDays: 7 }, kitWith(old))).status,
    ).toBe('not-demonstrated');
    // A drill recorded today demonstrates the procedure (the fully configured kit records one).
    expect((await check('breach.deadline', { audience: 'authority', periodDays: 7 })).status).toBe('pass');
  });

  it('fails for a clock longer than the rule, an overdue notice and a late one', async () => {
    const slow = new BreachRegister({ deadlines: { authorityHours: 96 } });
    await slow.record({
      title: 't',
      detectedAt: new Date(Date.now() - HOUR),
      severity: 'low',
      affectedSubjects: 1,
      dataCategories: ['personal'],
    });
    const clock = await check('breach.deadline', { audience: 'authority', maxHours: 72 }, kitWith(slow));
    expect(clock.status).toBe('fail');
    expect(clock.summary).toContain('more than 72 h after detection');

    const overdue = new BreachRegister();
    await overdue.record({
      id: 'b-1',
      title: 't',
      detectedAt: new Date(Date.now() - 4 * DAY),
      severity: 'high',
      affectedSubjects: 10,
      dataCategories: ['personal'],
    });
    const o = await check('breach.deadline', { audience: 'authority', maxHours: 72 }, kitWith(overdue));
    expect(o.status).toBe('fail');
    expect(o.summary).toContain('b-1: overdue');
    // The subjects' 60-day clock has not run out yet.
    expect(
      (await check('breach.deadline', { audience: 'subjects', maxHours: 1440 }, kitWith(overdue))).status,
    ).toBe('pass');
    await overdue.notify('b-1', { to: 'authority' });
    const late = await check('breach.deadline', { audience: 'authority', maxHours: 72 }, kitWith(overdue));
    expect(late.status).toBe('fail');
    expect(late.summary).toContain('after the deadline');
  });

  it('skips a notification the assessment found not required', async () => {
    const r = new BreachRegister();
    await r.record({
      title: 't',
      detectedAt: new Date(Date.now() - 100 * DAY),
      severity: 'low',
      affectedSubjects: 1,
      dataCategories: ['personal'],
      notify: { authority: { reason: 'encrypted, key not compromised' }, subjects: { reason: 'no risk' } },
    });
    expect((await check('breach.deadline', { audience: 'authority' }, kitWith(r))).status).toBe('pass');
  });

  it('fails closed without an audience parameter', async () => {
    const outcome = await check('breach.deadline', {});
    expect(outcome.status).toBe('fail');
    expect(outcome.summary).toContain('audience');
  });
});

describe('privacy.data-retention reads the last purge run', () => {
  it('fails for a source never purged, names a failed purge, and fails when the last run is too old', async () => {
    const retention = new DataRetention();
    retention.addPolicy({ category: 'personal', days: 30, basis: 'b' });
    retention.registerSource({ id: 'ok', category: 'personal', purge: () => 0 });
    const kit = new ComplianceKit().register({ dataRetention: retention });
    const never = await check('privacy.data-retention', {}, kit);
    expect(never.status).toBe('fail');
    expect(never.summary).toContain('ok: never purged');

    await retention.purge();
    expect((await check('privacy.data-retention', {}, kit)).status).toBe('pass');
    const bundle = await evidence(kit);
    const stale = runCheck('privacy.data-retention', later(bundle, 32 * DAY), {});
    expect(stale.status).toBe('fail');
    expect(stale.summary).toContain('more than 31 days ago');
    expect(runCheck('privacy.data-retention', later(bundle, 32 * DAY), { maxPurgeAgeDays: 40 }).status).toBe(
      'pass',
    );

    retention.registerSource({
      id: 'broken',
      category: 'personal',
      purge: () => {
        throw new Error('db gone');
      },
    });
    await expect(retention.purge()).rejects.toMatchObject({ code: ErrorCodes.RETENTION_PURGE_FAILED });
    const failed = await check('privacy.data-retention', {}, kit);
    expect(failed.status).toBe('fail');
    expect(failed.summary).toContain('broken: the last purge');
    expect(failed.summary).toContain('failed');
  });

  it('counts a run a legal hold blocked as a run, and says so', async () => {
    await f.dataRetention.addHold({ id: 'case-1', reason: 'litigation', sourceId: 'users-db' });
    await f.dataRetention.purge();
    const outcome = await check('privacy.data-retention');
    expect(outcome.status).toBe('pass');
    expect(outcome.summary).toContain('1 were blocked by a legal hold');
  });
});
