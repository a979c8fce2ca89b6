import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import {
  AuditLog,
  EnvKeyProvider,
  FileAuditStore,
  FileKeyStore,
  KeyRing,
  generateMasterKey,
} from '@bulwark/core';
import { runCli } from '../src/run-cli';

interface Run {
  code: number;
  out: string;
  err: string;
}

describe('bulwark keys', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;

  const cli = async (...argv: string[]): Promise<Run> => {
    let out = '';
    let err = '';
    const code = await runCli(argv, {
      stdout: (t) => (out += t),
      stderr: (t) => (err += t),
      env,
      cwd: dir,
    });
    return { code, out, err };
  };

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bulwark-cli-'));
    env = { BULWARK_MASTER_KEY: generateMasterKey() };
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('generates, rotates, lists and retires keys in a file store', async () => {
    expect((await cli('keys', 'generate', 'pii')).code).toBe(0);
    const rotated = await cli('keys', 'rotate', 'pii');
    expect(rotated).toMatchObject({ code: 0 });
    expect(rotated.out).toContain('version 2 is now primary');

    const listed = await cli('keys', 'list', '--json');
    expect(listed.code).toBe(0);
    const keys = JSON.parse(listed.out);
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatchObject({ keyId: 'pii', primaryVersion: 2 });
    expect(keys[0].versions.map((v: { state: string }) => v.state)).toEqual(['active', 'primary']);

    expect((await cli('keys', 'retire', 'pii', '--min-version', '2')).code).toBe(0);
    const table = await cli('keys', 'list');
    expect(table.out).toMatch(/pii\s+1\s+retired/);
    expect(table.out).toMatch(/pii\s+2\s+primary/);

    // the store on disk is what a KeyRing opened by an app sees: v1 retired, v2 encrypts
    const ring = await KeyRing.open({
      provider: new EnvKeyProvider({ env }),
      store: new FileKeyStore({ path: path.join(dir, '.bulwark', 'keys.json') }),
    });
    try {
      expect(ring.info('pii')).toMatchObject({ primaryVersion: 2, minDecryptVersion: 2 });
      const envelope = ring.encrypt('pii', 'hello');
      expect(ring.decryptString(envelope)).toBe('hello');
    } finally {
      await ring.close();
    }
    const raw = await fs.readFile(path.join(dir, '.bulwark', 'keys.json'), 'utf8');
    expect(raw).not.toContain(env.BULWARK_MASTER_KEY!);
  });

  it('records rotations as key.rotated entries in the audit log (--audit-file, $BULWARK_AUDIT_FILE)', async () => {
    expect((await cli('keys', 'generate', 'pii')).code).toBe(0);
    expect((await cli('keys', 'rotate', 'pii', '--audit-file', 'audit.jsonl')).code).toBe(0);
    env.BULWARK_NEW_MASTER_KEY = generateMasterKey();
    env.BULWARK_AUDIT_FILE = 'audit.jsonl';
    expect((await cli('keys', 'rotate-master')).code).toBe(0);
    const store = await FileAuditStore.open({ path: path.join(dir, 'audit.jsonl'), readOnly: true });
    const log = await AuditLog.open({ store });
    try {
      expect((await log.verify({ record: false })).ok).toBe(true);
      const entries = (await log.query({ action: 'key.rotated', limit: 10 })).entries;
      expect(entries.map((e) => [e.details?.operation, e.details?.keyId, e.details?.version])).toEqual([
        ['rotate', 'pii', 2],
        ['rotate-master', '$master', undefined],
      ]);
      expect(entries[1]!.details).toMatchObject({ complete: true, failed: 0 });
      // Ids and counts only: neither master key, nor any wrapped key, is in the log.
      const text = await fs.readFile(path.join(dir, 'audit.jsonl'), 'utf8');
      expect(text).not.toContain(env.BULWARK_MASTER_KEY!);
      expect(text).not.toContain(env.BULWARK_NEW_MASTER_KEY);
      const keyFile = JSON.parse(await fs.readFile(path.join(dir, '.bulwark', 'keys.json'), 'utf8'));
      const wrapped = JSON.stringify(keyFile).match(/"wrappedKey":"([^"]+)"/)![1]!;
      expect(text).not.toContain(wrapped);
    } finally {
      await log.close();
    }
    // A list records nothing (with the new master key: the old one no longer unwraps the store).
    env.BULWARK_MASTER_KEY = env.BULWARK_NEW_MASTER_KEY;
    expect((await cli('keys', 'list')).code).toBe(0);
    expect((await fs.readFile(path.join(dir, 'audit.jsonl'), 'utf8')).trim().split('\n')).toHaveLength(2);
  });

  it('reads the master key from --master-key-file and writes one with keys master --out', async () => {
    const made = await cli('keys', 'master', '--out', 'master.key');
    expect(made.code).toBe(0);
    expect((await fs.stat(path.join(dir, 'master.key'))).mode & 0o777).toBe(0o600);
    env = {};
    expect((await cli('keys', 'generate', 'billing', '--master-key-file', 'master.key')).code).toBe(0);
    expect((await cli('keys', 'check', '--master-key-file', 'master.key')).code).toBe(0);
  });

  it('keys master --out writes 0600 even under a permissive umask, and a group-readable key file is refused (exit 2)', async () => {
    const previous = process.umask(0o000);
    try {
      expect((await cli('keys', 'master', '--out', 'master.key')).code).toBe(0);
    } finally {
      process.umask(previous);
    }
    const file = path.join(dir, 'master.key');
    expect((await fs.stat(file)).mode & 0o777).toBe(0o600);
    env = {};
    expect((await cli('keys', 'generate', 'pii', '--master-key-file', 'master.key')).code).toBe(0);
    await fs.chmod(file, 0o640);
    const refused = await cli('keys', 'list', '--master-key-file', 'master.key');
    expect(refused.code).toBe(2);
    expect(refused.err).toContain('ERR_CRYPTO_KEY_FILE_INSECURE');
    expect(refused.err).toContain(`chmod 600 ${file}`);
    await fs.chmod(file, 0o600);
    expect((await cli('keys', 'list', '--master-key-file', 'master.key')).code).toBe(0);
  });

  it('exits 1 when the master key does not unwrap the store (check failed)', async () => {
    await cli('keys', 'generate', 'pii');
    env = { BULWARK_MASTER_KEY: generateMasterKey() };
    const res = await cli('keys', 'check');
    expect(res.code).toBe(1);
    expect(res.err).toContain('ERR_CRYPTO_KEY_UNWRAP_FAILED');
    expect(res.err).not.toContain(env.BULWARK_MASTER_KEY!);
    // the ring's internal secret is what fails first; its reserved id is no name for a user
    expect(res.err).not.toContain('$ring');
    expect(res.err).toContain("the key ring's internal secret");
    expect(res.err).toContain('wrong master key');
  });

  it('exits 2 on usage and configuration errors', async () => {
    expect((await cli()).code).toBe(2);
    expect((await cli('nope')).code).toBe(2);
    expect((await cli('keys', 'frobnicate')).code).toBe(2);
    expect((await cli('keys', 'rotate')).code).toBe(2);
    expect((await cli('keys', 'list', '--bogus')).code).toBe(2);
    expect((await cli('keys', 'generate', 'x', '--algorithm', 'des')).code).toBe(2);
    expect((await cli('keys', 'retire', 'x', '--min-version', 'zero')).code).toBe(2);
    env = {};
    const noKey = await cli('keys', 'generate', 'pii');
    expect(noKey.code).toBe(2);
    expect(noKey.err).toContain('BULWARK_MASTER_KEY');
    expect(noKey.err).toContain('`bulwark keys master`'); // generate makes data keys, not this one
  });

  it('keys list and keys check never create a missing key store', async () => {
    const list = await cli('keys', 'list');
    expect(list).toMatchObject({ code: 0, err: '' });
    expect(list.out).toContain('no key store at .bulwark/keys.json yet');
    expect((await cli('keys', 'list', '--json')).out).toBe('[]\n');
    const check = await cli('keys', 'check', '--store', 'typo.json');
    expect(check.code).toBe(2);
    expect(check.err).toContain('no key store at typo.json');
    expect(await fs.readdir(dir)).toEqual([]); // no .bulwark/, no keys.json, no lock file
  });

  it('keys list of an existing store leaves it byte for byte as it was', async () => {
    expect((await cli('keys', 'generate', 'pii')).code).toBe(0);
    const file = path.join(dir, '.bulwark', 'keys.json');
    const before = await fs.readFile(file, 'utf8');
    const entries = await fs.readdir(path.dirname(file));
    expect((await cli('keys', 'list')).code).toBe(0);
    expect((await cli('keys', 'check')).code).toBe(0);
    expect(await fs.readFile(file, 'utf8')).toBe(before);
    expect(await fs.readdir(path.dirname(file))).toEqual(entries);
  });

  it('prints help with exit 0', async () => {
    const res = await cli('keys', '--help');
    expect(res.code).toBe(0);
    expect(res.out).toContain('Usage: bulwark keys');
  });

  it('runs as the built bin with real exit codes', async () => {
    const bin = path.resolve(__dirname, '../bin/bulwark.js');
    await expect(fs.access(path.resolve(__dirname, '../dist/bin.js'))).resolves.toBeUndefined(); // `npm test` builds first
    const run = promisify(execFile);
    const opts = { cwd: dir, env: { ...process.env, ...env } };
    const ok = await run(process.execPath, [bin, 'keys', 'generate', 'pii'], opts);
    expect(ok.stdout).toContain('created key "pii" version 1');
    await expect(run(process.execPath, [bin, 'keys', 'rotate'], opts)).rejects.toMatchObject({ code: 2 });
  });
});
