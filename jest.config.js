/** Root jest config: one project per package, plus cross-package suites in test/. */
const fs = require('node:fs');
const path = require('node:path');

const projects = fs
  .readdirSync(path.join(__dirname, 'packages'))
  .filter((name) => fs.existsSync(path.join(__dirname, 'packages', name, 'jest.config.js')))
  .map((name) => `<rootDir>/packages/${name}`);
if (fs.existsSync(path.join(__dirname, 'test', 'jest.config.js'))) projects.push('<rootDir>/test');

module.exports = { projects };
