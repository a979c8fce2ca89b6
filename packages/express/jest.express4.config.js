/**
 * The same suites against Express 4 (installed as the `express4` alias): the peer range is
 * "^4.21.0 || ^5.1.0" and both majors are tested.
 */
const base = require('./jest.config.js');

module.exports = {
  ...base,
  displayName: 'express@4',
  globals: { ...base.globals, BULWARK_EXPRESS_MAJOR: 4 },
  moduleNameMapper: { '^express$': 'express4', ...base.moduleNameMapper },
};
