import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { cloneAuditDetails, type AuditDetails } from '../../src/audit/audit-event';
import { AuditLog } from '../../src/audit/audit-log';
import type { AuditStore } from '../../src/audit/audit-store';
import { CheckpointSigner } from '../../src/audit/checkpoint-signer';
import { FileAuditStore } from '../../src/audit/file-audit-store';
import { MemoryAuditStore } from '../../src/audit/memory-audit-store';
import { Redactor } from '../../src/audit/redactor';
import { verifyAuditLog } from '../../src/audit/verify-audit-log';
import { BulwarkConfigError, ErrorCodes } from '../../src/errors';
import { copyEntries, event, steppingClock, storeFactories, tempDir } from './audit-helpers';

const DAY = 86_400_000;

describe('Redactor', () => {
  it('replaces classified and secret-named fields at any depth, and card numbers anywhere', () => {
    const r = new Redactor({
      classification: {
        diagnosis: 'phi',
        email: 'personal',
        'patient.address': 'personal',
        'items.note': 'sensitive',
        '*.phone': 'personal',
      },
      secretNames: ['x-session-key'],
    });
    const out = r.redact({
      diagnosis: 'J45.909',
      contact: { EMAIL: 'a@example.org', phone: '555' },
      patient: { address: { city: 'Lyon' }, name: 'kept' },
      items: [{ note: 'private', qty: 1 }],
      password: 'hunter2',
      newPassword: 'hunter3',
      headers: { Authorization: 'Bearer abc', cookie: 'sid=1', 'X-Api-Key': 'k', 'x-session-key': 's' },
      githubToken: 'ghp_x',
      card: { pan: '4111111111111111' },
      memo: 'paid with 4111 1111 1111 1111 yesterday',
      orderId: '1234567890123', // 13 digits but not Luhn-valid: kept
      panAsNumber: 4111111111111111,
      amountCents: 125000,
      tokenCount: 3,
    });
    expect(out).toEqual({
      diagnosis: '[REDACTED:phi]',
      contact: { EMAIL: '[REDACTED:personal]', phone: '[REDACTED:personal]' },
      patient: { address: '[REDACTED:personal]', name: 'kept' },
      items: [{ note: '[REDACTED:sensitive]', qty: 1 }],
      password: '[REDACTED:secret]',
      newPassword: '[REDACTED:secret]',
      headers: {
        Authorization: '[REDACTED:secret]',
        cookie: '[REDACTED:secret]',
        'X-Api-Key': '[REDACTED:secret]',
        'x-session-key': '[REDACTED:secret]',
      },
      githubToken: '[REDACTED:secret]',
      card: { pan: '[REDACTED:cardholder]' },
      memo: '[REDACTED:cardholder]',
      orderId: '1234567890123',
      panAsNumber: '[REDACTED:cardholder]',
      amountCents: 125000,
      tokenCount: 3,
    });
  });

  it('keeps hex digests whose digits happen to form a Luhn-valid run, and still finds PANs glued to words', () => {
    // About one SHA-256 hex digest in a hundred holds 13+ digits in a row that pass Luhn; redacting
    // it would break the link an erasure evidence entry keeps to the original (preservedFrom.leafHash).
    const digest = `a${'4111111111111111'}${'b'.repeat(47)}`;
    const upper = `${'4111111111111111'}${'ABCDEF'.repeat(8)}`;
    const r = new Redactor();
    expect(digest).toHaveLength(64);
    expect(r.redact({ preservedFrom: { leafHash: digest }, fingerprint: upper })).toEqual({
      preservedFrom: { leafHash: digest },
      fingerprint: upper,
    });
    // Short hex, hex of no digest length, and non-hex words around the digits are no cover.
    expect(r.redact({ odd: `cafe${'4111111111111111'}${'cafe'.repeat(4)}` })).toEqual({
      odd: '[REDACTED:cardholder]',
    });
    expect(
      r.redact({ a: 'deadbeef4111111111111111', b: 'PAN4111111111111111', c: 'card 4111-1111-1111-1111' }),
    ).toEqual({
      a: '[REDACTED:cardholder]',
      b: '[REDACTED:cardholder]',
      c: '[REDACTED:cardholder]',
    });
    // A PAN next to a digest in one string is still found.
    expect(r.redact({ note: `${digest} paid with 4111111111111111` })).toEqual({
      note: '[REDACTED:cardholder]',
    });
  });

  it('finds a PAN exactly where the candidate pattern and Luhn say, with 13 to 19 digits anywhere in a string', () => {
    // Strings of digits, separators and letters around Luhn-valid and -invalid runs: the redactor
    // agrees with the pattern read directly (a PAN needs 13+ digits; fewer are never scanned).
    const luhn = (digits: string): boolean => {
      let sum = 0;
      for (let i = 0; i < digits.length; i++) {
        let d = Number(digits[digits.length - 1 - i]);
        if (i % 2 === 1 && (d *= 2) > 9) d -= 9;
        sum += d;
      }
      return sum % 10 === 0;
    };
    const piece = fc.oneof(
      fc.constantFrom(
        '4111111111111111',
        '4111 1111 1111 1111',
        '4111-1111-1111-1112',
        '378282246310005',
        '4222222222222',
      ),
      fc.stringMatching(/^[0-9]{1,6}$/),
      fc.constantFrom(' ', '-', 'x', 'GET /orders/', 'é'),
    );
    const r = new Redactor();
    // 13 digits, the shortest PAN (a Visa test number).
    expect(r.redact({ note: 'paid 4222222222222' })).toEqual({ note: '[REDACTED:cardholder]' });
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 6 }), (pieces) => {
        const value = pieces.join('');
        const expected = [...value.matchAll(/(?<![0-9])[0-9](?:[ -]?[0-9]){12,18}(?![0-9])/g)].some((m) =>
          luhn(m[0].replace(/[ -]/g, '')),
        );
        expect(r.redact({ note: value })).toEqual({ note: expected ? '[REDACTED:cardholder]' : value });
      }),
      { numRuns: 2000 },
    );
  });

  it('pseudonymises with a keyed hash so equal values correlate, but never secrets', () => {
    const key = Buffer.alloc(32, 9);
    const r = new Redactor({
      classification: { email: 'personal', password: 'personal' },
      pseudonymize: { key },
    });
    const a = r.redact({ email: 'a@example.org', password: 'pw' });
    const b = r.redact({ email: 'a@example.org' });
    const c = r.redact({ email: 'b@example.org' });
    expect(a.email).toMatch(/^\[REDACTED:personal:h:[A-Za-z0-9_-]{22}\]$/);
    expect(a.email).toBe(b.email);
    expect(a.email).not.toBe(c.email);
    expect(a.password).toBe('[REDACTED:secret]'); // a built-in secret stays a secret
    expect(
      new Redactor({
        classification: { email: 'personal' },
        pseudonymize: { key: Buffer.alloc(32, 8) },
      }).redact({ email: 'a@example.org' }).email,
    ).not.toBe(a.email);
  });

  it('redacts an owned copy in place to exactly what redact() returns, leaving the input alone', () => {
    const redactors = [
      new Redactor(),
      new Redactor({ detectCardNumbers: false }),
      new Redactor({
        classification: { email: 'personal', 'patient.address': 'phi', 'items.*.pan': 'cardholder' },
        secretNames: ['pinCode'],
        pseudonymize: { key: Buffer.alloc(32, 7) },
      }),
    ];
    // Names the rules match (secrets, suffixes, configured, paths) and names they do not.
    const name = fc.oneof(
      fc.constantFrom('email', 'password', 'newPassword', 'api_key', 'pinCode', 'patient', 'address'),
      fc.constantFrom('items', 'pan', 'cvv', 'route', 'status', 'a', 'b'),
      fc.string({ maxLength: 6 }),
    );
    const leaf = fc.oneof(
      fc.string({ maxLength: 20 }),
      fc.constantFrom('4111 1111 1111 1111', 'card 4111111111111111', '4111-1111-1111-1112'),
      fc.constantFrom(4111111111111111, 4111111111111112, 0, -1.5),
      fc.integer(),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.boolean(),
      fc.constant(null),
    );
    const { value: details } = fc.letrec<{ value: AuditDetails; json: unknown }>((tie) => ({
      json: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        leaf,
        fc.array(tie('json'), { maxLength: 4 }),
        fc.dictionary(name, tie('json'), { maxKeys: 5 }),
      ),
      value: fc.dictionary(name, tie('json'), { maxKeys: 6 }) as fc.Arbitrary<AuditDetails>,
    }));
    fc.assert(
      fc.property(details, fc.constantFrom(0, 1, 2), (input, which) => {
        const r = redactors[which]!;
        const before = JSON.stringify(input);
        const expected = r.redact(input);
        const owned = cloneAuditDetails(input);
        const result = r.redactOwned(owned);
        expect(result).toBe(owned);
        // Same values and the same member order (the stored JSON and the hash depend on both).
        expect(JSON.stringify(result)).toBe(JSON.stringify(expected));
        expect(result).toEqual(expected);
        expect(JSON.stringify(input)).toBe(before);
      }),
      { numRuns: 500 },
    );
  });

  it('redactOwned() defers to an overridden redact() (a subclass keeps its own rules)', () => {
    class Stricter extends Redactor {
      override redact(details: AuditDetails): AuditDetails {
        return { ...super.redact(details), extra: '[checked]' };
      }
    }
    const owned = { a: 1 };
    expect(new Stricter().redactOwned(owned)).toEqual({ a: 1, extra: '[checked]' });
    expect(owned).toEqual({ a: 1 });
  });

  it('validates its options', () => {
    expect(() => new Redactor({ classification: { x: 'secretish' as never } })).toThrow(BulwarkConfigError);
    expect(() => new Redactor({ pseudonymize: { key: Buffer.alloc(8) } })).toThrow(BulwarkConfigError);
    expect(() => new Redactor({ classification: { 'a..b': 'phi' } })).toThrow(BulwarkConfigError);
  });

  it.each(storeFactories)(
    '%s: classified and secret values never reach the stored entry',
    async (_n, makeStore) => {
      const store = await makeStore();
      const log = await AuditLog.open({
        store,
        redactor: new Redactor({ classification: { ssn: 'sensitive', diagnosis: 'phi' } }),
      });
      await log.append(
        event({
          details: { ssn: '078-05-1120', diagnosis: 'Z00.00', password: 'hunter2', changed: ['dob'] },
        }),
      );
      // Default redactor: built-in secrets are removed even when no redactor is configured.
      const plain = await AuditLog.open({ store: new MemoryAuditStore() });
      expect((await plain.append(event({ details: { apiKey: 'sk_live_123' } }))).details).toEqual({
        apiKey: '[REDACTED:secret]',
      });
      const [stored] = (await log.query({})).entries;
      const json = JSON.stringify(stored);
      for (const secret of ['078-05-1120', 'Z00.00', 'hunter2']) expect(json).not.toContain(secret);
      expect(stored!.details).toEqual({
        ssn: '[REDACTED:sensitive]',
        diagnosis: '[REDACTED:phi]',
        password: '[REDACTED:secret]',
        changed: ['dob'],
      });
      expect((await log.verify()).ok).toBe(true);
      if (store instanceof FileAuditStore) {
        await log.close();
        const raw = fs.readFileSync(store.path, 'utf8');
        for (const secret of ['078-05-1120', 'Z00.00', 'hunter2']) expect(raw).not.toContain(secret);
      }
    },
  );
});

