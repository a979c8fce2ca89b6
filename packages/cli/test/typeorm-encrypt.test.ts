import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { envelopeKind, generateMasterKey } from '@bulwark/core';
import { registerBulwarkEncryption } from '@bulwark/typeorm';
import type { DataSource, EntityTarget, ObjectLiteral } from 'typeorm';
import { EncryptionTransformer } from 'typeorm-encrypted';
import { bulwark } from './run';

const FIXTURE = path.join(__dirname, 'fixtures', 'encrypt.config.js');
const BIN = path.resolve(__dirname, '..', 'bin', 'bulwark.js');
const { createEncryptConfig } = require(FIXTURE) as {
  createEncryptConfig(ctx: { env: NodeJS.ProcessEnv }): Promise<{
    dataSource: DataSource;
    keyRing: import('@bulwark/core').KeyRing;
    Member: EntityTarget<ObjectLiteral>;
    LegacyCard: EntityTarget<ObjectLiteral>;
    close(): Promise<void>;
  }>;
};

/** The spawned, built CLI: what an operator runs. */
function spawnBulwark(argv: string[], env: NodeJS.ProcessEnv, cwd: string) {
  return new Promise<{ code: number; out: string; err: string }>((resolve) => {
    execFile(process.execPath, [BIN, ...argv], { env: { ...process.env, ...env }, cwd }, (error, out, err) =>
      resolve({ code: error ? Number(error.code) : 0, out, err }),
    );
  });
}

