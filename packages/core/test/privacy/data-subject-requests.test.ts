import { randomBytes } from 'node:crypto';
import { CompactSign, generateKeyPair } from 'jose';
import { AuditLog } from '../../src/audit/audit-log';
import { CheckpointSigner } from '../../src/audit/checkpoint-signer';
import { MemoryAuditStore } from '../../src/audit/memory-audit-store';
import { ErrorCodes } from '../../src/errors';
import { ClassificationRegistry } from '../../src/privacy/classification-registry';
import { ConsentManager } from '../../src/privacy/consent-manager';
import { DataSubjectRequests, type IdentityVerifier } from '../../src/privacy/data-subject-requests';
import {
  ERASURE_RECEIPT_JWS_TYPE,
  ErasureReceiptSigner,
  erasureSubjectRef,
  verifyErasureReceipt,
} from '../../src/privacy/erasure-receipt';
import { csvCell, SUBJECT_EXPORT_CSV_HEADER } from '../../src/privacy/format-subject-export';
import type { SubjectDataSource, SubjectRecord } from '../../src/privacy/subject-data-source';
import { asyncCodeOf, memoryRing } from '../crypto/helpers';
import { parseCsv, parseXml, type XmlElement } from './export-parsers';
import { codeOf, errorOf, manualClock } from './privacy-helpers';

const DAY = 86_400_000;
const allowAll: IdentityVerifier = () => ({ verified: true, method: 'session' });

/** A source with tricky values: formula starts, separators, quotes, newlines, XML specials, control chars. */
function profileSource(): SubjectDataSource {
  return {
    id: 'profiles',
    describe: 'Your profile: name, e-mail, notes & "tags"',
    export: (subjectId): SubjectRecord[] => [
      {
        type: 'User',
        id: subjectId,
        fields: {
          email: 'alice@example.com',
          name: '=HYPERLINK("http://evil.example","click")',
          motto: 'a,b "c"\r\nnext line',
          balance: -5,
          active: true,
          nickname: null,
          address: { city: 'Zürich', zip: '8000' },
          bio: "<b>bold</b> & 'quoted' ]]>",
          weird: 'bell\u0007char',
          plus: '+1 555',
          at: '@handle',
        },
        classification: { name: 'personal', address: 'personal' },
      },
    ],
  };
}

async function setup(verify: IdentityVerifier = allowAll) {
  const clock = manualClock('2025-01-01T00:00:00.000Z');
  const classification = new ClassificationRegistry();
  classification.register({ entity: 'User', field: 'email', category: 'personal', encrypted: true });
  classification.register({ entity: 'User', field: 'bio', category: 'sensitive', encrypted: false });
  const dsr = new DataSubjectRequests({ verifyIdentity: verify, classification, clock: clock.now });
  dsr.registerSource(profileSource());
  return { dsr, clock };
}

function child(el: XmlElement, name: string): XmlElement[] {
  return el.children.filter((c) => c.name === name);
}

