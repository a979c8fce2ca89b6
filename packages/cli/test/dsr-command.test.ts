import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ErasureReceiptSigner, generateMasterKey, type DataSubjectRequests } from '@bulwark/core';
import type { DataSource } from 'typeorm';
import { runCli } from '../src/run-cli';

const FIXTURE = path.join(__dirname, 'fixtures', 'dsr.config.js');
const { createDataSubjectRequests } = require(FIXTURE) as {
  createDataSubjectRequests(ctx: { env: NodeJS.ProcessEnv }): Promise<{
    dsr: DataSubjectRequests;
    dataSource: DataSource;
    close(): Promise<void>;
  }>;
};

describe('bulwark dsr', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let ids: { access: string; erasure: string; rejected: string };
  let signer: ErasureReceiptSigner;

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
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bulwark-cli-dsr-'));
    signer = await ErasureReceiptSigner.generate({ kid: 'receipts-1' });
    await fs.writeFile(path.join(dir, 'receipt.jwk'), JSON.stringify(await signer.exportPrivateJwk()), {
      mode: 0o600,
    });
    await fs.writeFile(path.join(dir, 'receipt.pub.jwk'), JSON.stringify(await signer.exportPublicJwk()));
    env = {
      BULWARK_MASTER_KEY: generateMasterKey(),
      BULWARK_KEY_STORE: path.join(dir, 'keys.json'),
      BULWARK_TEST_DB: path.join(dir, 'app.sqlite'),
      BULWARK_RECEIPT_KEY: path.join(dir, 'receipt.jwk'),
    };
    const app = await createDataSubjectRequests({ env });
    try {
      await app.dataSource.query('INSERT INTO "crm_contact" VALUES (?, ?), (?, ?)', [
        'alice-42',
        'alice@example.com',
        'bob-7',
        'bob@example.com',
      ]);
      const access = await app.dsr.receive({ type: 'access', subjectId: 'alice-42', channel: 'web-form' });
      await app.dsr.verifyIdentity(access.id, 'passport-checked');
      const erasure = await app.dsr.receive({ type: 'erasure', subjectId: 'bob-7' });
      await app.dsr.verifyIdentity(erasure.id, 'passport-checked');
      const rejected = await app.dsr.receive({ type: 'access', subjectId: 'mallory-1' });
      await app.dsr.reject(rejected.id, 'identity could not be established');
      ids = { access: access.id, erasure: erasure.id, rejected: rejected.id };
    } finally {
      await app.close();
    }
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  const noSubjectIds = (text: string) => {
    for (const id of ['alice-42', 'bob-7', 'mallory-1']) expect(text).not.toContain(id);
  };

  it('lists and shows requests without printing a subject identifier', async () => {
    const list = await cli('dsr', 'list', '--config', FIXTURE);
    expect(list.code).toBe(0);
    expect(list.out).toMatch(new RegExp(`${ids.access}\\s+access\\s+identity-verified`));
    expect(list.out).toMatch(new RegExp(`${ids.rejected}\\s+access\\s+rejected`));
    noSubjectIds(list.out);

    const open = await cli(
      'dsr',
      'list',
      '--config',
      FIXTURE,
      '--status',
      'received,identity-verified',
      '--json',
    );
    expect(open.code).toBe(0);
    const rows = JSON.parse(open.out) as Array<{ id: string; subjectId?: string; subjectRef: string }>;
    expect(rows.map((r) => r.id).sort()).toEqual([ids.access, ids.erasure].sort());
    expect(rows.every((r) => r.subjectId === undefined && typeof r.subjectRef === 'string')).toBe(true);

    const erasures = await cli('dsr', 'list', '--config', FIXTURE, '--type', 'erasure', '--json');
    expect(JSON.parse(erasures.out).map((r: { id: string }) => r.id)).toEqual([ids.erasure]);
    const overdue = await cli('dsr', 'list', '--config', FIXTURE, '--overdue');
    expect(overdue.out).toContain('no data-subject requests match');

    const show = await cli('dsr', 'show', ids.access, '--config', FIXTURE);
    expect(show.code).toBe(0);
    expect(show.out).toContain('status       identity-verified');
    expect(show.out).toContain('via web-form');
    expect(show.out).toMatch(/due\s+\S+ \[\d+d\]/);
    noSubjectIds(show.out);
    expect((await cli('dsr', 'show', 'no-such-request', '--config', FIXTURE)).code).toBe(2);
  });

  it('exports an access request to 0600 files and completes it', async () => {
    const res = await cli(
      'dsr',
      'export',
      ids.access,
      '--config',
      FIXTURE,
      '--format',
      'json,csv',
      '--out',
      'out',
    );
    expect(res.err).toBe('');
    expect(res.code).toBe(0);
    expect(res.out).toContain('completed');
    noSubjectIds(res.out);
    const files = await fs.readdir(path.join(dir, 'out'));
    expect(files).toHaveLength(2);
    for (const f of files) {
      const file = path.join(dir, 'out', f);
      expect((await fs.stat(file)).mode & 0o777).toBe(0o600);
      expect(await fs.readFile(file, 'utf8')).toContain('alice@example.com');
    }
    // Personal data is never printed: --out is required.
    expect((await cli('dsr', 'export', ids.access, '--config', FIXTURE)).code).toBe(2);
    // An erasure request cannot be exported.
    const wrong = await cli('dsr', 'export', ids.erasure, '--config', FIXTURE, '--out', 'x');
    expect(wrong.code).toBe(1);
    expect(wrong.err).toContain('ERR_DSR_INVALID_TRANSITION');
  });

  it('erases, writes the signed receipt, and receipt-verify checks it (and refuses a forgery)', async () => {
    const res = await cli('dsr', 'erase', ids.erasure, '--config', FIXTURE, '--out', 'receipt.jws');
    expect(res.err).toBe('');
    expect(res.code).toBe(0);
    expect(res.out).toContain('sources erased: crm');
    expect(res.out).toContain('key shredded: yes');
    noSubjectIds(res.out);
    expect((await fs.stat(path.join(dir, 'receipt.jws'))).mode & 0o777).toBe(0o600);

    const app = await createDataSubjectRequests({ env });
    expect(
      await app.dataSource.query('SELECT * FROM "crm_contact" WHERE "subject_id" = ?', ['bob-7']),
    ).toEqual([]);
    await app.close();

    const ok = await cli('dsr', 'receipt-verify', 'receipt.jws', '--public-key', 'receipt.pub.jwk');
    expect(ok.code).toBe(0);
    expect(ok.out).toContain(`valid erasure receipt: request ${ids.erasure}`);
    const mine = await cli(
      'dsr',
      'receipt-verify',
      'receipt.jws',
      '--public-key',
      'receipt.pub.jwk',
      '--request-id',
      ids.erasure,
      '--subject-id',
      'bob-7',
    );
    expect(mine.code).toBe(0);
    const notMine = await cli(
      'dsr',
      'receipt-verify',
      'receipt.jws',
      '--public-key',
      'receipt.pub.jwk',
      '--request-id',
      ids.erasure,
      '--subject-id',
      'alice-42',
    );
    expect(notMine.code).toBe(1);
    expect(notMine.out).toContain('not for this subject');

    // Signed by another key: refused.
    const other = await ErasureReceiptSigner.generate();
    await fs.writeFile(path.join(dir, 'other.pub.jwk'), JSON.stringify(await other.exportPublicJwk()));
    const forged = await cli('dsr', 'receipt-verify', 'receipt.jws', '--public-key', 'other.pub.jwk');
    expect(forged.code).toBe(1);
    expect(forged.err).toContain('ERR_DSR_RECEIPT_INVALID');
    // A tampered payload: refused.
    const jws = (await fs.readFile(path.join(dir, 'receipt.jws'), 'utf8')).trim();
    const [h, p, s] = jws.split('.');
    const payload = JSON.parse(Buffer.from(p!, 'base64url').toString());
    payload.shredded = !payload.shredded;
    await fs.writeFile(
      path.join(dir, 'tampered.jws'),
      `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`,
    );
    expect((await cli('dsr', 'receipt-verify', 'tampered.jws', '--public-key', 'receipt.pub.jwk')).code).toBe(
      1,
    );

    // Erasing again is refused (the request is completed).
    expect((await cli('dsr', 'erase', ids.erasure, '--config', FIXTURE)).code).toBe(1);
  });

  it('exits 2 on usage errors', async () => {
    expect((await cli('dsr')).code).toBe(2);
    expect((await cli('dsr', 'list')).code).toBe(2);
    expect((await cli('dsr', 'show', '--config', FIXTURE)).code).toBe(2);
    expect((await cli('dsr', 'list', '--config', FIXTURE, '--status', 'done')).code).toBe(2);
    expect((await cli('dsr', 'list', '--config', 'missing.js')).code).toBe(2);
    await fs.writeFile(path.join(dir, 'bad.config.js'), 'module.exports = () => ({});');
    expect((await cli('dsr', 'list', '--config', 'bad.config.js')).code).toBe(2);
    expect((await cli('dsr', 'receipt-verify', 'r.jws')).code).toBe(2);
    expect((await cli('dsr', 'receipt-verify', 'missing.jws', '--public-key', 'x.jwk')).code).toBe(2);
    expect((await cli('dsr', '--help')).code).toBe(0);
  });
});
