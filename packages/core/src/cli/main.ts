import { BulwarkConfigError, BulwarkError } from '../errors';
import { ExitCode, UsageError, type CliIo } from './cli-io';
import { auditCommand } from './audit-command';
import { keysCommand } from './keys-command';
import { reportCommand } from './report-command';

export const MAIN_HELP = `Usage: bulwark <command> [options]

Commands:
  keys      Manage data keys: master, generate, rotate, retire, list, check
  audit     Tamper-evident audit log: append, verify, prove, checkpoint, tail, export, keygen
  report    Compliance report from live evidence (--framework, --format json|md|html|oscal)

Run "bulwark <command> --help" for a command's options.
Exit codes: 0 ok, 1 check failed, 2 usage or configuration error.`;

type Command = (argv: string[], io: CliIo) => Promise<number>;

const COMMANDS: Record<string, Command> = {
  keys: keysCommand,
  audit: auditCommand,
  report: reportCommand,
};

/** Runs the CLI in-process and returns the exit code; never throws. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    io.stdout(MAIN_HELP + '\n');
    return command === undefined ? ExitCode.USAGE : ExitCode.OK;
  }
  if (command === '--version' || command === '-v') {
    io.stdout(require('../../package.json').version + '\n');
    return ExitCode.OK;
  }
  const run = COMMANDS[command];
  if (!run) {
    io.stderr(`bulwark: unknown command "${command}"\n\n${MAIN_HELP}\n`);
    return ExitCode.USAGE;
  }
  try {
    return await run(rest, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr(`bulwark ${command}: ${err.message}\n${err.help ? '\n' + err.help + '\n' : ''}`);
      return ExitCode.USAGE;
    }
    if (err instanceof BulwarkError) {
      // Bulwark messages never carry key material or personal data, so they are safe to print.
      io.stderr(`bulwark ${command}: ${err.message} [${err.code}]\n`);
      return err instanceof BulwarkConfigError || isConfigLike(err.code)
        ? ExitCode.USAGE
        : ExitCode.CHECK_FAILED;
    }
    io.stderr(`bulwark ${command}: unexpected error: ${(err as Error)?.message ?? String(err)}\n`);
    return ExitCode.CHECK_FAILED;
  }
}

/** Codes that mean "fix your configuration or arguments" rather than "a check failed". */
function isConfigLike(code: string): boolean {
  return (
    code === 'ERR_CRYPTO_KEY_PROVIDER' ||
    code === 'ERR_CRYPTO_KEY_FILE_INSECURE' ||
    code === 'ERR_CRYPTO_INVALID_ARGUMENT' ||
    code === 'ERR_CONFIG_INVALID' ||
    code === 'ERR_AUDIT_INVALID_QUERY' ||
    code === 'ERR_AUDIT_INVALID_ARGUMENT'
  );
}
