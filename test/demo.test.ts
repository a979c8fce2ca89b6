import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';

const root = path.resolve(__dirname, '..');

describe('npm start demo', () => {
  it('runs the whole walkthrough on a fresh directory and exits 0', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bulwark-demo-'));
    try {
      const { stdout } = await promisify(execFile)(process.execPath, [path.join(root, 'scripts/demo.js')], {
        env: { ...process.env, BULWARK_DEMO_DIR: dir },
        timeout: 60_000,
      });
      // each attack in the walkthrough is shown as rejected / detected
      expect(stdout).toContain('rejected with ERR_CRYPTO_DECRYPTION_FAILED');
      expect(stdout).toContain('rejected with ERR_CRYPTO_KEY_RETIRED');
      expect(stdout).toContain('rejected with SUBJECT_SHREDDED');
      expect(stdout).toContain('rejected with ERR_TOKEN_ALGORITHM_NOT_ALLOWED');
      expect(stdout).toMatch(/TAMPERED: first bad entry at seq 3: hash-mismatch/);
      expect(stdout).toMatch(/TAMPERED: first bad entry at seq 4: truncated/);
      expect(stdout).toContain('Done.');
      const keys = await fs.readFile(path.join(dir, 'keys.json'), 'utf8');
      const master = (await fs.readFile(path.join(dir, 'master.key'), 'utf8')).trim();
      expect(keys).not.toContain(master);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  }, 90_000);
});
