/** Removes the token directory global-setup.js made. */
const { rmSync } = require('node:fs');

module.exports = async () => {
  const dir = process.env.BULWARK_TEST_SOFTHSM_DIR;
  if (dir !== undefined && dir.includes('bulwark-softhsm-')) rmSync(dir, { recursive: true, force: true });
};
