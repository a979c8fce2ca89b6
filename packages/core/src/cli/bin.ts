#!/usr/bin/env node
import { runCli } from './main';

runCli(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  stdin: process.stdin,
  env: process.env,
  cwd: process.cwd(),
}).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`bulwark: ${(err as Error)?.message ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
