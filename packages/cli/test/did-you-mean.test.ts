import { closestMatch } from '../src/closest-match';
import { bulwark } from './run';

const cwd = process.cwd();

describe('bulwark mistakes: a short message with a suggestion, no help dump', () => {
  it.each([
    [['kyes', 'list'], 'bulwark: unknown command "kyes"; did you mean "keys"?'],
    [['audti'], 'bulwark: unknown command "audti"; did you mean "audit"?'],
    [['audit', 'verfy'], 'bulwark audit: unknown command "verfy"; did you mean "verify"?'],
    [['keys', 'rotaet', 'pii'], 'bulwark keys: unknown command "rotaet"; did you mean "rotate"?'],
    [['audit', 'verify', '--jsno'], 'bulwark audit: unknown option --jsno; did you mean --json?'],
    [['audit', 'verify', '--publickey', 'k'], 'unknown option --publickey; did you mean --public-key?'],
    [
      ['report', '--framwork', 'gdpr'],
      'bulwark report: unknown option --framwork; did you mean --framework?',
    ],
    [['keys', 'list', '--sotre', 'x'], 'unknown option --sotre; did you mean --store?'],
  ])('%j', async (argv, message) => {
    const res = await bulwark(cwd, argv);
    expect(res.code).toBe(2);
    expect(res.out).toBe('');
    expect(res.err).toContain(message);
    // the pointer to the right help, not the help itself, and never the argument parser's text
    expect(res.err.trimEnd().split('\n').length).toBeLessThanOrEqual(2);
    expect(res.err).not.toContain('Usage:');
    expect(res.err).not.toContain('To specify a positional argument');
  });

  it('points at the help of the subcommand concerned', async () => {
    const res = await bulwark(cwd, ['audit', 'verify', '--jsno']);
    expect(res.err).toContain('Run "bulwark audit verify --help" for usage.');
  });

  it('refuses an option of another subcommand, naming the subcommand', async () => {
    const res = await bulwark(cwd, ['audit', 'verify', '--follow']);
    expect(res.code).toBe(2);
    expect(res.err).toContain('--follow is not an option of "bulwark audit verify"');
  });

  it('gives no suggestion when nothing is close', async () => {
    const res = await bulwark(cwd, ['audit', 'verify', '--zzzzzz']);
    expect(res.err).toContain('unknown option --zzzzzz\n');
    expect(res.err).not.toContain('did you mean');
  });

  it.each([
    [['audit', 'verify', '--file'], '--file needs a value: --file FILE'],
    [['audit', 'verify', '--json=yes'], '--json takes no value'],
    [['audit', 'verify', '--public-key', 'a', '--public-key', 'b'], '--public-key is given more than once'],
    [['audit', 'verify', 'extra'], 'unexpected argument "extra"'],
  ])('%j is a usage error', async (argv, message) => {
    const res = await bulwark(cwd, argv);
    expect(res.code).toBe(2);
    expect(res.err).toContain(message);
  });

  it('closestMatch accepts typos and refuses unrelated words', () => {
    expect(closestMatch('verfiy', ['verify', 'prove'])).toBe('verify');
    expect(closestMatch('jsno', ['json', 'file'])).toBe('json');
    expect(closestMatch('x', ['json', 'file'])).toBeUndefined();
    expect(closestMatch('delete', ['verify', 'prove', 'tail'])).toBeUndefined();
  });
});
