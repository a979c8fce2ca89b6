import { Readable } from 'node:stream';
import type { CliIo } from '../src/cli-io';
import { runCli } from '../src/run-cli';

export interface Run {
  code: number;
  out: string;
  err: string;
}

/** Runs `bulwark ...argv` in-process in `cwd`; `io` overrides (env, TTY flags). */
export async function bulwark(
  cwd: string,
  argv: string[],
  io: Partial<CliIo> & { stdinText?: string } = {},
): Promise<Run> {
  let out = '';
  let err = '';
  const { stdinText, ...rest } = io;
  const code = await runCli(argv, {
    stdout: (t) => (out += t),
    stderr: (t) => (err += t),
    env: {},
    cwd,
    ...(stdinText === undefined ? {} : { stdin: Readable.from([stdinText]) }),
    ...rest,
  });
  return { code, out, err };
}