describe('bulwark typeorm encrypt', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const teKey = randomBytes(32).toString('hex');

  /** The app's database as it was before adopting Bulwark: plaintext rows, typeorm-encrypted cards. */
  async function populate(): Promise<void> {
    const app = await createEncryptConfig({ env });
    try {
      const legacy = new EncryptionTransformer({ key: teKey, algorithm: 'aes-256-gcm', ivLength: 12 });
      for (let id = 1; id <= 9; id++) {
        await app.dataSource.query(
          'INSERT INTO "member" ("id", "name", "email", "bio") VALUES (?, ?, ?, ?)',
          [id, `m${id}`, `Member${id}@Clinic.test`, id === 4 ? null : `bio ${id}`],
        );
        await app.dataSource.query('INSERT INTO "legacy_card" ("id", "holder") VALUES (?, ?)', [
          id,
          legacy.to(`Holder ${id}`),
        ]);
      }
    } finally {
      await app.close();
    }
  }

  /** Reads the rows back through the app's repositories (refusing plaintext, the default). */
  async function readBack(entity: 'Member' | 'LegacyCard'): Promise<ObjectLiteral[]> {
    const app = await createEncryptConfig({ env });
    const registration = await registerBulwarkEncryption(app.dataSource, { keyRing: app.keyRing });
    try {
      return await app.dataSource.getRepository(app[entity]).find({ order: { id: 'ASC' } });
    } finally {
      registration.unregister();
      await app.close();
    }
  }

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bulwark-cli-encrypt-'));
    env = {
      BULWARK_MASTER_KEY: generateMasterKey(),
      BULWARK_KEY_STORE: path.join(dir, 'keys.json'),
      BULWARK_TEST_DB: path.join(dir, 'app.sqlite'),
      BULWARK_TEST_TE_KEY: teKey,
    };
    await populate();
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('dry run counts without writing; the run encrypts with a progress line, then verifies', async () => {
    const dry = await bulwark(
      dir,
      ['typeorm', 'encrypt', '--config', FIXTURE, '--entity', 'Member', '--dry-run'],
      {
        env,
      },
    );
    expect(dry.code).toBe(0);
    expect(dry.out).toContain('Member.email: 9 value(s) read, 9 to encrypt, 0 already encrypted');
    expect(dry.out).toContain('dry run: nothing was written');
    const app = await createEncryptConfig({ env });
    const [row] = await app.dataSource.query('SELECT "email" FROM "member" WHERE "id" = 1');
    await app.close();
    expect(row.email).toBe('Member1@Clinic.test');

    const run = await bulwark(
      dir,
      ['typeorm', 'encrypt', '--config', FIXTURE, '--entity', 'Member', '--batch-size', '2'],
      { env, stderrIsTTY: true, progressDelayMs: 0 },
    );
    expect(run.code).toBe(0);
    expect(run.err).toMatch(/encrypt: \d+ rows/);
    expect(run.out).toContain(
      'Member.email: 9 value(s) read, 9 encrypted, 0 already encrypted, 0 conflict(s) retried, 0 failed',
    );
    expect(run.out).toContain('Member.bio: 8 value(s) read, 8 encrypted');
    expect(run.out).toContain('Member.emailIndex (blind index of email): 9 built');
    expect(run.out).toContain('verification: 9 row(s) read again: no plaintext left');
    expect(run.out).not.toContain('Clinic.test');
    const members = await readBack('Member');
    expect(members.map((m) => m.email)).toEqual(
      Array.from({ length: 9 }, (_, i) => `Member${i + 1}@Clinic.test`),
    );
  });

  it('the built bin encrypts, then exits 1 naming a tampered row by id; usage errors exit 2', async () => {
    const first = await spawnBulwark(
      ['typeorm', 'encrypt', '--config', FIXTURE, '--entity', 'Member'],
      env,
      dir,
    );
    expect(first.err).toBe('');
    expect(first.code).toBe(0);
    expect(first.out).toContain('done:');

    // A row-bound value copied into another row (around the ORM): verification catches it.
    const app = await createEncryptConfig({ env });
    const [one] = await app.dataSource.query('SELECT "bio" FROM "member" WHERE "id" = 1');
    expect(envelopeKind(one.bio)).toBeDefined();
    await app.dataSource.query('UPDATE "member" SET "bio" = ? WHERE "id" = 2', [one.bio]);
    await app.close();
    const again = await spawnBulwark(['typeorm', 'encrypt', '--config', FIXTURE, '--json'], env, dir);
    expect(again.code).toBe(1);
    const report = JSON.parse(again.out) as { ok: boolean; verification: { unreadable: unknown[] } };
    expect(report.ok).toBe(false);
    expect(report.verification.unreadable).toEqual([
      expect.objectContaining({ entity: 'Member', column: 'bio', id: '[2]' }),
    ]);

    const noConfig = await spawnBulwark(['typeorm', 'encrypt'], env, dir);
    expect(noConfig.code).toBe(2);
    expect(noConfig.err).toContain('--config is required');
    const badEntity = await spawnBulwark(
      ['typeorm', 'encrypt', '--config', FIXTURE, '--entity', 'Nope'],
      env,
      dir,
    );
    expect(badEntity.code).toBe(2);
    expect(badEntity.err).toContain('Nope is not an entity');
  });

  it('--from-typeorm-encrypted turns typeorm-encrypted ciphertexts into envelopes; a wrong key names the row', async () => {
    const wrong = await bulwark(
      dir,
      ['typeorm', 'encrypt', '--config', FIXTURE, '--from-typeorm-encrypted'],
      {
        env: { ...env, BULWARK_TEST_TE_KEY: randomBytes(32).toString('hex') },
      },
    );
    expect(wrong.code).toBe(1);
    expect(wrong.err).toContain('LegacyCard.holder row [1]');
    expect(wrong.err).toContain('[ERR_TYPEORM_LEGACY_DECRYPT_FAILED]');

    const run = await bulwark(dir, ['typeorm', 'encrypt', '--config', FIXTURE, '--from-typeorm-encrypted'], {
      env,
    });
    expect(run.code).toBe(0);
    expect(run.out).toContain('LegacyCard.holder: 9 value(s) read, 9 encrypted');
    expect((await readBack('LegacyCard')).map((c) => c.holder)).toEqual(
      Array.from({ length: 9 }, (_, i) => `Holder ${i + 1}`),
    );
  });

  it('the plaintext pass without --entity leaves the typeorm-encrypted columns of the config alone', async () => {
    const plain = await bulwark(dir, ['typeorm', 'encrypt', '--config', FIXTURE], { env });
    expect(plain.code).toBe(0);
    expect(plain.out).toContain('Member.email: 9 value(s) read, 9 encrypted');
    expect(plain.out).not.toContain('LegacyCard');
    const app = await createEncryptConfig({ env });
    const cards = (await app.dataSource.query('SELECT "holder" FROM "legacy_card"')) as Array<{
      holder: string;
    }>;
    await app.close();
    // Still typeorm-encrypted ciphertexts, not envelopes sealing them.
    expect(cards.every((c) => envelopeKind(c.holder) === undefined)).toBe(true);
    const named = await bulwark(dir, ['typeorm', 'encrypt', '--config', FIXTURE, '--entity', 'LegacyCard'], {
      env,
    });
    expect(named.code).toBe(2);
    expect(named.err).toContain('--from-typeorm-encrypted');

    const legacy = await bulwark(
      dir,
      ['typeorm', 'encrypt', '--config', FIXTURE, '--from-typeorm-encrypted'],
      {
        env,
      },
    );
    expect(legacy.code).toBe(0);
    expect(legacy.out).toContain('LegacyCard.holder: 9 value(s) read, 9 encrypted, 0 already encrypted');
    expect(legacy.out).toContain('done: remove these columns from typeormEncrypted');
    expect((await readBack('LegacyCard')).map((c) => c.holder)).toEqual(
      Array.from({ length: 9 }, (_, i) => `Holder ${i + 1}`),
    );
  });

  it('a plaintext that starts like an envelope is AMBIGUOUS by id (exit 1) until --plaintext-ids encrypts it', async () => {
    const app = await createEncryptConfig({ env });
    await app.dataSource.query('UPDATE "member" SET "email" = ? WHERE "id" = 3', ['bw2.hello there']);
    await app.close();
    const first = await bulwark(dir, ['typeorm', 'encrypt', '--config', FIXTURE, '--entity', 'Member'], {
      env,
    });
    expect(first.code).toBe(1);
    expect(first.out).toContain('Member.email: 9 value(s) read, 8 encrypted, 0 already encrypted');
    expect(first.out).toMatch(/AMBIGUOUS Member\.email \[3\]: .*--plaintext-ids \[3\]/);
    expect(first.out).not.toContain('hello there');
    const bad = await bulwark(dir, ['typeorm', 'encrypt', '--config', FIXTURE, '--plaintext-ids', '3'], {
      env,
    });
    expect(bad.code).toBe(2);
    const forced = await bulwark(
      dir,
      ['typeorm', 'encrypt', '--config', FIXTURE, '--entity', 'Member', '--plaintext-ids', '[3]'],
      { env },
    );
    expect(forced.code).toBe(0);
    expect(forced.out).toContain('Member.email: 9 value(s) read, 1 encrypted, 8 already encrypted');
    expect((await readBack('Member')).map((m) => m.email)[2]).toBe('bw2.hello there');
  });
});
