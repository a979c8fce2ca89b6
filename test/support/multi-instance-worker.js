/**
 * One "instance" of an application for test/multi-instance.test.ts: the BUILT @bulwark/core and
 * @bulwark/typeorm, createBulwark with every register on one PostgreSQL database through
 * `stores: bulwarkStores(dataSource)`. Driven over IPC: { op: 'write' | 'update' | 'read' }.
 * Environment: MI_DB_URL (database), BULWARK_MASTER_KEY and MI_HMAC_KEY (shared by every
 * instance), MI_CLOCK_OFFSET_SEC (this instance's clock, ahead of real time by that much).
 */
'use strict';
const path = require('node:path');
const { DataSource } = require('typeorm');
const { createBulwark } = require('@bulwark/core');
const { bulwarkStores, bulwarkStoreEntities } = require('@bulwark/typeorm');

const CORE_DIST = path.dirname(require.resolve('@bulwark/core'));
const { totpCode, totpStep } = require(path.join(CORE_DIST, 'mfa', 'totp-code.js'));
const { base32Decode } = require(path.join(CORE_DIST, 'mfa', 'base32.js'));

const offsetMs = Number(process.env.MI_CLOCK_OFFSET_SEC ?? '0') * 1000;
const clock = () => new Date(Date.now() + offsetMs);

const POLICY = {
  version: 1,
  roles: { doctor: {}, nurse: {} },
  policies: [
    {
      id: 'clinic',
      rules: [
        {
          id: 'doctors-read',
          effect: 'allow',
          roles: ['doctor'],
          actions: ['patient:read'],
          resources: ['records/*'],
        },
      ],
    },
  ],
};

async function open() {
  const dataSource = await new DataSource({
    type: 'postgres',
    url: process.env.MI_DB_URL,
    entities: bulwarkStoreEntities,
    logging: false,
  }).initialize();
  const bulwark = await createBulwark({
    clock,
    keys: { masterKey: { env: 'BULWARK_MASTER_KEY' }, ensure: ['pii'] },
    passwords: { memoryCost: 1024, timeCost: 1, allowWeakParameters: true },
    audit: { store: 'memory', hmacKey: { env: 'MI_HMAC_KEY' } },
    authz: { policy: POLICY },
    mfa: { policy: { requiredFor: ['doctor'] }, totp: { issuer: 'Clinic' }, recoveryCodes: { count: 4 } },
    privacy: {
      consent: {
        purposes: [{ id: 'newsletter', name: 'Newsletter', version: 1, text: 'News.', marketing: true }],
      },
      dsr: { verifyIdentity: () => true },
      processors: [
        {
          id: 'mailer',
          name: 'Mailer Ltd',
          role: 'processor',
          agreements: [{ type: 'DPA', signedAt: '2024-01-01T00:00:00.000Z' }],
          scope: { dataCategories: ['personal'], purposes: ['newsletter'] },
        },
      ],
      processing: {
        controller: { name: 'Clinic' },
        activities: [
          {
            id: 'newsletter',
            name: 'Newsletter',
            purposes: ['newsletter'],
            subjectCategories: ['patients'],
            recipients: ['mailer'],
            retention: { description: 'until withdrawal' },
            securityMeasures: ['TLS'],
          },
        ],
      },
      retention: { rules: [{ category: 'personal', days: 3650, basis: 'records law' }] },
      breaches: {},
    },
    stores: bulwarkStores(dataSource),
  });
  return { dataSource, bulwark };
}

const codeAt = (secret, ms) => totpCode(base32Decode(secret), totpStep(ms, 30), 'sha1', 6);

