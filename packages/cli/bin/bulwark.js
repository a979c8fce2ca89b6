#!/usr/bin/env node
// The `bulwark` command. Committed (not built) so that npm can link it at install time, before
// `npm run build` has produced dist/; it loads the compiled CLI from dist/.
'use strict';

const fs = require('node:fs');
const path = require('node:path');

const entry = path.join(__dirname, '..', 'dist', 'bin.js');
if (!fs.existsSync(entry)) {
  process.stderr.write(
    `bulwark: the CLI is not built (${path.relative(process.cwd(), entry) || entry} is missing).\n` +
      'In a clone of the Bulwark repository, run `npm run build` (or `npm start`) first.\n',
  );
  process.exitCode = 2;
} else {
  require(entry).main();
}
