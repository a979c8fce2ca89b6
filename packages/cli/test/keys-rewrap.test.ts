import { createHmac } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ErrorCodes, generateMasterKey, type KeyRing, type TotpFactor } from '@bulwark/core';
import type { DataSource } from 'typeorm';
import { findByBlindIndex } from '@bulwark/typeorm';
import { runCli } from '../src/run-cli';

const FIXTURE = path.join(__dirname, 'fixtures', 'rewrap.config.js');
const { createRewrapConfig } = require(FIXTURE) as {
  createRewrapConfig(ctx: { env: NodeJS.ProcessEnv }): Promise<{
    dataSource: DataSource;
    keyRing: KeyRing;
    totp: TotpFactor;
    Patient: new () => { id: number; name: string; diagnosis: string | null };
    close(): Promise<void>;
  }>;
};

/** The authenticator app: RFC 4648 base32, RFC 6238 TOTP (SHA-1, 6 digits, 30 s). */
function codeAt(secret: string, ms: number): string {
  let bits = '';
  for (const c of secret.replace(/=+$/, '')) {
    bits += 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'.indexOf(c).toString(2).padStart(5, '0');
  }
  const key = Buffer.from(bits.match(/.{8}/g)!.map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(ms / 30_000)));
  const mac = createHmac('sha1', key).update(counter).digest();
  const offset = mac[mac.length - 1]! & 0xf;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

const T0 = Date.parse('2025-06-02T10:00:00.000Z');

