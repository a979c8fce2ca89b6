import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ExitCode } from '../src/cli-io';
import { bulwark } from './run';

// The contract documented in the package README and every help screen.
describe('bulwark exit codes', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bulwark-exit-'));
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });
  const event = JSON.stringify({ actor: { id: 'u1', type: 'user' }, action: 'a.b', outcome: 'success' });

  it('are 0, 1, 2 and 3 as documented', () => {
    expect(ExitCode).toEqual({ OK: 0, CHECK_FAILED: 1, USAGE: 2, ERROR: 3 });
  });

  it('0: the check passed', async () => {
    await bulwark(dir, ['audit', 'append', '--file', 'a.jsonl'], { stdinText: `${event}\n` });
    expect((await bulwark(dir, ['audit', 'verify', '--file', 'a.jsonl'])).code).toBe(0);
  });

  it('1: tampering found', async () => {
    await bulwark(dir, ['audit', 'append', '--file', 'a.jsonl'], { stdinText: `${event}\n${event}\n` });
    const file = path.join(dir, 'a.jsonl');
    await fs.writeFile(file, (await fs.readFile(file, 'utf8')).replace('"a.b"', '"a.c"'));
    expect((await bulwark(dir, ['audit', 'verify', '--file', 'a.jsonl'])).code).toBe(1);
  });

  it('2: usage or configuration, with nothing checked', async () => {
    expect((await bulwark(dir, ['audit', 'verify', '--bogus'])).code).toBe(2);
    expect((await bulwark(dir, ['audit', 'verify', '--file', 'missing.jsonl'])).code).toBe(2);
    expect((await bulwark(dir, ['keys', 'generate', 'pii'])).code).toBe(2); // no master key
  });

  it('3: the command could not run (a database that does not answer), never "check failed"', async () => {
    const res = await bulwark(dir, ['audit', 'verify', '--db', 'postgres://postgres@127.0.0.1:1/none']);
    expect(res.code).toBe(3);
    expect(res.err).toContain('could not run');
    expect(res.err).toContain('ECONNREFUSED');
  });
});
