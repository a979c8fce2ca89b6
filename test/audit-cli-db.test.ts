/**
 * `bulwark audit ... --db` end to end: the built CLI (@bulwark/cli, through its bin) drives a SQL
 * log through @bulwark/typeorm; tampering with a row through plain SQL is caught by `verify` (exit 1).
 */
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { DataSource } from 'typeorm';
import { describeWithService, SERVICE_URLS } from './support/services';

const bin = path.resolve(__dirname, '../packages/cli/bin/bulwark.js');
const built = path.resolve(__dirname, '../packages/cli/dist/bin.js');

interface Run {
  code: number;
  out: string;
  err: string;
}

function cli(args: string[], cwd: string, stdin?: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd, env: { ...process.env } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, out, err }));
    child.stdin.end(stdin ?? '');
  });
}

const events = (n: number) =>
  Array.from({ length: n }, (_, i) =>
    JSON.stringify({
      actor: { id: `u${i % 4}`, type: 'user' },
      action: 'record.read',
      resource: { type: 'record', id: String(i + 1) },
      outcome: 'success',
      details: { note: `event ${i + 1}` },
    }),
  ).join('\n') + '\n';

/** The same scenario on any SQL backend: append, verify, tamper with SQL, verify again. */
function scenario(dbArg: () => string, sql: () => DataSource, cwd: () => string): void {
  it('appends from stdin and verifies; an edited row makes verify exit 1 naming its seq', async () => {
    const appended = await cli(['audit', 'append', '--db', dbArg()], cwd(), events(25));
    expect(appended.err).toBe('');
    expect(appended.code).toBe(0);
    expect(appended.out.trim().split('\n')).toHaveLength(25);

    const ok = await cli(['audit', 'verify', '--db', dbArg()], cwd());
    expect(ok).toMatchObject({ code: 0 });
    expect(ok.out).toMatch(/^ok: 25 entries/);

    await sql().query(`UPDATE bulwark_audit_entry SET action = 'record.delete' WHERE seq = 17`);
    const tampered = await cli(['audit', 'verify', '--db', dbArg()], cwd());
    expect(tampered.code).toBe(1);
    expect(tampered.out).toContain('first bad entry at seq 17');

    await sql().query(`UPDATE bulwark_audit_entry SET action = 'record.read' WHERE seq = 17`);
    expect((await cli(['audit', 'verify', '--db', dbArg()], cwd())).code).toBe(0);

    // Rows cut off the end: the head row still counts them, and --json reports the real size.
    await sql().query(`DELETE FROM bulwark_audit_entry WHERE seq >= 24`);
    const cut = await cli(['audit', 'verify', '--db', dbArg(), '--json'], cwd());
    expect(cut.code).toBe(1);
    expect(JSON.parse(cut.out)).toMatchObject({
      ok: false,
      treeSize: 25,
      verifiedTreeSize: 23,
      firstBad: { seq: 24, reason: 'truncated' },
    });

    await sql().query(`DELETE FROM bulwark_audit_entry WHERE seq = 9`);
    const deleted = await cli(['audit', 'verify', '--db', dbArg()], cwd());
    expect(deleted.code).toBe(1);
    expect(deleted.out).toContain('seq 9');
  }, 60_000);
}

/**
 * Deleting the newest rows AND moving the head row back leaves a shorter chain that is consistent
 * in itself: only a signed checkpoint kept outside the database catches it (issue 13, item 8).
 */
function tailDeletion(dbArg: () => string, sql: () => DataSource, cwd: () => string): void {
  it('catches the newest rows deleted with the head row rewound, against a signed checkpoint', async () => {
    expect((await cli(['audit', 'append', '--db', dbArg()], cwd(), events(10))).code).toBe(0);
    const keygen = await cli(['audit', 'keygen', '--out', 'cp-key.json'], cwd());
    expect(keygen.code).toBe(0);
    await fs.writeFile(path.join(cwd(), 'cp-public.json'), keygen.out);
    const signed = await cli(['audit', 'checkpoint', '--db', dbArg(), '--signing-key', 'cp-key.json'], cwd());
    expect(signed.code).toBe(0);
    expect((await cli(['audit', 'append', '--db', dbArg()], cwd(), events(5))).code).toBe(0);

    const verify = ['audit', 'verify', '--db', dbArg(), '--public-key', 'cp-public.json'];
    const ok = await cli(verify, cwd());
    expect(ok.code).toBe(0);
    expect(ok.out).toMatch(/^ok: 15 entries/);
    expect(ok.out).toContain('note: 5 entries after the last checkpoint (tree size 10)');

    const [row8] = (await sql().query(`SELECT leaf_hash FROM bulwark_audit_entry WHERE seq = 8`)) as {
      leaf_hash: string;
    }[];
    await sql().query(`DELETE FROM bulwark_audit_entry WHERE seq > 8`);
    await sql().query(`UPDATE bulwark_audit_head SET seq = 8, leaf_hash = '${row8!.leaf_hash}' WHERE id = 1`);
    const cut = await cli(verify, cwd());
    expect(cut.code).toBe(1);
    expect(cut.out).toMatch(
      /^TRUNCATED: entries from seq 9 on are missing: the log has 8 entries but a checkpoint covers 10/,
    );
    // Without the checkpoint the rewound log is consistent in itself: nothing can tell.
    await fs.rm(path.join(cwd(), '.bulwark', 'audit-checkpoints.jsonl'));
    const blind = await cli(['audit', 'verify', '--db', dbArg()], cwd());
    expect(blind.code).toBe(0);
    expect(blind.out).toContain('note: no signed checkpoint covers this log');
  }, 60_000);
}

