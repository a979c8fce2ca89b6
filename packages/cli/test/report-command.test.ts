import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
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
    expect(run.out).toMatch(/wrote json report to r.json: pci 100%/);
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
    expect(report.totals.passed).toBe(0);
    expect(run.err).toMatch(/gdpr 0% \(0 pass, 18 fail, 4 manual\)/);
  });

  it('reads a JSON evidence snapshot', async () => {
    const snapshot = path.join(dir, 'evidence.json');
    await fs.writeFile(
      snapshot,
      JSON.stringify({
        collectedAt: new Date().toISOString(),
        settings: { privilegedRoles: ['admin'], httpSurface: false },
        errors: {},
      }),
    );
    const run = await cli('--config', snapshot, '--framework', 'soc2', '--format', 'md');
    expect(run.code).toBe(1);
    expect(run.out).toContain('soc2-cc6.1-access');
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
  });
});
