import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { AuditLog } from '../../src/audit/audit-log';
import type { AuditEntry, AuditEvent } from '../../src/audit/audit-event';
import { JsonLinesSink } from '../../src/audit/json-lines-sink';
import { NatsAuditSink } from '../../src/audit/nats-audit-sink';
import type { NatsJetStreamPublisher } from '../../src/audit/nats-audit-sink-options';
import { MemoryAuditStore } from '../../src/audit/memory-audit-store';
import { OCSF_CLASSES, toOcsf, type OcsfEvent } from '../../src/audit/ocsf-event';
import { toSyslog } from '../../src/audit/syslog-message';
import { BulwarkConfigError } from '../../src/errors';
import { ThreatDetector } from '../../src/threat/threat-detector';

// Every exported OCSF event carries its class's required attributes, read from the OCSF 1.2.0
// schema sources (test/vectors/ocsf-1.2.0, Apache-2.0).

const SCHEMA = join(__dirname, '..', 'vectors', 'ocsf-1.2.0');
type Attr = { requirement?: string };
type Schema = {
  extends?: string;
  uid?: number;
  category?: string;
  attributes: Record<string, Attr | string[]>;
  constraints?: { at_least_one?: string[] };
};
const read = (rel: string): Schema => JSON.parse(readFileSync(join(SCHEMA, rel), 'utf8')) as Schema;
const CLASS_FILES: Record<number, string> = {
  2004: 'events/findings/detection_finding.json',
  3001: 'events/iam/account_change.json',
  3002: 'events/iam/authentication.json',
  3005: 'events/iam/user_access.json',
  6003: 'events/application/api.json',
};
const PARENT: Record<string, string> = {
  base_event: 'events/base_event.json',
  iam: 'events/iam/iam.json',
  application: 'events/application/application.json',
  finding: 'events/findings/finding.json',
};
// Required by includes/classification.json and includes/occurrence.json of OCSF 1.2.0 (every
// class); those two files are not in the copied sources, so they are listed here.
const CLASSIFICATION_REQUIRED = [
  'activity_id',
  'category_uid',
  'class_uid',
  'type_uid',
  'time',
  'severity_id',
];
const OBJECT_OF: Record<string, string> = {
  metadata: 'objects/metadata.json',
  user: 'objects/user.json',
  finding_info: 'objects/finding_info.json',
  api: 'objects/api.json',
  actor: 'objects/actor.json',
  src_endpoint: 'objects/network_endpoint.json',
};

function required(schema: Schema): string[] {
  return Object.entries(schema.attributes)
    .filter(([, v]) => !Array.isArray(v) && (v as Attr).requirement === 'required')
    .map(([k]) => k);
}

function classRequirements(classUid: number): { required: string[]; uid: number; category: number } {
  const out = new Set<string>(CLASSIFICATION_REQUIRED);
  let schema = read(CLASS_FILES[classUid]!);
  const uid = schema.uid!;
  const categories = JSON.parse(readFileSync(join(SCHEMA, 'categories.json'), 'utf8')) as {
    attributes: Record<string, { uid: number }>;
  };
  let category: number | undefined;
  for (;;) {
    for (const r of required(schema)) out.add(r);
    if (schema.category !== undefined && category === undefined)
      category = categories.attributes[schema.category]!.uid;
    if (schema.extends === undefined) break;
    schema = read(PARENT[schema.extends]!);
  }
  return { required: [...out], uid, category: category! };
}

/** The attribute's object-level requirements (required fields, at_least_one constraints). */
function checkObject(name: string, value: unknown, path: string): string[] {
  const file = OBJECT_OF[name];
  if (file === undefined || value === null || typeof value !== 'object') return [];
  const schema = read(file);
  const errors: string[] = [];
  const v = value as Record<string, unknown>;
  for (const r of required(schema)) if (v[r] === undefined) errors.push(`${path}.${r}`);
  let constraints = schema.constraints;
  if (constraints === undefined && schema.extends !== undefined && schema.extends !== 'object') {
    const parent = read(`objects/${schema.extends}.json`);
    constraints = parent.constraints;
  }
  if (constraints?.at_least_one && !constraints.at_least_one.some((k) => v[k] !== undefined)) {
    errors.push(`${path}: one of ${constraints.at_least_one.join(', ')}`);
  }
  if (name === 'metadata') {
    const product = v.product as Record<string, unknown>;
    for (const r of required(read('objects/product.json')))
      if (product?.[r] === undefined) errors.push(`${path}.product.${r}`);
  }
  if (name === 'actor' && v.user !== undefined) errors.push(...checkObject('user', v.user, `${path}.user`));
  return errors;
}

