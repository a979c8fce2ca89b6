import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EnvKeyProvider, FileKeyStore, KeyRing, generateMasterKey } from '@bulwark/core';
import { runCli } from '../src/run-cli';

describe('bulwark keys check --due / rotate --due', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let storePath: string;

  const cli = async (...argv: string[]) => {
    let out = '';
    let err = '';
    const code = await runCli(argv, { stdout: (t) => (out += t), stderr: (t) => (err += t), env, cwd: dir });
    return { code, out, err };
  };

  /** Creates keys as if made `daysAgo` days ago (the ring's clock), in the CLI's default store. */
  async function createKeys(daysAgo: number, ...keyIds: string[]): Promise<void> {
    const ring = await KeyRing.open({
      provider: new EnvKeyProvider({ env }),
      store: new FileKeyStore({ path: storePath }),
      clock: () => new Date(Date.now() - daysAgo * 86_400_000),
      refreshIntervalMs: 0,
    });
    for (const keyId of keyIds) await ring.createKey(keyId);
    await ring.close();
  }

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bulwark-cli-due-'));
    env = { BULWARK_MASTER_KEY: generateMasterKey() };
    storePath = path.join(dir, '.bulwark', 'keys.json');
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('check --due exits 0 when nothing is due and 1 listing overdue keys with how overdue', async () => {
    await createKeys(100, 'old');
    await createKeys(10, 'fresh');
    const due = await cli('keys', 'check', '--due');
    expect(due.code).toBe(1);
    expect(due.out).toMatch(/DUE "old": v1 .*\(10 day\(s\) overdue, period 90 days\)/);
    expect(due.out).not.toContain('fresh');
    const json = await cli('keys', 'check', '--due', '--json');
    expect(JSON.parse(json.out).due.map((d: { keyId: string }) => d.keyId)).toEqual(['old']);
    // A stricter period (the strict preset: 30 days) leaves fresh keys alone, a longer one passes.
    expect((await cli('keys', 'check', '--due', '--rotate-every', '365')).code).toBe(0);
    expect((await cli('keys', 'check', '--due', '--rotate-every', 'pci')).code).toBe(1);
    expect((await cli('keys', 'check', '--due', '--rotate-every', '5')).out).toContain('"fresh"');
  });

  it('rotate --due rotates exactly the due keys; a second run (another cron host) does nothing', async () => {
    await createKeys(100, 'old');
    await createKeys(10, 'fresh');
    const first = await cli('keys', 'rotate', '--due');
    expect(first).toMatchObject({ code: 0 });
    expect(first.out).toContain('rotated "old"');
    expect((await cli('keys', 'rotate', '--due')).out).toContain('no key is due');
    const keys = JSON.parse((await cli('keys', 'list', '--json')).out) as Array<{
      keyId: string;
      primaryVersion: number;
    }>;
    expect(Object.fromEntries(keys.map((k) => [k.keyId, k.primaryVersion]))).toEqual({ fresh: 1, old: 2 });
    expect((await cli('keys', 'check', '--due')).code).toBe(0);
  });

  it('refuses bad combinations with usage errors (exit 2)', async () => {
    await createKeys(1, 'pii');
    expect((await cli('keys', 'rotate', 'pii', '--due')).code).toBe(2);
    expect((await cli('keys', 'check', '--rotate-every', '30')).code).toBe(2);
    expect((await cli('keys', 'check', '--due', '--rotate-every', '90d')).code).toBe(2);
    expect((await cli('keys', 'check', '--due', '--rotate-every', '-1')).code).toBe(2);
  });
});