async function handle(b, msg) {
  switch (msg.op) {
    case 'write': {
      const request = await b.dsr.receive({ type: 'erasure', subjectId: 'patient-7' });
      await b.dsr.verifyIdentity(request.id);
      const incident = await b.breaches.record({
        id: 'inc-2025-01',
        title: 'Misdirected letter',
        detectedAt: clock().toISOString(),
        severity: 'medium',
        affectedSubjects: 1,
        dataCategories: ['personal'],
      });
      await b.breaches.notify(incident.id, { to: 'authority', reference: 'DPA-1' });
      await b.processors.register({
        id: 'sms',
        name: 'SMS Co',
        role: 'processor',
        scope: { dataCategories: ['personal'], purposes: ['reminders'] },
      });
      await b.processing.register({
        id: 'reminders',
        name: 'Appointment reminders',
        purposes: ['reminders'],
        subjectCategories: ['patients'],
        recipients: ['sms'],
        retention: { description: '30 days' },
        securityMeasures: ['TLS'],
      });
      await b.dataRetention.addPolicy({ category: 'telemetry', days: 30, basis: 'monitoring' });
      await b.dataRetention.addHold({ id: 'case-42', reason: 'litigation', subjectId: 'patient-7' });
      await b.consent.grant('patient-7', 'newsletter');
      const enrolment = await b.totp.enroll('dr-who', { label: 'dr-who@clinic' });
      await b.totp.confirm('dr-who', codeAt(enrolment.secret, clock().getTime()));
      const recovery = await b.recoveryCodes.generate('dr-who');
      const grant = await b.policyEngine.grantBreakGlass({
        actor: { id: 'nurse-joy' },
        reason: 'cardiac arrest, bay 3',
        actions: 'patient:read',
        resources: 'records/*',
        durationMs: 60 * 60 * 1000,
      });
      return { requestId: request.id, secret: enrolment.secret, recovery, grantId: grant.id };
    }
    case 'update': {
      await b.dsr.start(msg.requestId);
      await b.breaches.notify('inc-2025-01', { to: 'subjects' });
      await b.dataRetention.addHold({ id: 'audit-2025', reason: 'regulator audit', category: 'telemetry' });
      await b.consent.withdraw('patient-7', 'newsletter');
      const recovery = await b.recoveryCodes.verify('dr-who', msg.recoveryCode);
      return { recoveryUsed: recovery.method === 'recovery' && recovery.remaining === 3 };
    }
    case 'read': {
      const mfaCode = msg.secret ? codeAt(msg.secret, clock().getTime()) : undefined;
      const totp = mfaCode
        ? await b.totp.verify('dr-who', mfaCode).then(
            () => 'valid',
            (e) => e.code,
          )
        : undefined;
      const recoveryReuse = msg.recoveryCode
        ? await b.recoveryCodes.verify('dr-who', msg.recoveryCode).then(
            () => 'valid',
            (e) => e.code,
          )
        : undefined;
      const nurse = { id: 'nurse-joy', roles: ['nurse'] };
      const decision = await b.authorizer.check(nurse, 'patient:read', { type: 'records', id: 'r1' });
      return {
        dsr: (await b.dsr.list()).map((r) => ({
          id: r.id,
          status: r.status,
          history: r.history.map((h) => h.status),
        })),
        breaches: (await b.breaches.list()).map((i) => ({
          id: i.id,
          notified: i.notifications.filter((n) => n.notifiedAt !== undefined).map((n) => n.to),
        })),
        processors: (await b.processors.list()).map((p) => p.id),
        activities: (await b.processing.list()).map((a) => a.id),
        rules: (await b.dataRetention.policies()).map((r) => r.id),
        holds: (await b.dataRetention.holds()).map((h) => h.id),
        consent: (await b.consent.check('patient-7', 'newsletter')).state,
        mfaEnrolled: await b.totp.isEnrolled('dr-who'),
        totp,
        recoveryRemaining: await b.recoveryCodes.remaining('dr-who'),
        recoveryReuse,
        breakGlass: {
          allowed: decision.allowed,
          grants: (await b.policyEngine.listBreakGlass()).map((g) => [g.id, g.uses, g.active]),
        },
      };
    }
    default:
      throw new Error(`unknown op ${msg.op}`);
  }
}

open().then(
  ({ bulwark }) => {
    process.on('message', (msg) => {
      handle(bulwark, msg).then(
        (result) => process.send({ id: msg.id, result }),
        (error) => process.send({ id: msg.id, error: { code: error.code, message: error.message } }),
      );
    });
    process.send({ ready: true });
  },
  (error) => {
    process.send({
      fatal: {
        code: error.code,
        message: error.message,
        cause: String(error.cause && (error.cause.stack || error.cause)),
      },
    });
    process.exit(1);
  },
);
