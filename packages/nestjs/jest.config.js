const path = require('node:path');

const preset = require('../../jest.preset.js')(__dirname);

// NestJS 12 is ESM-only and a few of its files use `import.meta.url`, which the preset's plain
// ts-jest transform cannot turn into CommonJS; jest.esm-transform.js rewrites it first.
module.exports = {
  ...preset,
  transform: {
    ...preset.transform,
    '^.+\\.m?js$': [
      path.join(__dirname, 'jest.esm-transform.js'),
      { tsconfig: { allowJs: true, module: 'commonjs' } },
    ],
  },
};
