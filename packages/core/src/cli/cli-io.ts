/** Where a CLI command writes and reads; injected so commands run in-process under test. */
export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  stdin?: NodeJS.ReadableStream;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

/** Exit codes shared by every `bulwark` command. */
export const ExitCode = {
  OK: 0,
  /** A check failed: tamper found, a key does not unwrap, a verification did not pass. */
  CHECK_FAILED: 1,
  /** Bad usage or configuration: unknown command, missing option, unreadable config. */
  USAGE: 2,
} as const;

/** Thrown by command parsers for bad usage; main() prints it with the command's help and exits 2. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly help?: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}
