/** Where a CLI command writes and reads; injected so commands run in-process under test. */
export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  stdin?: NodeJS.ReadableStream;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /**
   * stderr is an interactive terminal: operations that run longer than `progressDelayMs` (verify,
   * prove, checkpoint, export) draw a progress line there. Default false (pipes, CI, tests).
   */
  stderrIsTTY?: boolean;
  /** stdout is a terminal (export then shows no progress line: its output is the progress). */
  stdoutIsTTY?: boolean;
  /** How long an operation runs before its progress line appears. Default 1000 ms. */
  progressDelayMs?: number;
}

/** Exit codes shared by every `bulwark` command (documented in the package README). */
export const ExitCode = {
  OK: 0,
  /** A check failed: tampering found, a key does not unwrap, a control did not pass. */
  CHECK_FAILED: 1,
  /** Bad usage or configuration: unknown command or option, missing option, unreadable file. */
  USAGE: 2,
  /**
   * The command could not run to a verdict: an unexpected error (a database that does not
   * answer, an I/O failure, a bug). Never means "tampering found": nothing was checked.
   */
  ERROR: 3,
} as const;

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/**
 * Bad usage, thrown by command parsers. `runCli` prints the message and a pointer to the help of
 * the command concerned (`hint`, e.g. `bulwark audit verify --help`) and exits 2.
 */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}