describe.each(storeFactories)('%s: redaction, retention and legal hold', (_name, makeStore) => {
  let store: AuditStore;
  let log: AuditLog;
  let signer: CheckpointSigner;
  beforeAll(async () => {
    signer = await CheckpointSigner.generate();
  });
  beforeEach(async () => {
    store = await makeStore();
    log = await AuditLog.open({
      store,
      signer,
      clock: steppingClock('2025-01-01T00:00:00.000Z'),
      retention: { periods: { default: 30, security: 365 } },
    });
    await log.append(
      event({
        actor: { id: 'erin', type: 'user' },
        details: { note: 'erin-private-note' },
        time: '2024-01-01T00:00:00.000Z',
      }),
    );
    await log.append(
      event({
        actor: { id: 'frank', type: 'user' },
        details: { note: 'frank-note' },
        time: '2024-01-02T00:00:00.000Z',
      }),
    );
    await log.append(
      event({ actor: { id: 'erin', type: 'user' }, category: 'security', time: '2024-06-01T00:00:00.000Z' }),
    );
    await log.append(
      event({ actor: { id: 'gina', type: 'user' }, category: 'unlisted', time: '2020-01-01T00:00:00.000Z' }),
    );
    await log.append(
      event({
        actor: { id: 'erin', type: 'user' },
        details: { note: 'erin-recent' },
        time: '2025-01-01T00:00:00.000Z',
      }),
    );
  });
  afterEach(() => log.close());

  const rawText = async (): Promise<string> =>
    store instanceof FileAuditStore
      ? fs.readFileSync(store.path, 'utf8')
      : JSON.stringify((store as MemoryAuditStore).rawEntries);

  it('redact() removes the content of matching entries, keeps the chain, and verifies against earlier checkpoints', async () => {
    const cp = await log.checkpoint();
    const rootBefore = log.root();
    const report = await log.redact({ actorId: 'erin' }, 'GDPR Art. 17 request #42');
    expect(report).toMatchObject({
      removed: 3,
      ranges: [
        [1, 1],
        [3, 3],
        [5, 5],
      ],
      held: { count: 0 },
    });
    expect(log.root(5)).toBe(rootBefore);
    const e1 = await log.get(1);
    expect(e1).toEqual({
      seq: 1,
      time: '2024-01-01T00:00:00.000Z',
      category: 'default',
      prevHash: '0'.repeat(64),
      leafHash: expect.any(String),
      redacted: { at: expect.any(String), reason: 'GDPR Art. 17 request #42' },
    });
    const text = await rawText();
    expect(text).not.toContain('erin-private-note');
    expect(text).not.toContain('erin-recent');
    expect(text).not.toContain('"erin"');
    expect(text).toContain('frank-note');
    // The erasure is itself on record.
    const records = (await log.query({ action: 'audit.redacted' })).entries;
    expect(records).toHaveLength(1);
    expect(records[0]!.details).toEqual({
      ranges: [
        [1, 1],
        [3, 3],
        [5, 5],
      ],
      count: 3,
    });
    expect(await log.verify({ checkpoints: [cp] })).toMatchObject({ ok: true, checkpointsVerified: 2 });
    expect((await log.query({ actorId: 'erin' })).entries).toHaveLength(0);
    await expect(log.redact({}, 'everything')).rejects.toMatchObject({
      code: ErrorCodes.AUDIT_INVALID_ARGUMENT,
    });
  });

  it('purge() removes expired content per category, keeps unlisted categories, and the log verifies', async () => {
    const now = new Date('2025-01-01T00:00:00.000Z');
    const dry = await log.purge({ now, dryRun: true });
    expect(dry).toMatchObject({ removed: 0, ranges: [[1, 2]], dryRun: true });
    expect((await log.get(1))?.redacted).toBeUndefined();
    const report = await log.purge({ now });
    expect(report).toMatchObject({ removed: 2, ranges: [[1, 2]] });
    expect((await log.get(1))?.redacted?.reason).toMatch(/retention/);
    expect((await log.get(3))?.redacted).toBeUndefined(); // security: 365 days, not yet
    expect((await log.get(4))?.redacted).toBeUndefined(); // no period for 'unlisted': kept forever
    expect(await rawText()).not.toContain('frank-note');
    // Not recorded: an `audit.verified` entry would be one more entry for the purge below.
    expect((await log.verify({ record: false })).ok).toBe(true);
    const later = await log.purge({ now: new Date(now.getTime() + 400 * DAY) });
    // Entry 3 (security, 365 days) and 5 (default) expire; 4 ('unlisted') and 6 (the purge record, 'audit') have no period.
    expect(later).toMatchObject({
      removed: 2,
      ranges: [
        [3, 3],
        [5, 5],
      ],
    });
    expect((await log.get(6))?.action).toBe('audit.purged');
    expect((await log.verify()).ok).toBe(true);
  });

  it('legal holds block purge and redaction of the entries they cover, and are reported', async () => {
    await log.addLegalHold({ id: 'case-7', reason: 'litigation', actorId: 'erin' });
    await log.addLegalHold({ id: 'range', reason: 'investigation', fromSeq: 2, toSeq: 2 });
    await expect(log.addLegalHold({ id: 'range', reason: 'again', actorId: 'x' })).rejects.toMatchObject({
      code: ErrorCodes.AUDIT_INVALID_ARGUMENT,
    });
    const purged = await log.purge({ now: new Date('2026-01-01T00:00:00.000Z') });
    expect(purged.removed).toBe(0);
    expect(purged.held).toEqual({ count: 4, holdIds: ['case-7', 'range'] });
    expect(await rawText()).toContain('erin-private-note');
    const red = await log.redact({ actorId: 'erin' }, 'erasure');
    expect(red).toMatchObject({ removed: 0, held: { count: 3, holdIds: ['case-7'] } });
    expect(await log.removeLegalHold('case-7')).toBe(true);
    expect(await log.removeLegalHold('case-7')).toBe(false);
    expect((await log.redact({ actorId: 'erin' }, 'erasure')).removed).toBe(3);
    expect((await log.verify()).ok).toBe(true);
  });

  it('a stub made without a redaction record, or a stub that keeps content, fails verification', async () => {
    await log.flush();
    await store.redact([2], { at: '2025-01-01T00:00:00.000Z', reason: 'sneaky' }); // bypasses AuditLog.redact
    expect((await verifyAuditLog(store)).firstBad).toMatchObject({ seq: 2, reason: 'unrecorded-redaction' });
    const all = copyEntries((await log.query({ limit: 1000 })).entries);
    // Marking an entry as redacted to skip its hash check while keeping (edited) content:
    all[0]!.redacted = { at: '2025-01-01T00:00:00.000Z', reason: 'x' };
    all[0]!.outcome = 'failure';
    expect((await verifyAuditLog(all)).firstBad).toMatchObject({ seq: 1, reason: 'hash-mismatch' });
  });
});

describe('FileAuditStore redaction survives reopen', () => {
  it('rewrites the file atomically; a reopened log verifies and appends', async () => {
    const file = path.join(tempDir(), 'audit.jsonl');
    let log = await AuditLog.open({
      store: await FileAuditStore.open({ path: file }),
      clock: steppingClock(),
    });
    for (let i = 0; i < 4; i++)
      await log.append(
        event({ actor: { id: i === 1 ? 'zoe' : 'yan', type: 'user' }, details: { secretNote: `n-${i}` } }),
      );
    await log.redact({ actorId: 'zoe' }, 'erasure');
    await log.close();
    expect(fs.readFileSync(file, 'utf8')).not.toContain('zoe');
    log = await AuditLog.open({ store: await FileAuditStore.open({ path: file }) });
    expect(log.size).toBe(5);
    expect((await log.append(event())).seq).toBe(6);
    expect((await log.verify()).ok).toBe(true);
    await log.close();
    expect(fs.readdirSync(path.dirname(file)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});
