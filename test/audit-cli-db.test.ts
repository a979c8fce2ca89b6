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
