/**
 * SoftHSM2 reads its config path from the SOFTHSM2_CONF environment variable when a process first
 * initialises the library. Jest gives each test file a copy of process.env, so a test cannot
 * point its own process at a token directory: this global setup (run in jest's parent process,
 * before the workers start) creates an empty, private token directory and config for the run.
 * Each test file then initialises its own token there, under a unique label. The machine's own
 * SoftHSM2 tokens (/var/lib/softhsm) are never touched.
 */
const { mkdirSync, mkdtempSync, writeFileSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const shared = require('../../../../test/support/global-setup.js');

module.exports = async () => {
  await shared();
  if (process.env.BULWARK_TEST_SOFTHSM_DIR !== undefined) return;
  const dir = mkdtempSync(join(tmpdir(), 'bulwark-softhsm-'));
  mkdirSync(join(dir, 'tokens'));
  const conf = join(dir, 'softhsm2.conf');
  writeFileSync(
    conf,
    `directories.tokendir = ${join(dir, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`,
  );
  process.env.SOFTHSM2_CONF = conf;
  process.env.BULWARK_TEST_SOFTHSM_DIR = dir;
};
