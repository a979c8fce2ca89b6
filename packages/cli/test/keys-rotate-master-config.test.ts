import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DataSource } from 'typeorm';
import { EnvKeyProvider, KeyRing, generateMasterKey } from '@bulwark/core';
import { TypeOrmKeyStore, bulwarkStoreEntities, bulwarkStoreMigrations } from '@bulwark/typeorm';
import { runCli } from '../src/run-cli';

const FIXTURE = path.join(__dirname, 'fixtures', 'rotate-master.config.js');

describe('bulwark keys rotate-master --config (keys in the application database)', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let oldKey: string;
  let newKey: string;
  let sealed: { named: string; subject: string };

  const cli = async (...argv: string[]) => {
    let out = '';
    let err = '';
    const code = await runCli(argv, { stdout: (t) => (out += t), stderr: (t) => (err += t), env, cwd: dir });
    return { code, out, err };
  };

  /** A ring on the database key store with one master key only. */
  async function withRing<T>(key: string, fn: (ring: KeyRing) => Promise<T>): Promise<T> {
    const dataSource = await new DataSource({
      type: 'better-sqlite3',
      database: env.BULWARK_TEST_DB!,
      entities: bulwarkStoreEntities,
      migrations: bulwarkStoreMigrations,
    }).initialize();
    await dataSource.runMigrations();
    try {
      const ring = await KeyRing.open({
        provider: new EnvKeyProvider({ env: { BULWARK_MASTER_KEY: key } }),
        store: new TypeOrmKeyStore(dataSource),
        refreshIntervalMs: 0,
      });
      try {
        return await fn(ring);
      } finally {
        await ring.close();
      }
    } finally {
      await dataSource.destroy();
    }
  }

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bulwark-cli-rmc-'));
    oldKey = generateMasterKey();
    newKey = generateMasterKey();
    env = { BULWARK_TEST_DB: path.join(dir, 'app.sqlite'), BULWARK_MASTER_KEY: oldKey };
    sealed = await withRing(oldKey, async (ring) => {
      await ring.createKey('pii');
      await ring.rotate('pii');
      return {
        named: ring.encrypt('pii', 'alice@example.com'),
        subject: await ring.encryptForSubject('user-1', 'date of birth'),
      };
    });
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('re-wraps every key in the database under the new master key; the old key alone then reads nothing', async () => {
    env = { ...env, BULWARK_NEW_MASTER_KEY: newKey };
    const res = await cli('keys', 'rotate-master', '--config', FIXTURE, '--json');
    expect(res.err).toBe('');
    expect(res.code).toBe(0);
    expect(JSON.parse(res.out)).toMatchObject({ complete: true, failed: [] });
    expect(JSON.parse(res.out).rewrapped).toBeGreaterThanOrEqual(3); // named key, subject key, ring secret

    await withRing(newKey, async (ring) => {
      expect(ring.decryptString(sealed.named)).toBe('alice@example.com');
      expect(await ring.decryptStringAsync(sealed.subject, { subject: 'user-1' })).toBe('date of birth');
    });
    await expect(withRing(oldKey, async () => undefined)).rejects.toMatchObject({
      code: expect.stringMatching(/^ERR_CRYPTO_/),
    });
    // A second run finds nothing to do.
    const again = await cli('keys', 'rotate-master', '--config', FIXTURE, '--json');
    expect(again.code).toBe(0);
    expect(JSON.parse(again.out)).toMatchObject({ rewrapped: 0, complete: true });
  });

  it('refuses a module that returns no KeyRing, and --store next to --config (exit 2)', async () => {
    await fs.writeFile(path.join(dir, 'bad.config.js'), 'module.exports = () => ({ keyRing: 1 });');
    const bad = await cli('keys', 'rotate-master', '--config', 'bad.config.js');
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/must return \{ keyRing \}/);
    const both = await cli('keys', 'rotate-master', '--config', FIXTURE, '--store', 'keys.json');
    expect(both.code).toBe(2);
    expect(both.err).toMatch(/--store cannot be used with --config/);
  });
});
