import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const pkg = path.resolve(__dirname, '..');
const shim = path.join(pkg, 'bin', 'bulwark.js');

// bin/bulwark.js is committed so npm links it at install time, before `npm run build`.
describe('bin/bulwark.js', () => {
  it('runs the built CLI', async () => {
    await expect(fs.access(path.join(pkg, 'dist', 'bin.js'))).resolves.toBeUndefined(); // `npm test` builds first
    const { stdout } = await run(process.execPath, [shim, '--help']);
    expect(stdout).toMatch(/^Usage: bulwark <command>/);
    await expect(run(process.execPath, [shim, 'kyes'])).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining('did you mean "keys"?'),
    });
  });

  it('says to build when dist/ is missing (exit 2), instead of a stack trace', async () => {
    const copy = await fs.mkdtemp(path.join(os.tmpdir(), 'bulwark-shim-'));
    try {
      await fs.mkdir(path.join(copy, 'bin'));
      await fs.copyFile(shim, path.join(copy, 'bin', 'bulwark.js'));
      const failed = await run(process.execPath, [path.join(copy, 'bin', 'bulwark.js'), '--help'], {
        cwd: copy,
      }).catch((err: { code: number; stdout: string; stderr: string }) => err);
      expect(failed).toMatchObject({ code: 2, stdout: '' });
      expect((failed as { stderr: string }).stderr).toBe(
        'bulwark: the CLI is not built (dist/bin.js is missing).\n' +
          'In a clone of the Bulwark repository, run `npm run build` (or `npm start`) first.\n',
      );
    } finally {
      await fs.rm(copy, { recursive: true, force: true });
    }
  });

  it('is executable and starts with a node shebang', async () => {
    expect((await fs.stat(shim)).mode & 0o111).not.toBe(0);
    expect((await fs.readFile(shim, 'utf8')).startsWith('#!/usr/bin/env node\n')).toBe(true);
  });
});
