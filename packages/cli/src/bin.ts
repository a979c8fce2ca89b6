import { runCli } from './run-cli';

/** Runs `bulwark` on this process's arguments and streams (called by bin/bulwark.js). */
export function main(): void {
  runCli(process.argv.slice(2), {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    stdin: process.stdin,
    env: process.env,
    cwd: process.cwd(),
    stderrIsTTY: process.stderr.isTTY === true,
    stdoutIsTTY: process.stdout.isTTY === true,
  }).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      // runCli never throws; this is the last line of defence.
      process.stderr.write(`bulwark: ${(err as Error)?.message ?? String(err)}\n`);
      process.exitCode = 3;
    },
  );
}