function violations(event: OcsfEvent): string[] {
  const req = classRequirements(event.class_uid);
  const errors = req.required.filter((k) => event[k] === undefined).map((k) => `missing ${k}`);
  // The schema's class uid is within its category: class_uid = category_uid * 1000 + uid.
  if (event.class_uid !== req.category * 1000 + req.uid) errors.push('class_uid');
  if (event.category_uid !== req.category)
    errors.push(`category_uid ${event.category_uid} != ${req.category}`);
  if (event.type_uid !== event.class_uid * 100 + event.activity_id) errors.push('type_uid');
  if (!Number.isInteger(event.time)) errors.push('time');
  for (const k of Object.keys(OBJECT_OF)) errors.push(...checkObject(k, event[k], k));
  return errors;
}

const user = { id: 'u-42', type: 'user' as const, ip: '192.0.2.10' };
const EVENTS: AuditEvent[] = [
  { actor: user, action: 'auth.login', outcome: 'success', details: { account: 'alice' } },
  {
    actor: { id: 'anon', type: 'anonymous', ip: '192.0.2.99' },
    action: 'auth.login',
    outcome: 'failure',
    category: 'security',
  },
  { actor: user, action: 'auth.logout', outcome: 'success' },
  { actor: user, action: 'auth.mfa', outcome: 'failure' },
  {
    actor: user,
    action: 'auth.password.changed',
    outcome: 'success',
    resource: { type: 'user', id: 'u-42' },
  },
  { actor: user, action: 'auth.lockout', outcome: 'success', resource: { type: 'account', id: 'u-7' } },
  {
    actor: user,
    action: 'role.granted',
    outcome: 'success',
    resource: { type: 'user', id: 'u-7' },
    details: { role: 'admin' },
  },
  {
    actor: user,
    action: 'role.revoked',
    outcome: 'success',
    resource: { type: 'user', id: 'u-7' },
    details: { role: 'admin' },
  },
  { actor: user, action: 'authz.break_glass.granted', outcome: 'success' },
  {
    actor: user,
    action: 'patient.read',
    outcome: 'success',
    resource: { type: 'patient', id: 'p1' },
    requestId: 'req-1',
  },
  {
    actor: { id: 'svc', type: 'service' },
    action: 'invoice.deleted',
    outcome: 'denied',
    reason: 'policy "no-delete"',
  },
  { actor: user, action: 'report.generated', outcome: 'failure' },
];

async function sampleLog(): Promise<{ log: AuditLog; entries: AuditEntry[] }> {
  const detector = new ThreatDetector({ failedLogins: { perAccount: { threshold: 2, windowSec: 300 } } });
  const log = await AuditLog.open({ store: new MemoryAuditStore(), sinks: [detector] });
  detector.attach(log);
  for (const e of EVENTS) await log.append(e);
  for (let i = 0; i < 2; i++)
    await log.append({ actor: user, action: 'auth.login', outcome: 'failure', details: { account: 'bob' } });
  await log.flush();
  await detector.flush();
  await log.flush();
  return { log, entries: (await log.query({ limit: 1000 })).entries };
}

describe('OCSF 1.2 export', () => {
  it('maps every event to its class, with every attribute the class requires', async () => {
    const { log, entries } = await sampleLog();
    const events = entries.map((e) => toOcsf(e, { productVersion: '0.1.0' })!);
    const seen = new Set(events.map((e) => e.class_uid));
    expect([...seen].sort()).toEqual(
      Object.values(OCSF_CLASSES)
        .map((c) => c.uid)
        .sort(),
    );
    for (const event of events)
      expect({
        action: (event.unmapped as { bulwark: { action: string } }).bulwark.action,
        errors: violations(event),
      }).toMatchObject({ errors: [] });
    await log.close();
  });

  it('the checker itself catches a missing required attribute', () => {
    const e = toOcsf({
      seq: 1,
      time: '2026-01-01T00:00:00.000Z',
      category: 'default',
      prevHash: '',
      leafHash: 'ab',
      actor: user,
      action: 'role.granted',
      outcome: 'success',
    })!;
    expect(violations(e)).toEqual([]);
    const { privileges: _p, ...withoutPrivileges } = e;
    expect(violations(withoutPrivileges as OcsfEvent)).toContain('missing privileges');
    expect(violations({ ...e, metadata: { version: '1.2.0', product: {} } })).toContain(
      'metadata.product.vendor_name',
    );
  });

  it('maps activities and statuses the way a SIEM reads them', async () => {
    const { log, entries } = await sampleLog();
    const by = (action: string, outcome?: string) =>
      toOcsf(entries.find((e) => e.action === action && (outcome === undefined || e.outcome === outcome))!)!;
    expect(by('auth.login', 'success')).toMatchObject({
      class_uid: 3002,
      activity_id: 1,
      type_uid: 300201,
      status_id: 1,
      user: { name: 'alice' },
      src_endpoint: { ip: '192.0.2.10' },
    });
    expect(by('auth.logout')).toMatchObject({ activity_id: 2 });
    expect(by('role.revoked')).toMatchObject({
      class_uid: 3005,
      activity_id: 2,
      privileges: ['admin'],
      user: { uid: 'u-7' },
    });
    expect(by('invoice.deleted')).toMatchObject({
      class_uid: 6003,
      activity_id: 4,
      status: 'Denied',
      status_id: 2,
    });
    const finding = toOcsf(
      entries.find((e) => e.action === 'security.violation' && e.details?.rule === 'failed-login-burst')!,
    )!;
    expect(finding).toMatchObject({
      class_uid: 2004,
      severity_id: 3,
      finding_info: { title: 'failed-login-burst' },
    });
    expect(typeof finding.risk_score).toBe('number');
    expect(
      toOcsf({
        seq: 9,
        time: entries[0]!.time,
        category: 'default',
        prevHash: '',
        leafHash: '',
        redacted: { at: entries[0]!.time, reason: 'erasure' },
      }),
    ).toBeUndefined();
    await log.close();
  });
});