describe('DataSubjectRequests: access and portability exports', () => {
  it('exports JSON with classification labels from the source and the registry', async () => {
    const { dsr } = await setup();
    const req = await dsr.receive({ type: 'access', subjectId: 'alice' });
    await dsr.verifyIdentity(req.id);
    const { request, document, files } = await dsr.export(req.id, { formats: ['json', 'csv', 'xml'] });
    expect(request.status).toBe('completed');
    expect(files.map((f) => f.format)).toEqual(['json', 'csv', 'xml']);
    const json = JSON.parse(files[0]!.body);
    expect(json).toEqual(document);
    expect(json.format).toBe('bulwark-subject-export/1');
    expect(json.subjectId).toBe('alice');
    const fields = json.sources[0].records[0].fields as {
      name: string;
      classification: string;
      value: unknown;
    }[];
    const label = (n: string) => fields.find((f) => f.name === n)?.classification;
    expect(label('email')).toBe('personal'); // from the registry
    expect(label('bio')).toBe('sensitive'); // from the registry
    expect(label('name')).toBe('personal'); // from the source
    expect(label('balance')).toBe('none');
    expect(fields.find((f) => f.name === 'address')?.value).toEqual({ city: 'Zürich', zip: '8000' });
    expect(files[1]!.contentType).toMatch(/^text\/csv/);
    expect(files[2]!.contentType).toMatch(/^application\/xml/);
  });

  it('writes CSV that parses back (RFC 4180) with the formula-injection guard', async () => {
    const { dsr } = await setup();
    const req = await dsr.receive({ type: 'portability', subjectId: 'alice' });
    await dsr.verifyIdentity(req.id);
    const { files } = await dsr.export(req.id, { formats: ['csv'] });
    const rows = parseCsv(files[0]!.body);
    expect(rows[0]).toEqual([...SUBJECT_EXPORT_CSV_HEADER]);
    const byField = new Map(rows.slice(1).map((r) => [r[3], r]));
    expect(rows.slice(1).every((r) => r.length === 7)).toBe(true);
    expect(byField.get('email')).toEqual([
      'profiles',
      'User',
      'alice',
      'email',
      'personal',
      'string',
      'alice@example.com',
    ]);
    // Cells that a spreadsheet would evaluate are neutralised with a leading quote.
    expect(byField.get('name')![6]).toBe('\'=HYPERLINK("http://evil.example","click")');
    expect(byField.get('plus')![6]).toBe("'+1 555");
    expect(byField.get('at')![6]).toBe("'@handle");
    expect(byField.get('balance')!.slice(5)).toEqual(['number', "'-5"]);
    // Separators, quotes and newlines survive quoting.
    expect(byField.get('motto')![6]).toBe('a,b "c"\r\nnext line');
    expect(byField.get('nickname')!.slice(5)).toEqual(['null', '']);
    expect(JSON.parse(byField.get('address')![6]!)).toEqual({ city: 'Zürich', zip: '8000' });
    expect(byField.get('active')!.slice(5)).toEqual(['boolean', 'true']);
  });

  it('guards every CSV cell, including tab and CR starts, and quotes it', () => {
    expect(csvCell('=1+1')).toBe('"\'=1+1"');
    expect(csvCell('\t=1')).toBe('"\'\t\'=1"');
    expect(csvCell('\r=1')).toBe('"\'\r\'=1"');
    expect(csvCell('plain')).toBe('"plain"');
    expect(csvCell('a"b')).toBe('"a""b"');
  });

  it('writes XML that parses back, escaped, with base64 for characters XML 1.0 cannot carry', async () => {
    const { dsr } = await setup();
    const req = await dsr.receive({ type: 'access', subjectId: 'a<l>i"c&e' });
    await dsr.verifyIdentity(req.id);
    const { files } = await dsr.export(req.id, { formats: ['xml'] });
    const root = parseXml(files[0]!.body);
    expect(root.name).toBe('subjectExport');
    expect(root.attrs).toMatchObject({
      format: 'bulwark-subject-export/1',
      requestId: req.id,
      subjectId: 'a<l>i"c&e',
    });
    const [source] = child(root, 'source');
    expect(source!.attrs.description).toBe('Your profile: name, e-mail, notes & "tags"');
    const [record] = child(source!, 'record');
    expect(record!.attrs).toEqual({ type: 'User', id: 'a<l>i"c&e' });
    const fields = new Map(child(record!, 'field').map((f) => [f.attrs.name, f]));
    expect(fields.get('email')!.attrs).toEqual({ name: 'email', classification: 'personal', type: 'string' });
    expect(fields.get('email')!.text).toBe('alice@example.com');
    expect(fields.get('bio')!.text).toBe("<b>bold</b> & 'quoted' ]]>");
    expect(fields.get('motto')!.text).toBe('a,b "c"\r\nnext line');
    expect(fields.get('balance')!.attrs.type).toBe('number');
    expect(fields.get('balance')!.text).toBe('-5');
    expect(fields.get('nickname')!.attrs.type).toBe('null');
    const weird = fields.get('weird')!;
    expect(weird.attrs.encoding).toBe('base64');
    expect(Buffer.from(weird.text, 'base64').toString('utf8')).toBe('bell\u0007char');
  });

  it('rejects a source returning non-JSON data, without leaking it', async () => {
    const dsr = new DataSubjectRequests({ verifyIdentity: allowAll });
    dsr.registerSource({
      id: 'bad',
      describe: 'bad',
      export: () => [{ type: 'T', fields: { f: () => 1 } }] as never,
    });
    const req = await dsr.receive({ type: 'access', subjectId: 'alice' });
    await dsr.verifyIdentity(req.id);
    expect(await codeOf(() => dsr.export(req.id))).toBe(ErrorCodes.DSR_SOURCE_FAILED);
    expect(await codeOf(() => dsr.export(req.id, { formats: ['pdf' as 'json'] }))).toBe(
      ErrorCodes.PRIVACY_INVALID_ARGUMENT,
    );
  });
});

