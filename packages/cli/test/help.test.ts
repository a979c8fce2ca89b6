import { bulwark } from './run';

const cwd = process.cwd();

describe('bulwark help', () => {
  it('shows a subcommand its own usage and only its options', async () => {
    const res = await bulwark(cwd, ['audit', 'verify', '--help']);
    expect(res.code).toBe(0);
    expect(res.err).toBe('');
    expect(res.out).toMatch(/^Usage: bulwark audit verify \[options\]\n/);
    expect(res.out).toContain('--public-key FILE');
    expect(res.out).toContain('--from-checkpoint');
    expect(res.out).toContain('Exit codes:');
    // tail's and export's options are not verify's
    expect(res.out).not.toContain('--follow');
    expect(res.out).not.toContain('--resource-type');
  });

  it.each([
    [
      ['audit', 'prove', '-h'],
      'Usage: bulwark audit prove <seq> | --consistency <from> [<to>] [options]',
      '--size N',
    ],
    [['audit', 'help', 'export'], 'Usage: bulwark audit export [options]', '--resource-type TYPE'],
    [['help', 'audit', 'tail'], 'Usage: bulwark audit tail [options]', '--follow'],
    [
      ['keys', 'retire', '--help'],
      'Usage: bulwark keys retire <keyId> --min-version N [options]',
      '--min-version N',
    ],
    [['keys', 'list', '--help'], 'Usage: bulwark keys list [options]', '--store FILE'],
    [['report', '--help'], 'Usage: bulwark report --config FILE [options]', '--verify-audit'],
  ])('%j shows that command', async (argv, usage, option) => {
    const res = await bulwark(cwd, argv);
    expect(res.code).toBe(0);
    expect(res.out.split('\n')[0]).toBe(usage);
    expect(res.out).toContain(option);
  });

  it('shows the help of a subcommand even next to a mistyped option', async () => {
    const res = await bulwark(cwd, ['audit', 'verify', '--jsno', '--help']);
    expect(res.code).toBe(0);
    expect(res.out).toMatch(/^Usage: bulwark audit verify/);
  });

  it("lists a group's subcommands with one line each", async () => {
    const res = await bulwark(cwd, ['audit', '--help']);
    expect(res.code).toBe(0);
    for (const sub of ['append', 'verify', 'prove', 'checkpoint', 'tail', 'export', 'keygen']) {
      expect(res.out).toMatch(new RegExp(`^  ${sub}\\b`, 'm'));
    }
    expect(res.out).toContain('Run "bulwark audit <command> --help"');
  });

  it('prints the top-level help (exit 0) and the version', async () => {
    const res = await bulwark(cwd, ['--help']);
    expect(res.code).toBe(0);
    expect(res.out).toContain('bulwark audit verify --help');
    const version = await bulwark(cwd, ['--version']);
    expect(version.out.trim()).toBe(require('../package.json').version);
  });

  it('a bare group prints its help on stdout and exits 2 (nothing was done)', async () => {
    const res = await bulwark(cwd, ['keys']);
    expect(res.code).toBe(2);
    expect(res.out).toContain('Usage: bulwark keys <command>');
  });
});
