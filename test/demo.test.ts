/**
 * `npm start` (scripts/demo.js --once): boots examples/express-clinic from its build on a fresh
 * folder, drives the walkthrough over HTTP, and must show each protection working.
 */
import { execFile } from 'node:child_process';
import * as net from 'node:net';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';

const root = path.resolve(__dirname, '..');

describe('npm start demo', () => {
  it('runs the clinic walkthrough on a fresh directory, writes the report and exits 0', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bulwark-demo-'));
    try {
      const { stdout } = await promisify(execFile)(
        process.execPath,
        [path.join(root, 'scripts/demo.js'), '--once'],
        {
          // DATABASE_URL is ignored: the demo always runs on SQLite in its folder
          env: { ...process.env, BULWARK_DEMO_DIR: dir, DATABASE_URL: 'postgres://nowhere.invalid/x' },
          timeout: 60_000,
        },
      );
      // login, brute force, forged token
      expect(stdout).toContain('POST   /auth/login -> 401 ERR_CLINIC_INVALID_CREDENTIALS');
      expect(stdout).toContain('alg "none": 401 ERR_TOKEN_INVALID');
      expect(stdout).toMatch(/locked out after \d+ failures -> 429/);
      // the burst reached the security team's webhook receiver, signed and verified
      expect(stdout).toContain('security webhook received (signature verified): [MEDIUM] failed-login-burst');
      // a record read, encrypted at rest, found by blind index
      expect(stdout).toMatch(/API: Alice Martin, born 1984-03-02/);
      expect(stdout).toMatch(/database: diagnosis = bw2/);
      expect(stdout).toContain('found Alice Martin through the blind index');
      // denials
      expect(stdout).toMatch(/\/notes -> 403 ERR_POLICY_DENIED/);
      expect(stdout).toContain('403 ERR_POLICY_DENIED (separation_of_duties)');
      // consent, export, erasure
      expect(stdout).toContain('POST   /research/questionnaire -> 403 ERR_CONSENT_REQUIRED');
      expect(stdout).toContain('after withdrawal the cohort has 0 patients');
      expect(stdout).toMatch(/export-alice\.json: \d+ records/);
      expect(stdout).toMatch(/key shredded: true, \d+ audit entries redacted/);
      expect(stdout).toContain("the backup copy of Bob's diagnosis: rejected with SUBJECT_SHREDDED");
      // audit chain: verified in-app and by the CLI; a tampered copy is caught
      expect(stdout).toMatch(/verify: ok=true/);
      expect(stdout).toMatch(/ok: \d+ entries, \d+ checked, 1 checkpoint\(s\) verified/);
      expect(stdout).toMatch(/TAMPERED: first bad entry at seq \d+: hash-mismatch/);
      expect(stdout).toContain('HTML report:');
      expect(stdout).toContain('Done.');

      const html = await fs.readFile(path.join(dir, 'compliance-report.html'), 'utf8');
      expect(html).toContain('<html');
      expect(html).toContain('HIPAA');
      const exported = JSON.parse(await fs.readFile(path.join(dir, 'export-alice.json'), 'utf8'));
      expect(JSON.stringify(exported)).toContain('Alice Martin');
      // the master key never lands in the key store
      const master = (await fs.readFile(path.join(dir, 'master.key'), 'utf8')).trim();
      expect(await fs.readFile(path.join(dir, 'keys.json'), 'utf8')).not.toContain(master);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  }, 90_000);

  it('stops with a clear message when $PORT is taken, instead of serving elsewhere', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bulwark-demo-port-'));
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const failed = await promisify(execFile)(process.execPath, [path.join(root, 'scripts/demo.js')], {
        env: { ...process.env, BULWARK_DEMO_DIR: dir, PORT: String(port) },
        timeout: 30_000,
      }).catch((err: { code: number; stdout: string; stderr: string }) => err);
      expect(failed).toMatchObject({ code: 2 });
      expect((failed as { stderr: string }).stderr).toContain(
        `port ${port} (from $PORT) is already in use on 127.0.0.1`,
      );
      expect((failed as { stdout: string }).stdout).not.toContain('listening on');
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
      await fs.rm(dir, { recursive: true, force: true });
    }
  }, 40_000);
});
