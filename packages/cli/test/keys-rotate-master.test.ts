import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { EnvKeyProvider, FileKeyStore, KeyRing, generateMasterKey, type KeyStore } from '@bulwark/core';
import type { WrappedKeyTarget } from '@bulwark/core/store';
import { rotateMaster } from '../src/keys-command';
import { runCli } from '../src/run-cli';

interface Run {
  code: number;
  out: string;
  err: string;
}

describe('bulwark keys rotate-master', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let oldKey: string;
  let storePath: string;
  let values: { named: string; subject: string };

  const io = () => {
    const run: Run = { code: -1, out: '', err: '' };
    return {
      run,
      io: {
        stdout: (t: string) => (run.out += t),
        stderr: (t: string) => (run.err += t),
        env,
        cwd: dir,
      },
    };
  };
  const cli = async (...argv: string[]): Promise<Run> => {
    const { run, io: cliIo } = io();
    run.code = await runCli(argv, cliIo);
    return run;
  };
  const provider = (key: string) => new EnvKeyProvider({ env: { BULWARK_MASTER_KEY: key } });
  const open = (key: string) =>
    KeyRing.open({
      provider: provider(key),
      store: new FileKeyStore({ path: storePath }),
      refreshIntervalMs: 0,
    });

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bulwark-cli-rm-'));
    storePath = path.join(dir, '.bulwark', 'keys.json');
    oldKey = generateMasterKey();
    env = { BULWARK_MASTER_KEY: oldKey };
    const ring = await open(oldKey);
    await ring.createKey('pii');
    await ring.rotate('pii');
    values = {
      named: ring.encrypt('pii', 'alice@example.com'),
      subject: await ring.encryptForSubject('user-1', 'date of birth'),
    };
    for (let i = 0; i < 3; i++) await ring.encryptForSubject(`user-${i + 2}`, 'x');
    await ring.close();
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  async function expectReadableWith(key: string): Promise<void> {
    const ring = await open(key);
    try {
      expect(ring.decryptString(values.named)).toBe('alice@example.com');
      expect(await ring.decryptStringAsync(values.subject, { subject: 'user-1' })).toBe('date of birth');
    } finally {
      await ring.close();
    }
  }

  it('re-wraps everything under the new key (exit 0); the old key is retired afterwards; a re-run is a no-op', async () => {
    const newKey = generateMasterKey();
    env = { BULWARK_MASTER_KEY: oldKey, BULWARK_NEW_MASTER_KEY: newKey };
    const res = await cli('keys', 'rotate-master');
    expect(res.err).toBe('');
    expect(res.code).toBe(0);
    expect(res.out).toContain('re-wrapped 7 key(s) under master key k1-'); // ring, 2 versions, 4 subjects
    expect(res.out).toContain('complete');
    expect(res.out + res.err).not.toContain(newKey);
    expect(res.out + res.err).not.toContain(oldKey);

    await expectReadableWith(newKey);
    env = { BULWARK_MASTER_KEY: newKey };
    expect((await cli('keys', 'check')).code).toBe(0);
    env = { BULWARK_MASTER_KEY: oldKey };
    expect((await cli('keys', 'check')).code).toBe(1);

    env = { BULWARK_MASTER_KEY: oldKey, BULWARK_NEW_MASTER_KEY: newKey };
    const again = await cli('keys', 'rotate-master', '--json');
    expect(again.code).toBe(0);
    expect(JSON.parse(again.out)).toMatchObject({ rewrapped: 0, alreadyCurrent: 7, complete: true });
  });

  it('reads both keys from files', async () => {
    await fs.writeFile(path.join(dir, 'old.key'), oldKey, { mode: 0o600 });
    const newKey = generateMasterKey();
    await fs.writeFile(path.join(dir, 'new.key'), newKey, { mode: 0o600 });
    env = {};
    const res = await cli(
      'keys',
      'rotate-master',
      '--master-key-file',
      'old.key',
      '--new-master-key-file',
      'new.key',
    );
    expect(res.code).toBe(0);
    await expectReadableWith(newKey);
  });

  it('refuses wrong new key material with exit 2 and writes nothing', async () => {
    const before = await fs.readFile(storePath, 'utf8');
    env = { BULWARK_MASTER_KEY: oldKey };
    const missing = await cli('keys', 'rotate-master');
    expect(missing.code).toBe(2);
    expect(missing.err).toContain('BULWARK_NEW_MASTER_KEY');

    env = { BULWARK_MASTER_KEY: oldKey, BULWARK_NEW_MASTER_KEY: oldKey };
    const same = await cli('keys', 'rotate-master');
    expect(same.code).toBe(2);
    expect(same.err).toContain('same key');

    env = { BULWARK_MASTER_KEY: oldKey, BULWARK_NEW_MASTER_KEY: 'c2hvcnQ' };
    const short = await cli('keys', 'rotate-master');
    expect(short.code).toBe(2);
    expect(short.err).toContain('ERR_CRYPTO_KEY_PROVIDER');
    expect(short.err).not.toContain('c2hvcnQ');

    await fs.writeFile(path.join(dir, 'new.key'), generateMasterKey(), { mode: 0o644 });
    await fs.chmod(path.join(dir, 'new.key'), 0o644);
    const insecure = await cli('keys', 'rotate-master', '--new-master-key-file', 'new.key');
    expect(insecure.code).toBe(2);
    expect(insecure.err).toContain('ERR_CRYPTO_KEY_FILE_INSECURE');

    const noStore = await cli('keys', 'rotate-master', '--store', 'nope.json', '--new-master-key-file', 'x');
    expect(noStore.code).toBe(2);
    await expect(fs.access(path.join(dir, 'nope.json'))).rejects.toThrow();

    expect(await fs.readFile(storePath, 'utf8')).toBe(before);
  });

  it('exits 1 when the current master key is wrong (nothing re-wrapped)', async () => {
    const before = await fs.readFile(storePath, 'utf8');
    env = { BULWARK_MASTER_KEY: generateMasterKey(), BULWARK_NEW_MASTER_KEY: generateMasterKey() };
    const res = await cli('keys', 'rotate-master');
    expect(res.code).toBe(1);
    expect(res.err).toContain('ERR_CRYPTO_KEY_UNWRAP_FAILED');
    expect(await fs.readFile(storePath, 'utf8')).toBe(before);
  });

  it('exits 3 when the store fails midway; the same command then finishes it', async () => {
    const newKey = generateMasterKey();
    const store = new FileKeyStore({ path: storePath });
    let writes = 0;
    const failing: KeyStore = new Proxy(store, {
      get(target, prop, receiver) {
        if (prop === 'replaceWrappedKey') {
          return async (t: WrappedKeyTarget, expected: string, next: string) => {
            if (++writes > 3) throw new Error('EIO');
            return target.replaceWrappedKey(t, expected, next);
          };
        }
        const value = Reflect.get(target, prop, receiver) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const { run, io: cliIo } = io();
    const code = await rotateMaster(cliIo, false, {
      provider: provider(newKey),
      previousProvider: provider(oldKey),
      store: failing,
    });
    expect(code).toBe(3);
    expect(run.err).toContain('interrupted');
    expect(run.err).toContain('run the same command again');

    env = { BULWARK_MASTER_KEY: oldKey, BULWARK_NEW_MASTER_KEY: newKey };
    const res = await cli('keys', 'rotate-master', '--json');
    expect(res.code).toBe(0);
    expect(JSON.parse(res.out)).toMatchObject({ rewrapped: 4, alreadyCurrent: 3, complete: true });
    await expectReadableWith(newKey);
  });

  it('runs as the built bin with real exit codes', async () => {
    const bin = path.resolve(__dirname, '../bin/bulwark.js');
    await expect(fs.access(path.resolve(__dirname, '../dist/bin.js'))).resolves.toBeUndefined(); // `npm test` builds first
    const run = promisify(execFile);
    const newKey = generateMasterKey();
    const same = run(process.execPath, [bin, 'keys', 'rotate-master', '--store', storePath], {
      cwd: dir,
      env: { ...process.env, BULWARK_MASTER_KEY: oldKey, BULWARK_NEW_MASTER_KEY: oldKey },
    });
    await expect(same).rejects.toMatchObject({ code: 2 });
    const ok = await run(process.execPath, [bin, 'keys', 'rotate-master', '--json', '--store', storePath], {
      cwd: dir,
      env: { ...process.env, BULWARK_MASTER_KEY: oldKey, BULWARK_NEW_MASTER_KEY: newKey },
    });
    expect(JSON.parse(ok.stdout)).toMatchObject({ rewrapped: 7, complete: true });
    await expectReadableWith(newKey);
  });

  it('is listed in the help', async () => {
    const res = await cli('keys', 'rotate-master', '--help');
    expect(res.code).toBe(0);
    expect(res.out).toContain('--new-master-key-file');
    expect((await cli('keys', '--help')).out).toContain('rotate-master');
  });
});