describe('DataSubjectRequests: erasure end to end', () => {
  it('deletes, crypto-shreds, redacts the audit trail (chain still verifies) and signs a receipt', async () => {
    const ring = await memoryRing();
    const checkpoints = await CheckpointSigner.generate();
    const log = await AuditLog.open({ store: new MemoryAuditStore(), signer: checkpoints });
    const signer = await ErasureReceiptSigner.generate({ kid: 'receipts-1' });
    const consent = new ConsentManager({ auditLog: log });
    consent.registerPurpose({ id: 'newsletter', name: 'Newsletter', version: 1, text: 'mail me' });

    // Application data: the live row and a backup copy, both encrypted under Alice's key.
    const users = new Map<string, { email: string }>();
    users.set('alice', { email: await ring.encryptForSubject('alice', 'alice@example.com') });
    users.set('bob', { email: await ring.encryptForSubject('bob', 'bob@example.com') });
    const backupCopy = users.get('alice')!.email;

    await log.append({ actor: { id: 'alice', type: 'user' }, action: 'auth.login', outcome: 'success' });
    await log.append({
      actor: { id: 'admin', type: 'user' },
      action: 'user.read',
      resource: { type: 'user', id: 'alice' },
      outcome: 'success',
    });
    await log.append({ actor: { id: 'bob', type: 'user' }, action: 'auth.login', outcome: 'success' });
    await consent.grant('alice', 'newsletter', { ip: '203.0.113.5' });
    await log.checkpoint();

    const dsr = new DataSubjectRequests({
      verifyIdentity: allowAll,
      keyRing: ring,
      auditLog: log,
      receiptSigner: signer,
      evidence: { pseudonymKey: randomBytes(32) },
    });
    dsr.registerSource({
      id: 'users',
      describe: 'Account',
      export: (id) => (users.has(id) ? [{ type: 'User', id, fields: { email: users.get(id)!.email } }] : []),
      erase: (id) => (users.delete(id) ? 1 : 0),
    });
    dsr.registerSource(consent.dataSource());

    const req = await dsr.receive({ type: 'erasure', subjectId: 'alice' });
    expect(await codeOf(() => dsr.erase(req.id))).toBe(ErrorCodes.DSR_IDENTITY_NOT_VERIFIED);
    await dsr.verifyIdentity(req.id);
    const result = await dsr.erase(req.id);

    // deleted
    expect(users.has('alice')).toBe(false);
    expect(users.has('bob')).toBe(true);
    // crypto-shredded: the backup copy is unreadable, Bob is not affected
    expect(await asyncCodeOf(() => ring.decryptStringAsync(backupCopy))).toBe(
      ErrorCodes.CRYPTO_SUBJECT_SHREDDED,
    );
    expect(await ring.decryptStringAsync(users.get('bob')!.email)).toBe('bob@example.com');
    // audit: Alice's entries (as actor and as resource) are redacted, others kept, chain verifies
    expect((await log.query({ actorId: 'alice' })).entries).toEqual([]);
    expect((await log.query({ resourceId: 'alice' })).entries).toEqual([]);
    expect((await log.query({ actorId: 'bob' })).entries).toHaveLength(1);
    const all = (await log.query({ limit: 1000 })).entries;
    expect(JSON.stringify(all)).not.toContain('alice');
    expect(all.filter((e) => e.redacted?.reason === 'GDPR Art. 17 erasure')).toHaveLength(3);
    const report = await log.verify();
    expect(report.ok).toBe(true);
    expect(report.checkpointsVerified).toBeGreaterThanOrEqual(1);
    // the request keeps no identifier; lifecycle events are in the log without it
    expect(result.request.status).toBe('completed');
    expect(result.request.subjectId).toBeUndefined();
    expect((await dsr.get(req.id))!.subjectId).toBeUndefined();
    expect(all.map((e) => e.action).filter((a) => a?.startsWith('dsr.'))).toEqual([
      'dsr.received',
      'dsr.identity-verified',
      'dsr.started',
      'dsr.erased',
    ]);

    // receipt
    expect(result.summary).toMatchObject({
      requestId: req.id,
      subjectRef: erasureSubjectRef(req.id, 'alice'),
      sourcesErased: ['users'],
      recordsErased: { users: 1 },
      shredded: true,
      auditRedacted: 3,
    });
    expect(result.receipt).toBeDefined();
    expect(result.receipt).not.toContain('alice');
    const publicJwk = await signer.exportPublicJwk();
    const verified = await verifyErasureReceipt(result.receipt!, publicJwk);
    expect(verified).toEqual(result.summary);
    expect(await verifyErasureReceipt(result.receipt!, signer.publicKey)).toEqual(result.summary);

    // tampering: payload edited, wrong key, a checkpoint JWS passed off as a receipt, alg none
    const [h, p, s] = result.receipt!.split('.');
    const edited = JSON.parse(Buffer.from(p!, 'base64url').toString());
    edited.sourcesErased = ['users', 'crm'];
    const forged = `${h}.${Buffer.from(JSON.stringify(edited)).toString('base64url')}.${s}`;
    expect(await codeOf(() => verifyErasureReceipt(forged, publicJwk))).toBe(ErrorCodes.DSR_RECEIPT_INVALID);
    const other = await ErasureReceiptSigner.generate();
    expect(await codeOf(() => verifyErasureReceipt(result.receipt!, other.publicKey))).toBe(
      ErrorCodes.DSR_RECEIPT_INVALID,
    );
    const cp = await log.checkpoint();
    expect(await codeOf(() => verifyErasureReceipt(cp.jws, checkpoints.publicKey))).toBe(
      ErrorCodes.DSR_RECEIPT_INVALID,
    );
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: ERASURE_RECEIPT_JWS_TYPE })).toString('base64url')}.${p}.`;
    expect(await codeOf(() => verifyErasureReceipt(none, publicJwk))).toBe(ErrorCodes.DSR_RECEIPT_INVALID);
    expect(await codeOf(() => verifyErasureReceipt('garbage', publicJwk))).toBe(
      ErrorCodes.DSR_RECEIPT_INVALID,
    );
    await ring.close();
    await log.close();
  });

  it('refuses a correctly signed receipt whose payload is malformed', async () => {
    const { privateKey, publicKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    const jws = await new CompactSign(
      Buffer.from(JSON.stringify({ format: 'bulwark-erasure-receipt/1', requestId: 'r' })),
    )
      .setProtectedHeader({ alg: 'EdDSA', typ: ERASURE_RECEIPT_JWS_TYPE })
      .sign(privateKey);
    expect(await codeOf(() => verifyErasureReceipt(jws, publicKey))).toBe(ErrorCodes.DSR_RECEIPT_INVALID);
  });

  it('a failing eraser stops the run without leaking its message; retry completes it', async () => {
    let fail = true;
    const dsr = new DataSubjectRequests({ verifyIdentity: allowAll });
    dsr.registerSource({
      id: 'crm',
      describe: 'CRM',
      export: () => [],
      erase: () => {
        if (fail) throw new Error('cannot delete alice@example.com');
        return 2;
      },
    });
    const req = await dsr.receive({ type: 'erasure', subjectId: 'alice@example.com' });
    await dsr.verifyIdentity(req.id);
    const err = await errorOf(() => dsr.erase(req.id));
    expect(err.code).toBe(ErrorCodes.DSR_SOURCE_FAILED);
    expect(err.message).not.toContain('alice');
    expect(err.details).toEqual({ sourceId: 'crm', operation: 'erase' });
    expect((await dsr.get(req.id))!.status).toBe('in-progress');
    fail = false;
    const ok = await dsr.erase(req.id);
    expect(ok.request.status).toBe('completed');
    expect(ok.summary).toMatchObject({ recordsErased: { crm: 2 }, shredded: false, auditRedacted: 0 });
    expect(ok.receipt).toBeUndefined();
  });
});

describe('DataSubjectRequests: lifecycle, identity and deadlines', () => {
  it('an unverified request cannot proceed; a failed or throwing verifier does not verify', async () => {
    const attempts: unknown[] = [];
    let answer: 'no' | 'throw' | 'yes' = 'no';
    const { dsr } = await setup(({ evidence }) => {
      attempts.push(evidence);
      if (answer === 'throw') throw new Error('verifier crashed');
      return answer === 'yes';
    });
    const req = await dsr.receive({ type: 'access', subjectId: 'alice' });
    expect(await codeOf(() => dsr.start(req.id))).toBe(ErrorCodes.DSR_IDENTITY_NOT_VERIFIED);
    expect(await codeOf(() => dsr.export(req.id))).toBe(ErrorCodes.DSR_IDENTITY_NOT_VERIFIED);
    expect(await codeOf(() => dsr.complete(req.id))).toBe(ErrorCodes.DSR_IDENTITY_NOT_VERIFIED);
    const failed = await dsr.verifyIdentity(req.id, { code: '000000' });
    expect(failed.status).toBe('received');
    expect(failed.identity).toEqual({ verified: false, failures: 1 });
    answer = 'throw';
    expect((await dsr.verifyIdentity(req.id)).identity.failures).toBe(2);
    expect(await codeOf(() => dsr.export(req.id))).toBe(ErrorCodes.DSR_IDENTITY_NOT_VERIFIED);
    answer = 'yes';
    const ok = await dsr.verifyIdentity(req.id, { code: '123456' });
    expect(ok.status).toBe('identity-verified');
    expect(attempts).toEqual([{ code: '000000' }, undefined, { code: '123456' }]);
    expect((await dsr.start(req.id)).status).toBe('in-progress');
    expect((await dsr.complete(req.id, 'sent by post')).status).toBe('completed');
    const done = (await dsr.get(req.id))!;
    expect(done.history.map((h) => h.status)).toEqual([
      'received',
      'identity-verified',
      'in-progress',
      'completed',
    ]);
  });

  it('enforces the transitions', async () => {
    const { dsr } = await setup();
    const req = await dsr.receive({ type: 'access', subjectId: 'alice' });
    expect(await codeOf(() => dsr.erase(req.id))).toBe(ErrorCodes.DSR_INVALID_TRANSITION); // wrong type
    await dsr.verifyIdentity(req.id);
    expect(await codeOf(() => dsr.verifyIdentity(req.id))).toBe(ErrorCodes.DSR_INVALID_TRANSITION);
    expect(await codeOf(() => dsr.complete(req.id))).toBe(ErrorCodes.DSR_INVALID_TRANSITION); // not started
    const rejected = await dsr.reject(req.id, 'manifestly unfounded (Art. 12(5))');
    expect(rejected).toMatchObject({
      status: 'rejected',
      rejectedReason: 'manifestly unfounded (Art. 12(5))',
    });
    expect(await codeOf(() => dsr.start(req.id))).toBe(ErrorCodes.DSR_INVALID_TRANSITION);
    expect(await codeOf(() => dsr.reject(req.id, 'again'))).toBe(ErrorCodes.DSR_INVALID_TRANSITION);
    expect(await codeOf(() => dsr.reject(req.id, ''))).toBe(ErrorCodes.PRIVACY_INVALID_ARGUMENT);
    expect(await codeOf(() => dsr.start('no-such-id'))).toBe(ErrorCodes.PRIVACY_NOT_FOUND);
  });

  it('sets a 30-day deadline, lists overdue requests, and allows up to 60 more days with a reason', async () => {
    const { dsr, clock } = await setup();
    const a = await dsr.receive({ type: 'access', subjectId: 'alice' });
    expect(a.receivedAt).toBe('2025-01-01T00:00:00.000Z');
    expect(a.dueAt).toBe('2025-01-31T00:00:00.000Z');
    const b = await dsr.receive({ type: 'access', subjectId: 'bob', receivedAt: '2025-01-20T00:00:00Z' });
    const c = await dsr.receive({ type: 'access', subjectId: 'carol' });
    await dsr.verifyIdentity(c.id);
    await dsr.export(c.id);

    expect((await dsr.overdue(new Date('2025-01-30T23:59:59Z'))).map((r) => r.id)).toEqual([]);
    expect((await dsr.overdue(new Date('2025-02-01T00:00:00Z'))).map((r) => r.id)).toEqual([a.id]); // c is completed
    expect((await dsr.overdue(new Date('2025-02-20T00:00:01Z'))).map((r) => r.id)).toEqual([a.id, b.id]);

    expect(await codeOf(() => dsr.extend(a.id, { days: 30, reason: '' }))).toBe(
      ErrorCodes.DSR_EXTENSION_INVALID,
    );
    expect(await codeOf(() => dsr.extend(a.id, { days: 61, reason: 'complex' }))).toBe(
      ErrorCodes.DSR_EXTENSION_INVALID,
    );
    expect(await codeOf(() => dsr.extend(a.id, { days: 0, reason: 'complex' }))).toBe(
      ErrorCodes.DSR_EXTENSION_INVALID,
    );
    clock.advance(10 * DAY);
    const ext = await dsr.extend(a.id, { days: 40, reason: 'number of requests (Art. 12(3))' });
    expect(ext.effectiveDueAt).toBe('2025-03-12T00:00:00.000Z');
    expect(ext.dueAt).toBe('2025-01-31T00:00:00.000Z');
    const ext2 = await dsr.extend(a.id, { days: 20, reason: 'complexity' });
    expect(ext2.effectiveDueAt).toBe('2025-04-01T00:00:00.000Z');
    expect(ext2.extensions.map((e) => e.days)).toEqual([40, 20]);
    expect(await codeOf(() => dsr.extend(a.id, { days: 1, reason: 'more' }))).toBe(
      ErrorCodes.DSR_EXTENSION_INVALID,
    );
    expect((await dsr.overdue(new Date('2025-02-20T00:00:01Z'))).map((r) => r.id)).toEqual([b.id]);
    expect((await dsr.overdue(new Date('2025-04-01T00:00:01Z'))).map((r) => r.id)).toEqual([a.id, b.id]);
    expect(await codeOf(() => dsr.extend(c.id, { days: 1, reason: 'late' }))).toBe(
      ErrorCodes.DSR_INVALID_TRANSITION,
    );

    expect((await dsr.list({ status: 'completed' })).map((r) => r.id)).toEqual([c.id]);
    expect((await dsr.list({ status: ['received'] })).map((r) => r.id).sort()).toEqual([a.id, b.id].sort());
    expect((await dsr.list({ type: 'erasure' })).length).toBe(0);
  });

  it('rectifies through sources that support it', async () => {
    const seen: unknown[] = [];
    const dsr = new DataSubjectRequests({ verifyIdentity: allowAll });
    dsr.registerSource({
      id: 'a',
      describe: 'A',
      export: () => [],
      rectify: (_s, changes) => (seen.push(changes), 1),
    });
    dsr.registerSource({ id: 'b', describe: 'B', export: () => [] });
    expect(await codeOf(() => dsr.receive({ type: 'rectification', subjectId: 'x' }))).toBe(
      ErrorCodes.PRIVACY_INVALID_ARGUMENT,
    );
    expect(await codeOf(() => dsr.receive({ type: 'access', subjectId: 'x', changes: { a: 1 } }))).toBe(
      ErrorCodes.PRIVACY_INVALID_ARGUMENT,
    );
    const req = await dsr.receive({ type: 'rectification', subjectId: 'x', changes: { name: 'Alice L.' } });
    await dsr.verifyIdentity(req.id);
    const { request, updated } = await dsr.rectify(req.id);
    expect(request.status).toBe('completed');
    expect(updated).toEqual({ a: 1 });
    expect(seen).toEqual([{ name: 'Alice L.' }]);
  });

  it('validates options and sources, and exposes sources as evidence', async () => {
    expect(() => new DataSubjectRequests({} as never)).toThrow(
      expect.objectContaining({ code: ErrorCodes.PRIVACY_INVALID_ARGUMENT }),
    );
    const { dsr } = await setup();
    expect(() => dsr.registerSource(profileSource())).toThrow(
      expect.objectContaining({ code: ErrorCodes.PRIVACY_DUPLICATE_ID }),
    );
    expect(() => dsr.registerSource({ id: 'x', describe: '', export: () => [] })).toThrow(
      expect.objectContaining({ code: ErrorCodes.PRIVACY_INVALID_ARGUMENT }),
    );
    expect(await codeOf(() => dsr.receive({ type: 'delete-everything' as 'access', subjectId: 'a' }))).toBe(
      ErrorCodes.PRIVACY_INVALID_ARGUMENT,
    );
    expect(dsr.sources()).toEqual([
      { id: 'profiles', describe: expect.any(String), erase: false, rectify: false },
    ]);
  });
});