describe('RFC 5424 syslog', () => {
  const entry: AuditEntry = {
    seq: 7,
    time: '2026-03-02T10:11:12.345Z',
    category: 'security',
    prevHash: '00',
    leafHash: 'ff',
    actor: { id: 'u"1]\\', type: 'user', ip: '192.0.2.1' },
    action: 'auth.login',
    outcome: 'failure',
    reason: 'bad password\nsecond line',
  };

  it('formats header, structured data (escaped) and message', () => {
    const line = toSyslog(entry, { hostname: 'app-1', appName: 'clinic', enterpriseId: 32473 });
    // authpriv (10) * 8 + warning (4) = 84: a failed login is medium severity
    expect(line).toMatch(/^<84>1 2026-03-02T10:11:12\.345Z app-1 clinic \d+ auth\.login \[audit@32473 /);
    expect(line).toContain('actorId="u\\"1\\]\\\\"');
    expect(line).toContain('seq="7"');
    expect(line).toContain('severity="medium"');
    expect(line).toContain('leafHash="ff"');
    expect(line.endsWith('\uFEFFbad password second line')).toBe(true);
    expect(line).not.toContain('\n');
    // RFC 5424 §6.2: HOSTNAME without spaces, NILVALUE for empty
    expect(toSyslog(entry, { hostname: 'my host', appName: '' })).toMatch(/^<84>1 \S+ my_host - /);
    expect(toSyslog({ ...entry, action: 'authz.break_glass.used', outcome: 'success' })).toMatch(/^<82>1 /);
  });

  it('is selectable on the NATS sink too (the payload, message ids unchanged)', async () => {
    const sent: { subject: string; data: string; msgID?: string }[] = [];
    const publisher: NatsJetStreamPublisher = {
      publish: async (subject, data, options) => {
        sent.push({ subject, data: Buffer.from(data).toString('utf8'), msgID: options?.msgID });
        return { stream: 'X', seq: sent.length, duplicate: false };
      },
    };
    for (const format of ['ocsf', 'syslog'] as const) {
      await new NatsAuditSink(publisher, { logId: 'app', format, syslog: { hostname: 'h' } }).write([
        { ...entry, leafHash: 'f'.repeat(64) },
      ]);
    }
    expect(JSON.parse(sent[0]!.data)).toMatchObject({ class_uid: 3002, metadata: { uid: '7' } });
    expect(sent[1]!.data).toMatch(/^<84>1 .* h /);
    expect(sent.map((s) => s.msgID)).toEqual(['app:7', 'app:7']);
    expect(() => new NatsAuditSink(publisher, { logId: 'app', format: 'cef' as never })).toThrow(
      /audit.nats.format/,
    );
  });

  it('is selectable per sink, as is OCSF; a bad format is refused', async () => {
    const lines = async (format: 'bulwark' | 'ocsf' | 'syslog') => {
      const stream = new PassThrough();
      let out = '';
      stream.on('data', (c: Buffer) => (out += c.toString('utf8')));
      await new JsonLinesSink(stream, { format, syslog: { hostname: 'h' } }).write([entry]);
      return out;
    };
    expect(JSON.parse(await lines('bulwark'))).toMatchObject({ level: 40, audit: { seq: 7 } });
    expect(JSON.parse(await lines('ocsf'))).toMatchObject({ class_uid: 3002, activity_id: 1, status_id: 2 });
    expect(await lines('syslog')).toMatch(/^<84>1 .* h /);
    expect(() => new JsonLinesSink(new PassThrough(), { format: 'cef' as never })).toThrow(
      BulwarkConfigError,
    );
  });
});
