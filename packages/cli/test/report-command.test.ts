import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ComplianceSigner, verifyComplianceReport } from '@bulwark/core';
import type { CliIo } from '../src/cli-io';
import { runCli } from '../src/run-cli';

const FIXTURES = path.join(__dirname, 'fixtures');

interface Run {
  code: number;
  out: string;
  err: string;
}

describe('bulwark report', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bulwark-report-'));
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  const cli = async (...argv: string[]): Promise<Run> => {
    let out = '';
    let err = '';
    const io: CliIo = { stdout: (t) => (out += t), stderr: (t) => (err += t), env: {}, cwd: dir };
    const code = await runCli(['report', ...argv], io);
    return { code, out, err };
  };

  it('exits 0 with a fully configured kit and writes the report', async () => {
    const run = await cli(
      '--config',
      path.join(FIXTURES, 'full-kit.config.js'),
      '--framework',
      'pci',
      '--format',
      'json',
      '--out',
      'r.json',
    );
    expect(run.code).toBe(0);
    expect(run.out).toMatch(
      /wrote json report to r.json: pci: \d+ pass \(full\), \d+ pass \(partial\), 0 fail, \d+ n\/a; 0 attested, \d+ unattested/,
    );
    expect(run.out).not.toMatch(/%/);
    const report = JSON.parse(await fs.readFile(path.join(dir, 'r.json'), 'utf8'));
    expect(report.scope).toBe('pci');
    expect(report.totals.failed).toBe(0);
  });

  it.each(['md', 'html', 'oscal'])('writes %s for all frameworks', async (format) => {
    const run = await cli(
      '--config',
      path.join(FIXTURES, 'full-kit.config.js'),
      '--format',
      format,
      '--out',
      `r.${format}`,
    );
    expect(run.code).toBe(0);
    const text = await fs.readFile(path.join(dir, `r.${format}`), 'utf8');
    expect(text).toContain(format === 'oscal' ? '"assessment-results"' : 'Bulwark compliance report');
  });

  it('exits 1 when an automated control fails (report still written to stdout)', async () => {
    const run = await cli('--config', path.join(FIXTURES, 'empty-kit.config.js'), '--framework', 'gdpr');
    expect(run.code).toBe(1);
    const report = JSON.parse(run.out);
    expect(report.totals.passedFull + report.totals.passedPartial).toBe(0);
    expect(run.err).toMatch(
      /gdpr: 0 pass \(full\), 0 pass \(partial\), [1-9]\d* fail, \d+ n\/a; 0 attested, [1-9]\d* unattested/,
    );
  });

  // The forged file: hand-written "evidence" dated months ago that used to score PCI 100%.
  const FORGED = `{
  "collectedAt": "2026-06-01T09:00:00.000Z",
  "settings": { "privilegedRoles": ["admin"], "httpSurface": true },
  "errors": {},
  "keys": {
    "source": "KeyRing",
    "observedAt": "2026-06-01T09:00:00.000Z",
    "data": { "keys": [{ "keyId": "pan", "primaryVersion": 1,
      "primaryCreatedAt": "2026-06-01T00:00:00.000Z",
      "versions": [{ "version": 1, "algorithm": "aes-256-gcm",
        "createdAt": "2026-06-01T00:00:00.000Z", "state": "primary" }] }] }
  },
  "passwords": {
    "source": "PasswordHasher",
    "observedAt": "2026-06-01T09:00:00.000Z",
    "data": { "algorithm": "argon2id", "memoryCost": 19456, "timeCost": 2,
      "parallelism": 1, "hashLength": 32, "peppered": true,
      "meetsOwaspMinimum": true }
  }
}
`;

  it("refuses the issue's forged 20-line evidence file (exit 2) and says how to make a signed snapshot", async () => {
    const file = path.join(dir, 'evidence.json');
    await fs.writeFile(file, FORGED);
    expect(FORGED.trim().split('\n')).toHaveLength(20);
    for (const extra of [[], ['--public-key', path.join(dir, 'whatever.jwk')]]) {
      const run = await cli('--config', file, '--framework', 'pci', ...extra);
      expect(run.code).toBe(2);
      expect(run.out).toBe('');
      expect(run.err).toMatch(/not a signed evidence snapshot: refused/);
      expect(run.err).toContain('bulwark evidence collect --config');
    }
  });

  describe('signed snapshots', () => {
    let keyFile: string;
    let pubFile: string;
    const evidence = async (...argv: string[]): Promise<Run> => {
      let out = '';
      let err = '';
      const io: CliIo = { stdout: (t) => (out += t), stderr: (t) => (err += t), env: {}, cwd: dir };
      const code = await runCli(['evidence', ...argv], io);
      return { code, out, err };
    };
    beforeEach(async () => {
      keyFile = path.join(dir, 'snapshot-key.jwk');
      pubFile = path.join(dir, 'snapshot-key.pub.jwk');
      const gen = await evidence('keygen', '--out', keyFile, '--key-id', 'collector-1');
      expect(gen.code).toBe(0);
      await fs.writeFile(pubFile, gen.out);
      expect((await fs.stat(keyFile)).mode & 0o777).toBe(0o600);
      expect(JSON.parse(gen.out)).not.toHaveProperty('d');
    });

    const collect = async (config = path.join(FIXTURES, 'full-kit.config.js')): Promise<string> => {
      const out = path.join(dir, 'snapshot.json');
      const run = await evidence('collect', '--config', config, '--private-key', keyFile, '--out', out);
      expect(run.err).toBe('');
      expect(run.code).toBe(0);
      expect(run.out).toMatch(/wrote signed evidence snapshot to .*snapshot.json \(key collector-1\)/);
      return out;
    };

    it('a fresh signed snapshot produces a report that names its evidence source and age', async () => {
      const snapshot = await collect();
      const run = await cli(
        '--config',
        snapshot,
        '--public-key',
        pubFile,
        '--format',
        'md',
        '--system',
        'clinic API',
      );
      expect(run.err).toMatch(/pci: \d+ pass \(full\)/);
      expect(run.err).toMatch(/evidence: signed snapshot \(key collector-1\) collected \S+, \d+s old/);
      expect(run.code).toBe(0);
      expect(run.out).toMatch(
        /\*\*Evidence:\*\* signed snapshot with key collector-1 \(signed .*\), collected .*, \d+s old at generation/,
      );
      expect(run.out).toContain('**System:** clinic API');
      const json = await cli('--config', snapshot, '--public-key', pubFile, '--max-age', '1h');
      expect(json.code).toBe(0);
      const report = JSON.parse(json.out);
      expect(report.metadata.evidence).toMatchObject({
        source: 'snapshot',
        snapshot: { keyId: 'collector-1' },
      });
      expect(report.evidence.length).toBeGreaterThan(0);
      expect(
        report.evidence.every(
          (e: { provenance?: string }) => e.provenance === 'snapshot' || e.provenance === 'declared',
        ),
      ).toBe(true);
    });

    it('refuses (exit 2) a snapshot with one byte changed', async () => {
      const snapshot = await collect();
      const doc = JSON.parse(await fs.readFile(snapshot, 'utf8'));
      const [h, p, s] = doc.jws.split('.');
      // flip one base64url character of the payload: still well-formed, no longer what was signed
      const i = Math.floor(p.length / 2);
      doc.jws = `${h}.${p.slice(0, i)}${p[i] === 'A' ? 'B' : 'A'}${p.slice(i + 1)}.${s}`;
      await fs.writeFile(snapshot, JSON.stringify(doc));
      const run = await cli('--config', snapshot, '--public-key', pubFile);
      expect(run.code).toBe(2);
      expect(run.out).toBe('');
      expect(run.err).toMatch(
        /refused: evidence snapshot: the signature does not verify.*ERR_COMPLIANCE_SNAPSHOT_INVALID/,
      );
    });

    it('refuses (exit 2) a snapshot signed by another key', async () => {
      const snapshot = await collect();
      const other = await evidence('keygen', '--out', path.join(dir, 'other.jwk'));
      await fs.writeFile(path.join(dir, 'other.pub.jwk'), other.out);
      const run = await cli('--config', snapshot, '--public-key', path.join(dir, 'other.pub.jwk'));
      expect(run.code).toBe(2);
      expect(run.err).toMatch(/ERR_COMPLIANCE_SNAPSHOT_INVALID/);
    });

    it('refuses (exit 2) a stale snapshot: default 24 h, or --max-age', async () => {
      const config = path.join(dir, 'old-kit.config.js');
      await fs.writeFile(
        config,
        `const { fullKit } = require(${JSON.stringify(path.resolve(__dirname, '../../core/test/compliance/compliance-helpers'))});\n` +
          `module.exports = async () => (await fullKit({ clock: () => new Date(Date.now() - 25 * 3600e3) })).kit;\n`,
      );
      const snapshot = await collect(config);
      const stale = await cli('--config', snapshot, '--public-key', pubFile);
      expect(stale.code).toBe(2);
      expect(stale.err).toMatch(
        /evidence snapshot is stale: collected .*, 25h( \d+m)? ago, over the maximum age of 24h.*ERR_COMPLIANCE_SNAPSHOT_STALE/,
      );
      const accepted = await cli('--config', snapshot, '--public-key', pubFile, '--max-age', '2d');
      // Accepted: a report is written (exit 1 only says some control fails on day-old evidence).
      expect(accepted.err).not.toMatch(/refused/);
      expect([0, 1]).toContain(accepted.code);
      expect(JSON.parse(accepted.out).metadata.evidence.source).toBe('snapshot');
      const tight = await cli('--config', snapshot, '--public-key', pubFile, '--max-age', '90m');
      expect(tight.code).toBe(2);
    });

    it('needs --public-key for a snapshot, and a well-formed --max-age', async () => {
      const snapshot = await collect();
      const run = await cli('--config', snapshot);
      expect(run.code).toBe(2);
      expect(run.err).toMatch(/--public-key FILE is required/);
      const bad = await cli('--config', snapshot, '--public-key', pubFile, '--max-age', 'forever');
      expect(bad.code).toBe(2);
      expect(bad.err).toMatch(/--max-age must be like/);
      const live = await cli('--config', path.join(FIXTURES, 'full-kit.config.js'), '--public-key', pubFile);
      expect(live.code).toBe(2);
    });

    it('signs the report and compares it with a previous one', async () => {
      const signing = path.join(dir, 'report-key.jwk');
      expect((await evidence('keygen', '--out', signing)).code).toBe(0);
      const first = await cli(
        '--config',
        path.join(FIXTURES, 'full-kit.config.js'),
        '--framework',
        'gdpr',
        '--out',
        'r1.json',
      );
      expect(first.code).toBe(0);
      const run = await cli(
        '--config',
        path.join(FIXTURES, 'empty-kit.config.js'),
        '--framework',
        'gdpr',
        '--previous',
        'r1.json',
        '--signing-key',
        signing,
        '--generated-by',
        'ci',
        '--period',
        '2026-10-01/2026-12-31',
      );
      expect(run.code).toBe(1);
      const report = JSON.parse(run.out);
      expect(report.signature.jws).toMatch(/^[\w-]+\.\.[\w-]+$/);
      expect(report.metadata).toMatchObject({
        generatedBy: 'ci',
        period: { from: '2026-10-01T00:00:00.000Z' },
      });
      expect(report.comparison.changed.length).toBeGreaterThan(0);
      expect(report.comparison.changed[0].from).toMatch(/^pass/);
      const signer = await ComplianceSigner.fromJWK('report', JSON.parse(await fs.readFile(signing, 'utf8')));
      await verifyComplianceReport(report, await signer.exportPublicJwk());

      // the auditor's side: --verify-signature
      await fs.writeFile(path.join(dir, 'signed.json'), run.out);
      await fs.writeFile(
        path.join(dir, 'report-key.pub.jwk'),
        JSON.stringify(await signer.exportPublicJwk()),
      );
      const ok = await cli('--verify-signature', 'signed.json', '--public-key', 'report-key.pub.jwk');
      expect(ok.code).toBe(0);
      expect(ok.out).toMatch(/signed.json: signature valid; report generated /);
      const edited = { ...report, totals: { ...report.totals, failed: 0 } };
      await fs.writeFile(path.join(dir, 'edited.json'), JSON.stringify(edited));
      const bad = await cli('--verify-signature', 'edited.json', '--public-key', 'report-key.pub.jwk');
      expect(bad.code).toBe(1);
      expect(bad.err).toMatch(/NOT VALID: .*ERR_COMPLIANCE_REPORT_SIGNATURE_INVALID/);
      const wrongKey = await cli('--verify-signature', 'signed.json', '--public-key', pubFile);
      expect(wrongKey.code).toBe(1);
      await fs.writeFile(
        path.join(dir, 'unsigned.json'),
        JSON.stringify({ ...report, signature: undefined }),
      );
      expect(
        (await cli('--verify-signature', 'unsigned.json', '--public-key', 'report-key.pub.jwk')).code,
      ).toBe(1);
      expect((await cli('--verify-signature', 'signed.json')).code).toBe(2);
      expect(
        (await cli('--verify-signature', 'signed.json', '--public-key', pubFile, '--format', 'md')).code,
      ).toBe(2);
    });
  });

  it.each([
    [['--framework', 'sox', '--config', 'x.js'], /--framework/],
    [['--format', 'pdf', '--config', 'x.js'], /--format/],
    [['--framework', 'gdpr'], /--config is required/],
    [['--bogus'], /bogus/],
    [['--config', 'missing.js'], /does not exist/],
  ])('exits 2 on bad usage %j', async (argv, message) => {
    const run = await cli(...argv);
    expect(run.code).toBe(2);
    expect(run.err).toMatch(message);
  });

  it('exits 2 when the config does not produce a kit', async () => {
    const bad = path.join(dir, 'bad.config.js');
    await fs.writeFile(bad, 'module.exports = () => 42;');
    const run = await cli('--config', bad);
    expect(run.code).toBe(2);
    expect(run.err).toMatch(/must export a function returning a ComplianceKit/);
    // a module returning plain "evidence" is refused like a hand-written file
    await fs.writeFile(
      bad,
      'module.exports = () => ({ collectedAt: new Date().toISOString(), settings: { privilegedRoles: [], httpSurface: false }, errors: {} });',
    );
    const forged = await cli('--config', bad);
    expect(forged.code).toBe(2);
  });
});
