/**
 * `npx bulwark` from the repository root, as the README says to run it after `npm ci && npm start`:
 * npm links node_modules/.bin/bulwark to @bulwark/cli's committed bin/bulwark.js at install time,
 * which loads the built CLI.
 */
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';

const root = path.resolve(__dirname, '..');
const run = promisify(execFile);

describe('npx bulwark (repository root)', () => {
  it('the linked bin is the committed shim of @bulwark/cli', async () => {
    const link = path.join(root, 'node_modules', '.bin', 'bulwark');
    expect(await fs.realpath(link)).toBe(await fs.realpath(path.join(root, 'packages/cli/bin/bulwark.js')));
  });

  it('npx bulwark --help prints the usage (exit 0)', async () => {
    await expect(fs.access(path.join(root, 'packages/cli/dist/bin.js'))).resolves.toBeUndefined(); // built
    const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx';
    // --no: never download; the command must come from the workspace.
    const { stdout } = await run(npx, ['--no', '--', 'bulwark', '--help'], { cwd: root, timeout: 60_000 });
    expect(stdout).toMatch(/^Usage: bulwark <command>/);
    expect(stdout).toContain('keys');
  }, 70_000);

  it('npx bulwark keys master prints a fresh 32-byte master key', async () => {
    const { stdout } = await run(path.join(root, 'node_modules', '.bin', 'bulwark'), ['keys', 'master'], {
      cwd: root,
    });
    expect(Buffer.from(stdout.trim(), 'base64url')).toHaveLength(32);
  });
});
