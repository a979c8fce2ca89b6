// `bulwark audit prove`: argument checks, proofs from the persisted Merkle node cache and their
// output. Imports only @bulwark/core/audit-proof (the cache and the errors), so that a warm
// `bulwark audit prove --file` answers without loading the audit engine (issue 15: under 100 ms
// at 1M entries, most of which is Node's start-up; test/cli-startup.test.ts pins what it loads).
import { promises as fs } from 'node:fs';
import { MerkleNodeCache } from '@bulwark/core/audit-proof';
import { ExitCode, UsageError, type CliIo } from './cli-io';
import { parseCommandLine } from './command-line';
import { AUDIT_COMMAND, auditDb, auditLogFile, positiveInt, type Values } from './audit-spec';
import { readHmacKey } from './audit-hmac-key';
import { startProgress } from './progress';

export interface ProveArgs {
  fromSize?: number;
  toSizeArg?: number;
  seq?: number;
  sizeArg?: number;
}

/** `prove`'s positionals and options, checked (usage errors before any log is read). */
export function proveArgs(rest: string[], values: Values): ProveArgs {
  const hint = 'bulwark audit prove --help';
  const fromSize = values.consistency ? positiveInt(rest[0], '<from>') : undefined;
  const toSizeArg = values.consistency ? positiveInt(rest[1], '<to>') : undefined;
  const seq = values.consistency ? undefined : positiveInt(rest[0], '<seq>');
  const sizeArg = positiveInt(values.size, '--size');
  if (values.consistency && fromSize === undefined) {
    throw new UsageError('prove --consistency needs <from> [<to>]', hint);
  }
  if (!values.consistency && seq === undefined) throw new UsageError('prove needs <seq>', hint);
  if (values.consistency && sizeArg !== undefined) {
    throw new UsageError('--size is for an inclusion proof; with --consistency give <from> [<to>]', hint);
  }
  return { fromSize, toSizeArg, seq, sizeArg };
}

/**
 * Proves from `<logPath>.merkle/` (brought up to date first: reads only the entries appended since
 * the last proof). Undefined when the cache cannot be written next to the log (read-only
 * directory): the caller then reads the whole log.
 */
export async function proveFromCache(
  logPath: string,
  args: ProveArgs,
  io: CliIo,
  entries?: number,
): Promise<number | undefined> {
  let cache: MerkleNodeCache | undefined;
  const reading = startProgress(io, 'prove: reading the log', 'entries', false);
  try {
    cache = await MerkleNodeCache.sync(logPath, { onProgress: (n) => reading.update(n, entries) });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EACCES' && code !== 'EROFS' && code !== 'EPERM') throw err;
    io.stderr(`note: cannot write the Merkle node cache next to the log (${code}); reading the whole log\n`);
    return undefined;
  } finally {
    reading.end();
  }
  try {
    return printProof(
      cache.size,
      (s) => cache.consistency(args.fromSize!, s),
      (q, s) => cache.inclusion(q, s),
      args,
      io,
    );
  } finally {
    cache.close();
  }
}

/**
 * `bulwark audit prove ...` on a JSON-lines log whose Merkle node cache exists (every proof after
 * the first): answered here, before audit-command.ts and the audit engine load. Undefined for
 * anything else (another subcommand, --help, --db, no cache yet, extra arguments, a log or cache
 * that does not open cleanly): the full command then runs, with its own checks and messages.
 */
export async function fastProve(argv: string[], io: CliIo): Promise<number | undefined> {
  let parsed: ReturnType<typeof parseCommandLine<typeof AUDIT_COMMAND.options>>;
  try {
    parsed = parseCommandLine(argv, AUDIT_COMMAND);
  } catch {
    return undefined; // the full command reports the usage error
  }
  const { sub, values, positionals: rest, help } = parsed;
  if (sub?.name !== 'prove' || help || auditDb(values, io) !== undefined) return undefined;
  if (rest.length > (values.consistency ? 2 : 1)) return undefined;
  const args = proveArgs(rest, values);
  await readHmacKey(values, io); // refused as the full command refuses it (the cache does not need it)
  const logPath = auditLogFile(values, io);
  try {
    await fs.access(`${logPath}.merkle/head.json`);
  } catch {
    return undefined; // first proof: the full command reads the log with a progress total
  }
  let cache: MerkleNodeCache;
  try {
    cache = await MerkleNodeCache.sync(logPath);
  } catch {
    return undefined; // the full command opens the log first and reports what is wrong with it
  }
  try {
    return printProof(
      cache.size,
      (s) => cache.consistency(args.fromSize!, s),
      (q, s) => cache.inclusion(q, s),
      args,
      io,
    );
  } finally {
    cache.close();
  }
}

export function printProof(
  logSize: number,
  consistency: (toSize: number) => unknown,
  inclusion: (seq: number, size: number) => unknown,
  args: ProveArgs,
  io: CliIo,
): number {
  if (args.fromSize !== undefined) {
    const toSize = args.toSizeArg ?? logSize;
    checkSize(toSize, logSize);
    if (args.fromSize > toSize) throw new UsageError(`<from> ${args.fromSize} is beyond <to> ${toSize}`);
    io.stdout(JSON.stringify(consistency(toSize), null, 2) + '\n');
  } else {
    const size = args.sizeArg ?? logSize;
    checkSize(size, logSize);
    if (args.seq! > size) throw new UsageError(`seq ${args.seq} is beyond tree size ${size}`);
    io.stdout(JSON.stringify(inclusion(args.seq!, size), null, 2) + '\n');
  }
  return ExitCode.OK;
}

function checkSize(size: number, logSize: number): void {
  if (size > logSize) throw new UsageError(`tree size ${size} is beyond the log's size ${logSize}`);
}
