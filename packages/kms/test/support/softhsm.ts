/**
 * A SoftHSM2 token for one test file, initialised with softhsm2-util in the run's private token
 * directory (see global-setup.js). The machine's own tokens are never touched. Outside CI a missing SoftHSM2 skips the suite with a one-line reason; with CI=true it
 * fails (.ci/run installs the Debian package softhsm2).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const LIBRARIES = [
  process.env.BULWARK_SOFTHSM2_LIBRARY,
  '/usr/lib/softhsm/libsofthsm2.so',
  '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so',
  '/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so',
  '/usr/local/lib/softhsm/libsofthsm2.so',
];

export function softHsmLibrary(): string | undefined {
  return LIBRARIES.find((p): p is string => p !== undefined && existsSync(p));
}

function softHsmUtil(): boolean {
  return spawnSync('softhsm2-util', ['--version'], { encoding: 'utf8' }).status === 0;
}

/** describe() when SoftHSM2 is installed; skip (or fail with CI=true) otherwise. */
export function describeWithSoftHsm(title: string, body: () => void): void {
  if (softHsmLibrary() !== undefined && softHsmUtil()) {
    describe(title, body);
    return;
  }
  const reason = 'SoftHSM2 is not installed (apt-get install softhsm2, or set BULWARK_SOFTHSM2_LIBRARY)';
  if (process.env.CI === 'true') {
    describe(title, () => {
      it('needs SoftHSM2', () => {
        throw new Error(`${reason}; with CI=true a missing SoftHSM2 is a failure`);
      });
    });
    return;
  }
  console.warn(`skipped "${title}": ${reason} (set CI=true to make this a failure)`);
  describe.skip(title, body);
}

export interface SoftHsmToken {
  library: string;
  tokenLabel: string;
  pin: string;
  /** Environment for a child process that opens the same token. */
  env: NodeJS.ProcessEnv;
  /** A temporary directory of this test file's own (key stores…). */
  dir: string;
  remove(): void;
}

/**
 * Initialises a token of this test file's own, under a unique label, in the run's private token
 * directory (SOFTHSM2_CONF, set by global-setup.js before the workers started).
 */
export function createSoftHsmToken(name: string, pin = '4711-test-pin'): SoftHsmToken {
  const library = softHsmLibrary()!;
  const conf = process.env.SOFTHSM2_CONF;
  if (conf === undefined || process.env.BULWARK_TEST_SOFTHSM_DIR === undefined) {
    throw new Error(
      'SOFTHSM2_CONF is not set: run the suite with packages/kms/jest.config.js (its global setup makes the token directory)',
    );
  }
  const tokenLabel = `${name}-${randomBytes(4).toString('hex')}`.slice(0, 32);
  execFileSync(
    'softhsm2-util',
    ['--init-token', '--free', '--label', tokenLabel, '--so-pin', 'so-pin-0000', '--pin', pin],
    {
      env: process.env,
      stdio: 'ignore',
    },
  );
  const dir = mkdtempSync(join(tmpdir(), 'bulwark-kms-test-'));
  return {
    library,
    tokenLabel,
    pin,
    env: { ...process.env },
    dir,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
