/** Root jest config: one project per package, plus cross-package suites in test/. */
const fs = require('node:fs');
const path = require('node:path');

const projects = fs
  .readdirSync(path.join(__dirname, 'packages'))
  .filter((name) => fs.existsSync(path.join(__dirname, 'packages', name, 'jest.config.js')))
  .map((name) => `<rootDir>/packages/${name}`);
// Extra runs of a package's suites under another config (e.g. @bulwark/express against Express 4).
for (const project of [...projects]) {
  const dir = project.replace('<rootDir>', __dirname);
  for (const file of fs.readdirSync(dir).filter((f) => /^jest\..+\.config\.js$/.test(f))) {
    projects.push(`${project}/${file}`);
  }
}
if (fs.existsSync(path.join(__dirname, 'test', 'jest.config.js'))) projects.push('<rootDir>/test');

// `testTimeout` is a global option: the projects' own (jest.preset.js) apply only when a package is
// run alone, so the whole-repo run needs it here too (suites that start servers and child processes
// run for seconds on a loaded 2-core CI machine; the limit only stops a hung test).
module.exports = { projects, testTimeout: 30000 };
