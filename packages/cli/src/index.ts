/**
 * `@bulwark/cli`: the `bulwark` command. The command line is the interface; `runCli` runs it
 * in-process (tests, wrappers) with injected streams and returns the exit code.
 */
export { runCli } from './run-cli';
export { ExitCode, type CliIo } from './cli-io';
