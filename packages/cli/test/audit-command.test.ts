import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { AuditLog, FileAuditStore } from '@bulwark/core';
import { runCli } from '../src/run-cli';

interface Run {
  code: number;
  out: string;
  err: string;
}

const event = (i: number, extra: Record<string, unknown> = {}) => ({
  actor: { id: `user-${i % 3}`, type: 'user', ip: '203.0.113.7' },
  action: i % 2 ? 'patient.read' : 'patient.update',
  resource: { type: 'patient', id: `p-${i}` },
  outcome: i % 5 === 0 ? 'denied' : 'success',
  time: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
  ...extra,
});

describe('bulwark audit (file log)', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;

  const cli = async (argv: string[], stdin?: string): Promise<Run> => {
    let out = '';
    let err = '';
    const code = await runCli(argv, {
      stdout: (t) => (out += t),
      stderr: (t) => (err += t),
      stdin: stdin === undefined ? undefined : Readable.from([stdin]),
      env,
      cwd: dir,
    });
    return { code, out, err };
  };
  const logFile = () => path.join(dir, 'audit.jsonl');
  const lines = async () => (await fs.readFile(logFile(), 'utf8')).trimEnd().split('\n');
  const appendEvents = async (n: number, extra: string[] = []) => {
    const stdin = Array.from({ length: n }, (_, i) => JSON.stringify(event(i + 1))).join('\n') + '\n';
    const res = await cli(['audit', 'append', '--file', 'audit.jsonl', ...extra], stdin);
    expect(res).toMatchObject({ code: 0, err: '' });
    return res;
  };

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bulwark-audit-cli-'));
    env = {};
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('appends JSON-lines events from stdin and verifies an intact log', async () => {
    const res = await appendEvents(20);
    expect(res.out.trim().split('\n')).toEqual(Array.from({ length: 20 }, (_, i) => String(i + 1)));
    const verified = await cli(['audit', 'verify', '--file', 'audit.jsonl']);
    expect(verified.code).toBe(0);
    expect(verified.out).toMatch(/^ok: 20 entries/);
  });

  it.each([
    [
      'an edited field',
      (l: string[]) => l.map((x, i) => (i === 6 ? x.replace('patient.', 'patient.x') : x)),
      7,
    ],
    ['a deleted line', (l: string[]) => l.filter((_, i) => i !== 9), 10],
    ['two swapped lines', (l: string[]) => [...l.slice(0, 4), l[5]!, l[4]!, ...l.slice(6)], 5],
    ['an inserted copy', (l: string[]) => [...l.slice(0, 12), l[3]!, ...l.slice(12)], 13],
  ])('exits 1 naming the first bad seq after %s', async (_name, mutate, badSeq) => {
    await appendEvents(20);
    await fs.writeFile(logFile(), mutate(await lines()).join('\n') + '\n');
    const res = await cli(['audit', 'verify', '--file', 'audit.jsonl']);
    expect(res.code).toBe(1);
    expect(res.out).toContain(`first bad entry at seq ${badSeq}`);
  });

  it('catches truncation and whole-log replacement against signed checkpoints', async () => {
    const keygen = await cli(['audit', 'keygen', '--out', 'checkpoint.key']);
    expect(keygen.code).toBe(0);
    await fs.writeFile(path.join(dir, 'checkpoint.pub'), keygen.out);
    expect(JSON.parse(keygen.out)).not.toHaveProperty('d'); // the private part stays in the file
    expect((await fs.stat(path.join(dir, 'checkpoint.key'))).mode & 0o777).toBe(0o600);

    await appendEvents(12);
    const cp = await cli([
      'audit',
      'checkpoint',
      '--file',
      'audit.jsonl',
      '--signing-key',
      'checkpoint.key',
      '--export',
      'cp.json',
    ]);
    expect(cp.code).toBe(0);
    expect(JSON.parse(await fs.readFile(path.join(dir, 'cp.json'), 'utf8'))).toMatchObject({ treeSize: 12 });
    const verifyArgs = ['audit', 'verify', '--file', 'audit.jsonl', '--public-key', 'checkpoint.pub'];
    expect((await cli(verifyArgs)).out).toMatch(/1 checkpoint\(s\) verified/);

    // verify refuses to run blind when checkpoints exist but no key is given
    expect((await cli(['audit', 'verify', '--file', 'audit.jsonl'])).code).toBe(2);

    const original = await lines();
    await fs.writeFile(logFile(), original.slice(0, 8).join('\n') + '\n');
    const truncated = await cli(verifyArgs);
    expect(truncated.code).toBe(1);
    expect(truncated.out).toMatch(/^TRUNCATED: entries from seq 9 on are missing/);

    // an attacker rebuilds a complete, internally consistent log with other content
    await fs.rm(logFile());
    const forged = Array.from({ length: 12 }, (_, i) => JSON.stringify(event(i + 100))).join('\n') + '\n';
    expect((await cli(['audit', 'append', '--file', 'audit.jsonl'], forged)).code).toBe(0);
    const replaced = await cli(verifyArgs);
    expect(replaced.code).toBe(1);
    expect(replaced.out).toMatch(/checkpoint-mismatch/);

    // a forged checkpoint signature (another key) is rejected
    await fs.writeFile(logFile(), original.join('\n') + '\n');
    await cli(['audit', 'keygen', '--out', 'other.key']);
    const wrongKey = await cli(['audit', 'verify', '--file', 'audit.jsonl', '--signing-key', 'other.key']);
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.out).toMatch(/bad-signature/);
  });

  it('prints inclusion and consistency proofs that verify', async () => {
    await appendEvents(9);
    const res = await cli(['audit', 'prove', '5', '--file', 'audit.jsonl']);
    expect(res.code).toBe(0);
    const proof = JSON.parse(res.out);
    expect(proof).toMatchObject({ seq: 5, treeSize: 9 });
    expect(AuditLog.verifyInclusion(proof)).toBe(true);
    expect(AuditLog.verifyInclusion({ ...proof, seq: 6 })).toBe(false);

    const past = JSON.parse((await cli(['audit', 'prove', '5', '--size', '6', '--file', 'audit.jsonl'])).out);
    expect(past.treeSize).toBe(6);
    const cons = await cli(['audit', 'prove', '--consistency', '4', '9', '--file', 'audit.jsonl']);
    expect(cons.code).toBe(0);
    expect(AuditLog.verifyConsistency(JSON.parse(cons.out))).toBe(true);

    expect((await cli(['audit', 'prove', '10', '--file', 'audit.jsonl'])).code).toBe(2);
    expect((await cli(['audit', 'prove', 'x', '--file', 'audit.jsonl'])).code).toBe(2);
  });

  it('proves from the persisted Merkle node cache, which follows the log as it grows and as it is rewritten', async () => {
    await appendEvents(9);
    const proofOf = async (seq: number) =>
      JSON.parse((await cli(['audit', 'prove', String(seq), '--file', 'audit.jsonl'])).out) as {
        treeSize: number;
        root: string;
      };
    const first = await proofOf(5);
    const head = JSON.parse(await fs.readFile(path.join(dir, 'audit.jsonl.merkle', 'head.json'), 'utf8'));
    expect(head).toMatchObject({ treeSize: 9 });
    await appendEvents(7);
    const grown = await proofOf(5);
    expect(grown.treeSize).toBe(16);
    // The same answer as a log opened in full.
    const store = await FileAuditStore.open({ path: logFile(), readOnly: true });
    const log = await AuditLog.open({ store });
    expect(grown).toEqual(log.proveInclusion(5));
    await log.close();
    expect(
      AuditLog.verifyConsistency(
        JSON.parse((await cli(['audit', 'prove', '--consistency', '9', '--file', 'audit.jsonl'])).out),
        { fromRoot: first.root, toRoot: grown.root },
      ),
    ).toBe(true);
    // Another log under the same name: the cache notices and rebuilds instead of answering for the old one.
    await fs.rm(logFile());
    await appendEvents(3);
    expect((await proofOf(2)).treeSize).toBe(3);
  });

  it('tails and exports with filters', async () => {
    await appendEvents(10);
    const tail = await cli(['audit', 'tail', '-n', '3', '--file', 'audit.jsonl']);
    expect(
      tail.out
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).seq),
    ).toEqual([8, 9, 10]);

    const reads = await cli(['audit', 'export', '--action', 'patient.read', '--file', 'audit.jsonl']);
    const seqs = reads.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).seq);
    expect(seqs).toEqual([1, 3, 5, 7, 9]);
    const denied = await cli([
      'audit',
      'export',
      '--outcome',
      'denied',
      '--format',
      'json',
      '--file',
      'audit.jsonl',
    ]);
    expect(JSON.parse(denied.out).map((e: { seq: number }) => e.seq)).toEqual([5, 10]);
    const byActor = await cli([
      'audit',
      'export',
      '--actor',
      'user-1',
      '--action',
      'patient.*',
      '--file',
      'audit.jsonl',
    ]);
    expect(byActor.out.trim().split('\n')).toHaveLength(4);
    expect((await cli(['audit', 'export', '--outcome', 'maybe', '--file', 'audit.jsonl'])).code).toBe(2);
    expect((await cli(['audit', 'export', '--from', 'yesterday', '--file', 'audit.jsonl'])).code).toBe(2);

    // Severity (derived when read) and SIEM formats.
    const serious = await cli(['audit', 'export', '--min-severity', 'medium', '--file', 'audit.jsonl']);
    expect(
      serious.out
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).seq),
    ).toEqual([5, 10]);
    const ocsf = await cli([
      'audit',
      'export',
      '--min-severity',
      'medium',
      '--format',
      'ocsf',
      '--file',
      'audit.jsonl',
    ]);
    const events = ocsf.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(events.map((e: { class_uid: number; status_id: number }) => [e.class_uid, e.status_id])).toEqual([
      [6003, 2],
      [6003, 2],
    ]);
    const syslog = await cli([
      'audit',
      'export',
      '--action',
      'patient.read',
      '--format',
      'syslog',
      '--file',
      'audit.jsonl',
    ]);
    expect(
      syslog.out
        .trim()
        .split('\n')
        .every((l) => /^<\d+>1 \S+ /.test(l)),
    ).toBe(true);
    expect((await cli(['audit', 'export', '--min-severity', 'urgent', '--file', 'audit.jsonl'])).code).toBe(
      2,
    );
    expect((await cli(['audit', 'export', '--min-risk', '500', '--file', 'audit.jsonl'])).code).toBe(2);
    expect((await cli(['audit', 'export', '--format', 'cef', '--file', 'audit.jsonl'])).code).toBe(2);
  });

  it('verify --record appends the run as audit.verified, intact or not, and the security report lists it', async () => {
    await appendEvents(10);
    const ok = await cli(['audit', 'verify', '--file', 'audit.jsonl', '--record']);
    expect(ok.code).toBe(0);
    expect(ok.err).toContain('recorded as audit entry 11 (audit.verified)');
    const recorded = JSON.parse((await lines())[10]!);
    expect(recorded).toMatchObject({
      seq: 11,
      action: 'audit.verified',
      outcome: 'success',
      actor: { id: 'bulwark-cli', type: 'system' },
      details: { ok: true, source: 'cli', mode: 'full', fromSeq: 1, toSeq: 10, treeSize: 10 },
    });
    // The record is itself a chained entry: the log still verifies, now with 11 entries.
    expect((await cli(['audit', 'verify', '--file', 'audit.jsonl'])).out).toMatch(/^ok: 11 entries/);
    // Without --record nothing is written.
    expect(await lines()).toHaveLength(11);

    // An edited entry: exit 1 stays the verdict; the failed run is recorded too.
    const edited = (await lines()).map((x, i) => (i === 3 ? x.replace('patient.', 'patient.x') : x));
    await fs.writeFile(logFile(), edited.join('\n') + '\n');
    const bad = await cli(['audit', 'verify', '--file', 'audit.jsonl', '--record']);
    expect(bad.code).toBe(1);
    const last = JSON.parse((await lines()).at(-1)!);
    expect(last).toMatchObject({
      action: 'audit.verified',
      outcome: 'failure',
      details: { ok: false, source: 'cli', firstBad: { seq: 4, reason: 'hash-mismatch' } },
    });

    const day = new Date().toISOString().slice(0, 10);
    const next = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    const report = JSON.parse(
      (
        await cli([
          'security-report',
          '--from',
          day,
          '--to',
          next,
          '--format',
          'json',
          '--file',
          'audit.jsonl',
        ])
      ).out,
    );
    expect(report.figures.integrityChecks.count).toBe(2);
    expect(report.figures.integrityFailures.count).toBe(1);
    expect(report.integrityChecks.map((c: { ok: boolean; source: string }) => [c.ok, c.source])).toEqual([
      [true, 'cli'],
      [false, 'cli'],
    ]);
    expect(report.figures.integrityFailures.command).toBe(
      `bulwark audit export --action audit.verified --outcome failure --from ${day}T00:00:00.000Z --to ${next}T00:00:00.000Z`,
    );
  });

  it('prints the security report over a period (bulwark security-report)', async () => {
    await appendEvents(10);
    const first = JSON.parse((await lines())[0]!).time as string;
    const day = first.slice(0, 10);
    const next = new Date(Date.parse(day) + 86_400_000).toISOString().slice(0, 10);
    const json = await cli([
      'security-report',
      '--from',
      day,
      '--to',
      next,
      '--format',
      'json',
      '--file',
      'audit.jsonl',
    ]);
    expect(json).toMatchObject({ code: 0, err: '' });
    const report = JSON.parse(json.out);
    expect(report.entries).toBe(10);
    expect(report.figures.denials.count).toBe(2);
    expect(report.figures.denials.command).toMatch(/^bulwark audit export --outcome denied --from /);
    const md = await cli(['audit', 'report', '--from', day, '--to', next, '--file', 'audit.jsonl']);
    expect(md.out).toMatch(/^# Security report/);
    const html = await cli([
      'security-report',
      '--from',
      day,
      '--to',
      next,
      '--format',
      'html',
      '--file',
      'audit.jsonl',
    ]);
    expect(html.out).toMatch(/^<!doctype html>/);
    expect(html.out).toContain('<svg class="trend"');
    expect((await cli(['security-report', '--from', day, '--file', 'audit.jsonl'])).code).toBe(2);
    expect((await cli(['security-report', '--from', next, '--to', day, '--file', 'audit.jsonl'])).code).toBe(
      2,
    );
    expect(
      (
        await cli([
          'security-report',
          '--from',
          day,
          '--to',
          next,
          '--format',
          'pdf',
          '--file',
          'audit.jsonl',
        ])
      ).code,
    ).toBe(2);
  });

  it('uses the HMAC key: a missing or wrong key is a usage problem (exit 2), not tampering', async () => {
    env = { BULWARK_AUDIT_HMAC_KEY: 'a'.repeat(64) };
    await appendEvents(5);
    expect((await cli(['audit', 'verify', '--file', 'audit.jsonl'])).code).toBe(0);
    env = { BULWARK_AUDIT_HMAC_KEY: 'b'.repeat(64) };
    const wrong = await cli(['audit', 'verify', '--file', 'audit.jsonl']);
    expect(wrong.code).toBe(2);
    expect(wrong.out).toMatch(/^the HMAC key does not match this log/);
    expect(wrong.out).not.toContain('TAMPERED');
    env = {};
    const missing = await cli(['audit', 'verify', '--file', 'audit.jsonl']);
    expect(missing.code).toBe(2);
    expect(missing.out).toMatch(
      /^the log is HMAC-keyed .*pass --hmac-key-file FILE or set BULWARK_AUDIT_HMAC_KEY/,
    );
    const asJson = await cli(['audit', 'verify', '--file', 'audit.jsonl', '--json']);
    expect(JSON.parse(asJson.out)).toMatchObject({ ok: false, verdict: 'hmac-key-missing' });
    env = { BULWARK_AUDIT_HMAC_KEY: 'short' };
    expect((await cli(['audit', 'verify', '--file', 'audit.jsonl'])).code).toBe(2);

    // With the key, tampering with one entry is still tampering (exit 1), not a key problem.
    env = { BULWARK_AUDIT_HMAC_KEY: 'a'.repeat(64) };
    const all = await lines();
    const third = JSON.parse(all[2]!) as Record<string, unknown>;
    all[2] = JSON.stringify({ ...third, action: 'patient.delete' });
    await fs.writeFile(logFile(), all.join('\n') + '\n');
    const tampered = await cli(['audit', 'verify', '--file', 'audit.jsonl']);
    expect(tampered.code).toBe(1);
    expect(tampered.out).toMatch(/^TAMPERED: first bad entry at seq 3: hash-mismatch/);
    // ...and without the key it is still not reported as a missing key (most entries hash fine under none).
  });

  it('says an unkeyed log needs no key (exit 2) instead of calling every entry tampered', async () => {
    await appendEvents(4);
    env = { BULWARK_AUDIT_HMAC_KEY: 'a'.repeat(64) };
    const res = await cli(['audit', 'verify', '--file', 'audit.jsonl']);
    expect(res.code).toBe(2);
    expect(res.out).toMatch(/^the log is not HMAC-keyed/);
  });

  it('tells an unkeyed log with one edited entry as tampered, and notes the uncheckpointed tail', async () => {
    await appendEvents(6);
    const ok = await cli(['audit', 'verify', '--file', 'audit.jsonl']);
    expect(ok.code).toBe(0);
    expect(ok.out).toMatch(/\nnote: no signed checkpoint covers this log/);
    const all = await lines();
    const second = JSON.parse(all[1]!) as Record<string, unknown>;
    all[1] = JSON.stringify({ ...second, outcome: 'failure' });
    await fs.writeFile(logFile(), all.join('\n') + '\n');
    const res = await cli(['audit', 'verify', '--file', 'audit.jsonl']);
    expect(res.code).toBe(1);
    expect(res.out).toMatch(/^TAMPERED: first bad entry at seq 2: hash-mismatch/);
  });

  describe('torn tail and repair (a write interrupted by a crash or a full disk)', () => {
    // The module object itself, so spies see the calls of the CLI and the store.
    const nodeFs = require('node:fs') as typeof import('node:fs');
    const enospc = () =>
      Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28 });
    const tear = async (): Promise<{ offset: number; before: Buffer }> => {
      await appendEvents(5);
      const offset = (await fs.stat(logFile())).size;
      await fs.appendFile(logFile(), '{"seq":6,"time":"2026-01-0');
      return { offset, before: await fs.readFile(logFile()) };
    };
    afterEach(() => jest.restoreAllMocks());

    it('verify reports TORN TAIL with its byte offset (exit 2), not TAMPERED; repair fixes it after a backup', async () => {
      const { offset, before } = await tear();
      const verified = await cli(['audit', 'verify', '--file', 'audit.jsonl']);
      expect(verified.code).toBe(2);
      expect(verified.out).toMatch(
        new RegExp(`^TORN TAIL \\(incomplete last line at byte ${offset}; run bulwark audit repair\\)`),
      );
      expect(verified.out).not.toContain('TAMPERED');
      expect(
        JSON.parse((await cli(['audit', 'verify', '--file', 'audit.jsonl', '--json'])).out),
      ).toMatchObject({ ok: false, verdict: 'torn-tail', tornTail: { offset } });

      const repaired = await cli(['audit', 'repair', 'audit.jsonl', '--json']);
      expect(repaired).toMatchObject({ code: 0, err: '' });
      const result = JSON.parse(repaired.out) as { backup: string; movedTo: string; offset: number };
      expect(result).toMatchObject({ repaired: true, offset, bytes: before.length - offset });
      expect(await fs.readFile(result.backup)).toEqual(before); // the log as it was
      expect(await fs.readFile(result.movedTo, 'utf8')).toBe('{"seq":6,"time":"2026-01-0');
      expect((await fs.stat(logFile())).size).toBe(offset);

      expect((await cli(['audit', 'verify', '--file', 'audit.jsonl'])).code).toBe(0);
      await appendEvents(1);
      expect((await cli(['audit', 'verify', '--file', 'audit.jsonl'])).out).toMatch(/^ok: 6 entries/);
      expect(await cli(['audit', 'repair', '--file', 'audit.jsonl'])).toMatchObject({
        code: 0,
        out: 'nothing to repair: the log ends with a complete line\n',
      });
    });

    it('a full disk during the backup: exit 3 with ERR_AUDIT_NO_SPACE, the log unchanged', async () => {
      const { before } = await tear();
      jest.spyOn(nodeFs.promises, 'copyFile').mockRejectedValue(enospc());
      const res = await cli(['audit', 'repair', 'audit.jsonl']);
      expect(res.code).toBe(3);
      expect(res.err).toMatch(/no space left .*free space and run repair again.*\[ERR_AUDIT_NO_SPACE\]/);
      expect(res.err).not.toMatch(/could not run|ENOSPC: no space left on device, write/);
      expect(await fs.readFile(logFile())).toEqual(before);
      expect((await fs.readdir(dir)).filter((f) => f.includes('.bak-'))).toEqual([]);
    });

    it('a full disk while keeping the torn line: exit 3 with ERR_AUDIT_NO_SPACE, the log unchanged', async () => {
      const { before } = await tear();
      jest.spyOn(nodeFs, 'write').mockImplementation(((...args: unknown[]) => {
        const cb = args[args.length - 1] as (err: NodeJS.ErrnoException) => void;
        process.nextTick(cb, enospc());
      }) as never);
      const res = await cli(['audit', 'repair', 'audit.jsonl']);
      expect(res.code).toBe(3);
      expect(res.err).toContain('[ERR_AUDIT_NO_SPACE]');
      expect(await fs.readFile(logFile())).toEqual(before);
      jest.restoreAllMocks();
      expect((await cli(['audit', 'repair', 'audit.jsonl'])).code).toBe(0);
    });

    it('refuses a missing log (exit 2) and creates nothing', async () => {
      const res = await cli(['audit', 'repair', 'nope.jsonl']);
      expect(res.code).toBe(2);
      expect(await fs.readdir(dir)).toEqual([]);
    });
  });

  it('rejects bad input with exit 2 and appends nothing from a malformed batch', async () => {
    const res = await cli(
      ['audit', 'append', '--file', 'audit.jsonl'],
      `${JSON.stringify(event(1))}\n{not json\n`,
    );
    expect(res.code).toBe(2);
    expect(res.err).toContain('line 2');
    expect((await cli(['audit', 'verify', '--file', 'audit.jsonl'])).out).toMatch(/^ok: 0 entries/);

    const invalid = await cli(
      ['audit', 'append', '--file', 'audit.jsonl'],
      JSON.stringify({ action: 'x' }) + '\n',
    );
    expect(invalid.code).toBe(2);
    expect(invalid.err).toContain('ERR_AUDIT_INVALID_EVENT');

    expect((await cli(['audit', 'frobnicate'])).code).toBe(2);
    expect((await cli(['audit', 'verify', '--file', 'a', '--db', 'b'])).code).toBe(2);
    expect((await cli(['audit', 'checkpoint', '--file', 'audit.jsonl'])).code).toBe(2);
    expect((await cli(['audit', 'keygen'])).code).toBe(2);
    expect((await cli(['audit', '--help'])).code).toBe(0);
  });
  it('verify, prove, tail and export read a log that a running writer holds locked', async () => {
    await appendEvents(3);
    // The application: an AuditLog holding the file store's writer lock for its lifetime.
    const app = await AuditLog.open({ store: await FileAuditStore.open({ path: logFile() }) });
    try {
      await app.append(event(4) as never);
      const verified = await cli(['audit', 'verify', '--file', 'audit.jsonl']);
      expect(verified).toMatchObject({ code: 0, err: '' });
      expect(verified.out).toMatch(/^ok: 4 entries, 4 checked/);
      const proof = await cli(['audit', 'prove', '4', '--file', 'audit.jsonl']);
      expect(proof.code).toBe(0);
      expect(AuditLog.verifyInclusion(JSON.parse(proof.out))).toBe(true);
      const tail = await cli(['audit', 'tail', '-n', '1', '--file', 'audit.jsonl']);
      expect(tail.code).toBe(0);
      expect(JSON.parse(tail.out).seq).toBe(4);
      const exported = await cli(['audit', 'export', '--format', 'json', '--file', 'audit.jsonl']);
      expect(exported.code).toBe(0);
      expect(JSON.parse(exported.out)).toHaveLength(4);
      // The readers left the writer's lock in place and the app keeps appending.
      expect(await fs.readFile(`${logFile()}.lock`, 'utf8')).toBe(String(process.pid));
      expect((await app.append(event(5) as never)).seq).toBe(5);
      expect((await cli(['audit', 'verify', '--file', 'audit.jsonl'])).out).toMatch(/^ok: 5 entries/);

      // A batch the app is half-way through writing is left out with a note, not called tampering.
      const before = await fs.readFile(logFile());
      await fs.appendFile(logFile(), '{"seq":6,"time":"2026-01-');
      const midWrite = await cli(['audit', 'verify', '--file', 'audit.jsonl', '--json']);
      expect(midWrite.code).toBe(0);
      expect(JSON.parse(midWrite.out)).toMatchObject({ ok: true, treeSize: 5 });
      expect(midWrite.err).toMatch(/partial last line of 25 bytes that the running writer \(pid \d+\)/);
      await fs.writeFile(logFile(), before);
    } finally {
      await app.close();
    }
  });

  it('append and checkpoint on a locked log exit 2 with a clear message, writing nothing', async () => {
    await appendEvents(2);
    await cli(['audit', 'keygen', '--out', 'checkpoint.key']);
    const app = await AuditLog.open({ store: await FileAuditStore.open({ path: logFile() }) });
    try {
      const before = await fs.readFile(logFile(), 'utf8');
      const res = await cli(['audit', 'append', '--file', 'audit.jsonl'], JSON.stringify(event(9)) + '\n');
      expect(res.code).toBe(2);
      expect(res.out).toBe('');
      expect(res.err).toContain(`the log is locked by a writer (pid ${process.pid})`);
      expect(res.err).toContain('ERR_AUDIT_STORE_LOCKED');
      const cp = await cli([
        'audit',
        'checkpoint',
        '--file',
        'audit.jsonl',
        '--signing-key',
        'checkpoint.key',
      ]);
      expect(cp.code).toBe(2);
      expect(cp.err).toContain('locked by a writer');
      expect(await fs.readFile(logFile(), 'utf8')).toBe(before);
      await expect(fs.stat(`${logFile()}.checkpoints`)).rejects.toMatchObject({ code: 'ENOENT' });
    } finally {
      await app.close();
    }
    // Once the app has stopped, the CLI is the writer again.
    expect(
      (await cli(['audit', 'append', '--file', 'audit.jsonl'], JSON.stringify(event(9)) + '\n')).out,
    ).toBe('3\n');
  });

  it('verify of a missing log file exits 2 and creates nothing', async () => {
    const res = await cli(['audit', 'verify', '--file', 'nope.jsonl']);
    expect(res.code).toBe(2);
    expect(res.err).toContain('no audit log at');
    await expect(fs.stat(path.join(dir, 'nope.jsonl'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('verify --json on a tampered log reports the size of the log, and the verified prefix apart', async () => {
    await appendEvents(20);
    await fs.writeFile(
      logFile(),
      (await lines()).map((x, i) => (i === 6 ? x.replace('patient.', 'patient.x') : x)).join('\n') + '\n',
    );
    const res = await cli(['audit', 'verify', '--file', 'audit.jsonl', '--json']);
    expect(res.code).toBe(1);
    const report = JSON.parse(res.out);
    expect(report).toMatchObject({ ok: false, treeSize: 20, verifiedTreeSize: 6, firstBad: { seq: 7 } });
    expect(res.out).not.toContain('"treeSize": 0');
    const text = await cli(['audit', 'verify', '--file', 'audit.jsonl']);
    expect(text.out).toContain('first bad entry at seq 7');
    expect(text.out).toContain('(the log holds 20 entries)');
  });

  it('verify --json with a forged checkpoint signature still reports the real tree size (not 0)', async () => {
    await appendEvents(12);
    await cli(['audit', 'keygen', '--out', 'checkpoint.key']);
    const other = await cli(['audit', 'keygen', '--out', 'other.key']);
    await fs.writeFile(path.join(dir, 'other.pub'), other.out);
    await cli(['audit', 'checkpoint', '--file', 'audit.jsonl', '--signing-key', 'checkpoint.key']);
    const res = await cli([
      'audit',
      'verify',
      '--file',
      'audit.jsonl',
      '--public-key',
      'other.pub',
      '--json',
    ]);
    expect(res.code).toBe(1);
    expect(JSON.parse(res.out)).toMatchObject({
      ok: false,
      treeSize: 12,
      verifiedTreeSize: 0,
      firstBad: { reason: 'bad-signature' },
    });
  });

  describe('progress', () => {
    const tty = { stderrIsTTY: true, progressDelayMs: 0 };
    const run = async (argv: string[], io: Record<string, unknown>) => {
      let out = '';
      let err = '';
      const code = await runCli(argv, {
        stdout: (t) => (out += t),
        stderr: (t) => (err += t),
        env,
        cwd: dir,
        ...io,
      });
      return { code, out, err };
    };
    beforeEach(async () => {
      await appendEvents(2500);
    });

    it('draws a progress line on a TTY stderr for verify, prove and export, and erases it', async () => {
      for (const argv of [
        ['audit', 'verify', '--file', 'audit.jsonl'],
        ['audit', 'prove', '3', '--file', 'audit.jsonl'],
        ['audit', 'export', '--file', 'audit.jsonl', '--action', 'patient.*'],
      ]) {
        const res = await run(argv, tty);
        expect(res.code).toBe(0);
        // ESC [ K: erase the line, then redraw it
        expect(res.err.startsWith('\r\x1b[K')).toBe(true);
        expect(res.err).toMatch(
          /(verify|prove: reading the log|export: up to seq): [\d,]+ of 2,500 entries \(\d+%\)/,
        );
        expect(res.err.endsWith('\r\x1b[K')).toBe(true); // erased before the result
        expect(res.out).not.toContain('\x1b'); // stdout stays the result
      }
    });

    it('draws nothing with --json, on a non-TTY stderr, or before the delay', async () => {
      const verify = ['audit', 'verify', '--file', 'audit.jsonl'];
      expect((await run([...verify, '--json'], tty)).err).toBe('');
      expect((await run(verify, { progressDelayMs: 0 })).err).toBe('');
      expect((await run(verify, { stderrIsTTY: true, progressDelayMs: 60_000 })).err).toBe('');
      // export printing to a terminal: the output is the progress
      const exported = ['audit', 'export', '--file', 'audit.jsonl', '--action', 'patient.*'];
      expect((await run(exported, { ...tty, stdoutIsTTY: true })).err).toBe('');
    });
  });

  it('--from-checkpoint verifies incrementally and counts the from checkpoint once', async () => {
    const keygen = await cli(['audit', 'keygen', '--out', 'checkpoint.key']);
    await fs.writeFile(path.join(dir, 'checkpoint.pub'), keygen.out);
    const checkpoint = ['audit', 'checkpoint', '--file', 'audit.jsonl', '--signing-key', 'checkpoint.key'];
    const verify = ['audit', 'verify', '--file', 'audit.jsonl', '--public-key', 'checkpoint.pub'];
    await appendEvents(6);
    expect((await cli(checkpoint)).code).toBe(0);
    await appendEvents(3);
    const one = await cli([...verify, '--from-checkpoint']);
    expect(one.code).toBe(0);
    expect(one.out).toMatch(
      /^ok: 9 entries, 3 checked \(incremental from tree size 6\), 1 checkpoint\(s\) verified/,
    );
    expect(JSON.parse((await cli([...verify, '--from-checkpoint', '--json'])).out)).toMatchObject({
      checkpointsVerified: 1,
      checkedEntries: 3,
    });
    expect((await cli(checkpoint)).code).toBe(0);
    await appendEvents(1);
    const two = await cli([...verify, '--from-checkpoint']);
    expect(two.out).toMatch(
      /^ok: 10 entries, 1 checked \(incremental from tree size 9\), 2 checkpoint\(s\) verified/,
    );
    expect((await cli(verify)).out).toMatch(/^ok: 10 entries, 10 checked, 2 checkpoint\(s\) verified/);
  });
});