describe('bulwark audit --db (SQLite file)', () => {
  let dir: string;
  let ds: DataSource;
  beforeAll(async () => {
    await expect(fs.access(built)).resolves.toBeUndefined(); // `npm test` builds before testing
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bulwark-cli-db-'));
    // create the schema through the CLI itself, then open a plain SQL connection for tampering
    expect((await cli(['audit', 'verify', '--db', 'audit.db'], dir)).code).toBe(0);
    ds = new DataSource({ type: 'better-sqlite3', database: path.join(dir, 'audit.db') });
    await ds.initialize();
  });
  afterAll(async () => {
    await ds?.destroy();
    await fs.rm(dir, { recursive: true, force: true });
  });
  scenario(
    () => 'audit.db',
    () => ds,
    () => dir,
  );
});

describeWithService('postgres', 'bulwark audit --db (PostgreSQL)', () => {
  const dbName = `bw_cli_${randomBytes(4).toString('hex')}`;
  const adminUrl = SERVICE_URLS.postgres;
  const url = (() => {
    const u = new URL(adminUrl);
    u.pathname = `/${dbName}`;
    return u.toString();
  })();
  let admin: DataSource;
  let ds: DataSource;
  let dir: string;
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bulwark-cli-pg-'));
    admin = new DataSource({ type: 'postgres', url: adminUrl });
    await admin.initialize();
    await admin.query(`CREATE DATABASE ${dbName}`);
    expect((await cli(['audit', 'verify', '--db', url], dir)).code).toBe(0);
    ds = new DataSource({ type: 'postgres', url });
    await ds.initialize();
  });
  afterAll(async () => {
    await ds?.destroy();
    await admin?.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin?.destroy();
    await fs.rm(dir, { recursive: true, force: true });
  });
  scenario(
    () => url,
    () => ds,
    () => dir,
  );
});

describe('bulwark audit --db tail deletion (SQLite file)', () => {
  let dir: string;
  let ds: DataSource;
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bulwark-cli-db-tail-'));
    expect((await cli(['audit', 'verify', '--db', 'audit.db'], dir)).code).toBe(0);
    ds = new DataSource({ type: 'better-sqlite3', database: path.join(dir, 'audit.db') });
    await ds.initialize();
  });
  afterAll(async () => {
    await ds?.destroy();
    await fs.rm(dir, { recursive: true, force: true });
  });
  tailDeletion(
    () => 'audit.db',
    () => ds,
    () => dir,
  );
});

describeWithService('postgres', 'bulwark audit --db tail deletion (PostgreSQL)', () => {
  const dbName = `bw_cli_tail_${randomBytes(4).toString('hex')}`;
  const adminUrl = SERVICE_URLS.postgres;
  const url = (() => {
    const u = new URL(adminUrl);
    u.pathname = `/${dbName}`;
    return u.toString();
  })();
  let admin: DataSource;
  let ds: DataSource;
  let dir: string;
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bulwark-cli-pg-tail-'));
    admin = new DataSource({ type: 'postgres', url: adminUrl });
    await admin.initialize();
    await admin.query(`CREATE DATABASE ${dbName}`);
    expect((await cli(['audit', 'verify', '--db', url], dir)).code).toBe(0);
    ds = new DataSource({ type: 'postgres', url });
    await ds.initialize();
  });
  afterAll(async () => {
    await ds?.destroy();
    await admin?.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin?.destroy();
    await fs.rm(dir, { recursive: true, force: true });
  });
  tailDeletion(
    () => url,
    () => ds,
    () => dir,
  );
});
