/**
 * Shared jest settings for every package. Tests run from TypeScript sources through ts-jest;
 * ESM-only dependencies (jose 6) are transpiled to CommonJS for jest's module system, while at
 * run time Node >= 20.19 loads them with require(esm).
 */
const path = require('node:path');

module.exports = (dir) => ({
  rootDir: dir,
  displayName: path.basename(dir),
  testEnvironment: 'node',
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  transform: {
    '^.+\\.tsx?$': ['ts-jest', { tsconfig: path.join(dir, 'tsconfig.json') }],
    '^.+\\.m?js$': ['ts-jest', { tsconfig: { allowJs: true, module: 'commonjs' } }],
  },
  transformIgnorePatterns: [
    '/node_modules/(?!(jose|inversify|@inversifyjs|@nestjs|openid-client|oauth4webapi)/)',
  ],
  moduleNameMapper: {
    '^@bulwark/([a-z-]+)$': path.join(__dirname, 'packages/$1/src/index.ts'),
    // subpath entries (package.json "exports"): '@bulwark/core/http' -> src/http/index.ts,
    // '@bulwark/core/store' -> src/store.ts
    '^@bulwark/([a-z-]+)/([a-z-]+)$': path.join(__dirname, 'packages/$1/src/$2'),
  },
  globalSetup: path.join(__dirname, 'test/support/global-setup.js'),
  testTimeout: 30000,
});
