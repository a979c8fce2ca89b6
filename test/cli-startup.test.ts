/**
 * What the built `bulwark` CLI loads at start-up: most of a warm `bulwark audit prove` is Node's
 * start-up and module loading (docs/audit-verification.md), so `--version` loads none of
 * @bulwark/core and the audit commands only its audit engine (`@bulwark/core/audit-log`), not the
 * key ring, the compliance kit, authorization or privacy. Counts, never timings: which modules
 * a process required, read from `require.cache` when it exits.
 */
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { AuditLog, FileAuditStore } from '@bulwark/core';

const root = path.resolve(__dirname, '..');
const bin = path.join(root, 'packages/cli/bin/bulwark.js');
const coreDist = path.join(root, 'packages/core/dist') + path.sep;
const run = promisify(execFile);

let dir: string;

beforeAll(async () => {
  await expect(fs.access(path.join(root, 'packages/cli/dist/bin.js'))).resolves.toBeUndefined(); // built
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bulwark-cli-startup-'));
  // Writes the process's loaded modules to $MODULES_OUT when it exits.
  await fs.writeFile(
    path.join(dir, 'list-modules.js'),
    "process.on('exit', () => require('node:fs').writeFileSync(process.env.MODULES_OUT, " +
      'JSON.stringify(Object.keys(require.cache))));\n',
  );
  const store = await FileAuditStore.open({ path: path.join(dir, 'audit.jsonl') });
  const log = await AuditLog.open({ store });
  for (let i = 0; i < 5; i++) {
    await log.append({ actor: { id: `u${i}`, type: 'user' }, action: 'record.read', outcome: 'success' });
  }
  await log.close();
});

afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

/** Runs the built CLI; resolves with its stdout and the @bulwark/core files it loaded (dist-relative). */
async function loaded(args: string[]): Promise<{ stdout: string; core: string[] }> {
  const out = path.join(dir, `modules-${args.join('-').replace(/[^a-z0-9-]/gi, '')}.json`);
  const { stdout } = await run(
    process.execPath,
    ['--require', path.join(dir, 'list-modules.js'), bin, ...args],
    {
      cwd: dir,
      env: { ...process.env, MODULES_OUT: out, BULWARK_AUDIT_FILE: '', BULWARK_AUDIT_DB: '' },
    },
  );
  const modules = JSON.parse(await fs.readFile(out, 'utf8')) as string[];
  return {
    stdout,
    core: modules
      .filter((f) => f.startsWith(coreDist))
      .map((f) => f.slice(coreDist.length).split(path.sep).join('/')),
  };
}

describe('bulwark CLI start-up (built)', () => {
  it('--version loads nothing of @bulwark/core', async () => {
    const { stdout, core } = await loaded(['--version']);
    expect(stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    expect(core).toEqual([]);
  });

  it('audit prove --file loads the audit engine only, and still proves', async () => {
    // The first proof builds audit.jsonl.merkle/ (the full command: it reads the whole log once).
    const { stdout, core } = await loaded(['audit', 'prove', '3', '--file', 'audit.jsonl']);
    const proof = JSON.parse(stdout) as { seq: number; treeSize: number };
    expect(proof).toMatchObject({ seq: 3, treeSize: 5 });
    expect(core).toContain('audit-log.js');
    expect(core).toContain('audit/merkle-node-cache.js');
    // Not the main entry, nor any engine the command does not use.
    expect(core).not.toContain('index.js');
    const others = core.filter((f) => /^(crypto|authz|privacy|compliance|threat|mfa|tokens|http)\//.test(f));
    expect(others).toEqual([]);
  });

  it('a warm audit prove --file loads only the node cache (@bulwark/core/audit-proof), same proof', async () => {
    const cold = await loaded(['audit', 'prove', '4', '--file', 'audit.jsonl']);
    const warm = await loaded(['audit', 'prove', '4', '--file', 'audit.jsonl']);
    expect(warm.stdout).toBe(cold.stdout);
    expect(JSON.parse(warm.stdout)).toMatchObject({ seq: 4, treeSize: 5 });
    expect(warm.core.sort()).toEqual(
      [
        'audit-proof.js',
        'errors.js',
        'audit/merkle-node-cache.js',
        'audit/merkle-tree.js',
        'audit/merkle-node-store.js',
        'audit/audit-proofs.js',
        'audit/entry-hasher.js',
        'audit/canonical-json.js',
        'util/write-file-atomic.js',
        // a keyed log's leaf HMAC (entry-hasher)
        'util/precomputed-hmac.js',
      ].sort(),
    );
    const consistency = await loaded(['audit', 'prove', '--consistency', '2', '--file', 'audit.jsonl']);
    expect(JSON.parse(consistency.stdout)).toMatchObject({ fromSize: 2, toSize: 5 });
    expect(consistency.core).not.toContain('audit-log.js');
  });

  it('a warm prove still refuses what the full command refuses (usage exit 2, short HMAC key)', async () => {
    await loaded(['audit', 'prove', '1', '--file', 'audit.jsonl']); // the cache exists
    await expect(
      run(process.execPath, [bin, 'audit', 'prove', '9', '--file', 'audit.jsonl'], { cwd: dir }),
    ).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('seq 9 is beyond tree size 5') });
    await expect(
      run(process.execPath, [bin, 'audit', 'prove', '1', '--file', 'audit.jsonl'], {
        cwd: dir,
        env: { ...process.env, BULWARK_AUDIT_HMAC_KEY: 'abcd' },
      }),
    ).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('at least 32 bytes') });
  });

  it('keys still loads what it needs (the main entry)', async () => {
    const { stdout, core } = await loaded(['keys', 'master']);
    expect(Buffer.from(stdout.trim(), 'base64url')).toHaveLength(32);
    expect(core).toContain('index.js');
  });
});
