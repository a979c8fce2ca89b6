const path = require('node:path');
const preset = require('../jest.preset.js')(path.join(__dirname));

// Cross-package end-to-end suites: they drive the BUILT packages (`npm test` builds first).
module.exports = {
  ...preset,
  rootDir: __dirname,
  displayName: 'e2e',
  testMatch: ['<rootDir>/**/*.test.ts'],
  transform: {
    '^.+\\.tsx?$': ['ts-jest', { tsconfig: path.join(__dirname, 'tsconfig.json') }],
    // The NestJS example loads ESM-only NestJS 12: the same transform as @bulwark/nestjs's tests.
    '^.+\\.m?js$': [
      path.join(__dirname, '../packages/nestjs/jest.esm-transform.js'),
      { tsconfig: { allowJs: true, module: 'commonjs' } },
    ],
  },
};
