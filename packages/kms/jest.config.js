const path = require('node:path');

module.exports = {
  ...require('../../jest.preset.js')(__dirname),
  // A private SoftHSM2 token directory for the run (SOFTHSM2_CONF must be set before the workers start).
  globalSetup: path.join(__dirname, 'test/support/global-setup.js'),
  globalTeardown: path.join(__dirname, 'test/support/global-teardown.js'),
};