describe('bulwark keys rewrap', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let secrets: string[];

  const cli = async (...argv: string[]) => {
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
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bulwark-cli-rewrap-'));
    env = {
      BULWARK_MASTER_KEY: generateMasterKey(),
      BULWARK_KEY_STORE: path.join(dir, 'keys.json'),
      BULWARK_TEST_DB: path.join(dir, 'app.sqlite'),
      BULWARK_TEST_NOW: String(T0),
    };
    const app = await createRewrapConfig({ env });
    try {
      const repo = app.dataSource.getRepository(app.Patient);
      for (let id = 1; id <= 5; id++) await repo.save({ id, name: `p${id}`, diagnosis: `diagnosis ${id}` });
      secrets = [];
      for (const user of ['u1', 'u2']) {
        const { secret } = await app.totp.enroll(user, { label: user });
        await app.totp.confirm(user, codeAt(secret, T0));
        secrets.push(secret);
      }
      await app.keyRing.rotate('default');
      await app.keyRing.rotate('mfa');
    } finally {
      await app.close();
    }
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('re-encrypts entities and TOTP secrets (exit 0); the old versions can then be retired', async () => {
    const res = await cli('keys', 'rewrap', '--config', FIXTURE, '--batch-size', '2', '--json');
    expect(res.err).toBe('');
    expect(res.code).toBe(0);
    const report = JSON.parse(res.out);
    expect(report.entities).toEqual({ processed: 5, rewrapped: 5, skipped: 0, failed: [] });
    expect(report.totp).toEqual({ processed: 2, rewrapped: 2, skipped: 0, failed: [] });
    // The followKeyRotation blind index moved to version 2 as well.
    expect(report.blindIndexes).toEqual({ processed: 5, migrated: 5, complete: true, failed: [] });
    expect(res.out).not.toContain('diagnosis 1');

    env.BULWARK_TEST_NOW = String(T0 + 60_000);
    const app = await createRewrapConfig({ env });
    try {
      await app.keyRing.retire('default', 2);
      await app.keyRing.retire('mfa', 2);
      const rows = await app.dataSource.getRepository(app.Patient).find({ order: { id: 'ASC' } });
      expect(rows.map((r) => r.diagnosis)).toEqual([1, 2, 3, 4, 5].map((i) => `diagnosis ${i}`));
      // With version 1 retired, the index is looked up under version 2 only, and still finds the row.
      const found = await findByBlindIndex(
        app.dataSource.getRepository(app.Patient),
        'diagnosisIndex',
        'diagnosis 3',
      );
      expect(found.map((r) => r.id)).toEqual([3]);
      for (const [i, user] of ['u1', 'u2'].entries()) {
        await expect(app.totp.verify(user, codeAt(secrets[i]!, T0 + 60_000))).resolves.toMatchObject({
          method: 'totp',
        });
      }
    } finally {
      await app.close();
    }

    const again = await cli('keys', 'rewrap', '--config', FIXTURE);
    expect(again.code).toBe(0);
    expect(again.out).toContain('5 already at the primary version');
  });

  it('exits 1 and names a value that fails, leaving it as it was', async () => {
    const app = await createRewrapConfig({ env });
    const [row] = (await app.dataSource.query(
      'SELECT "diagnosis" FROM "rw_patient" WHERE "id" = 3',
    )) as Array<{
      diagnosis: string;
    }>;
    const tampered = row!.diagnosis.slice(0, -4) + (row!.diagnosis.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    await app.dataSource.query('UPDATE "rw_patient" SET "diagnosis" = ? WHERE "id" = 3', [tampered]);
    await app.close();

    const res = await cli('keys', 'rewrap', '--config', FIXTURE);
    expect(res.code).toBe(1);
    expect(res.out).toContain('entities: 5 value(s) read, 4 re-encrypted');
    expect(res.out).toMatch(/FAILED Patient\.diagnosis .*3.*ERR_CRYPTO_DECRYPTION_FAILED/);
    // The index migration skips the row it cannot read, names it, and moves the others.
    expect(res.out).toContain(
      'blind indexes (followKeyRotation): 4 row(s) read, 4 moved to the primary key version, 1 failed',
    );
    expect(res.out).toMatch(/FAILED blind index of Patient \[3\]: ERR_CRYPTO_DECRYPTION_FAILED/);
    expect(res.out).toContain('NOT done');
    const after = await createRewrapConfig({ env });
    const [still] = (await after.dataSource.query(
      'SELECT "diagnosis" FROM "rw_patient" WHERE "id" = 3',
    )) as Array<{
      diagnosis: string;
    }>;
    expect(still!.diagnosis).toBe(tampered);
    await after.close();
  });

  it('exits 2 on usage and configuration errors', async () => {
    expect((await cli('keys', 'rewrap')).code).toBe(2);
    expect((await cli('keys', 'rewrap', '--config', 'missing.js')).code).toBe(2);
    await fs.writeFile(path.join(dir, 'bad.config.js'), 'module.exports = () => ({ dataSource: 1 });');
    const bad = await cli('keys', 'rewrap', '--config', 'bad.config.js');
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('{ dataSource, keyRing');
    expect((await cli('keys', 'rewrap', '--config', FIXTURE, '--batch-size', '0')).code).toBe(2);
    const resume = await cli('keys', 'rewrap', '--config', FIXTURE, '--resume', 'not-a-cursor');
    expect(resume.code).toBe(2);
    expect(resume.err).toContain(ErrorCodes.CONFIG_INVALID);
  });
});

describe('bulwark keys rewrap with the app registered under defaultKeyId "pii"', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bulwark-cli-rewrap-pii-'));
    env = {
      BULWARK_MASTER_KEY: generateMasterKey(),
      BULWARK_KEY_STORE: path.join(dir, 'keys.json'),
      BULWARK_TEST_DB: path.join(dir, 'app.sqlite'),
      BULWARK_TEST_NOW: String(T0),
      BULWARK_TEST_DEFAULT_KEY_ID: 'pii',
    };
    const app = await createRewrapConfig({ env });
    try {
      const repo = app.dataSource.getRepository(app.Patient);
      for (let id = 1; id <= 3; id++) await repo.save({ id, name: `p${id}`, diagnosis: `diagnosis ${id}` });
      const { secret } = await app.totp.enroll('u1', { label: 'u1' });
      await app.totp.confirm('u1', codeAt(secret, T0));
      await app.keyRing.rotate('pii');
      await app.keyRing.rotate('mfa');
    } finally {
      await app.close();
    }
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('migrates the blind indexes under "pii" (not "default") and still re-encrypts TOTP secrets', async () => {
    let out = '';
    let err = '';
    const code = await runCli(['keys', 'rewrap', '--config', FIXTURE, '--json'], {
      stdout: (t) => (out += t),
      stderr: (t) => (err += t),
      env,
      cwd: dir,
    });
    expect(err).toBe('');
    expect(code).toBe(0);
    const report = JSON.parse(out);
    expect(report.blindIndexes).toEqual({ processed: 3, migrated: 3, complete: true, failed: [] });
    expect(report.totp).toEqual({ processed: 1, rewrapped: 1, skipped: 0, failed: [] });

    env.BULWARK_TEST_NOW = String(T0 + 60_000);
    const app = await createRewrapConfig({ env });
    try {
      expect(app.keyRing.has('default')).toBe(false);
      await app.keyRing.retire('pii', 2);
      const found = await findByBlindIndex(
        app.dataSource.getRepository(app.Patient),
        'diagnosisIndex',
        'diagnosis 2',
      );
      expect(found.map((r) => r.id)).toEqual([2]);
    } finally {
      await app.close();
    }
  });
});
