// What `bulwark audit` accepts (options, subcommands, help), apart from what it does: the prove
// fast path (audit-prove.ts) parses the same command line without loading the audit engine.
import * as path from 'node:path';
import { UsageError, type CliIo } from './cli-io';
import type { CommandSpec, OptionValues } from './command-line';

const OPTIONS = {
  file: {
    type: 'string',
    arg: 'FILE',
    help: 'JSON-lines log (default: $BULWARK_AUDIT_FILE or .bulwark/audit.jsonl)',
  },
  db: {
    type: 'string',
    arg: 'URL|PATH',
    help:
      'SQL log instead: a postgres:// URL or a SQLite file (default: $BULWARK_AUDIT_DB when\n' +
      'set; needs @bulwark/typeorm, typeorm and the driver, pg or better-sqlite3)',
  },
  checkpoints: {
    type: 'string',
    arg: 'FILE',
    help: 'Checkpoint file (default: <log file>.checkpoints, or\n.bulwark/audit-checkpoints.jsonl with --db)',
  },
  'signing-key': { type: 'string', arg: 'FILE', help: 'Private Ed25519 JWK (from `bulwark audit keygen`)' },
  'public-key': { type: 'string', arg: 'FILE', help: 'Public Ed25519 JWK the checkpoints must verify with' },
  'hmac-key-file': {
    type: 'string',
    arg: 'FILE',
    help: "HMAC key of the log's leaf hashes (default: $BULWARK_AUDIT_HMAC_KEY)",
  },
  'from-checkpoint': {
    type: 'boolean',
    help: 'Incremental: check only what was appended since the latest checkpoint',
  },
  export: {
    type: 'string',
    arg: 'FILE',
    help: 'Also write a portable copy of the checkpoint (with the public key)',
  },
  consistency: {
    type: 'boolean',
    help: 'Consistency proof between tree sizes <from> and <to> (default: now)',
  },
  size: { type: 'string', arg: 'N', help: 'Prove against the past tree size N (default: the current size)' },
  n: { type: 'string', short: 'n', arg: 'N', help: 'Number of entries (default 10)' },
  follow: { type: 'boolean', help: 'Keep printing new entries (Ctrl-C to stop)' },
  actor: { type: 'string', arg: 'ID', help: 'Filter: actor id' },
  action: { type: 'string', arg: 'ACTION', help: 'Filter: action, or a prefix ending in * (patient.*)' },
  'resource-type': { type: 'string', arg: 'TYPE', help: 'Filter: resource type' },
  'resource-id': { type: 'string', arg: 'ID', help: 'Filter: resource id' },
  outcome: { type: 'string', arg: 'OUTCOME', help: 'Filter: success, failure or denied' },
  category: { type: 'string', arg: 'CATEGORY', help: 'Filter: category' },
  from: { type: 'string', arg: 'TIME', help: 'Filter: at or after TIME (ISO 8601)' },
  to: { type: 'string', arg: 'TIME', help: 'Filter: before TIME (ISO 8601)' },
  format: {
    type: 'string',
    arg: 'FORMAT',
    help: 'export: jsonl (default), json, ocsf (OCSF 1.2 events), syslog (RFC 5424); report: md (default), json, html',
  },
  'min-severity': { type: 'string', arg: 'SEVERITY', help: 'Filter: at least low, medium, high or critical' },
  'min-risk': { type: 'string', arg: 'N', help: 'Filter: detector risk score at least N (0-100)' },
  out: { type: 'string', arg: 'FILE', help: 'Where to write the private key (mode 0600)' },
  json: { type: 'boolean', help: 'Machine-readable output (no progress line)' },
  record: {
    type: 'boolean',
    help: 'Also append the result as an audit.verified entry (takes the writer lock; reads the log\nagain to append)',
  },
} as const;

export type Values = OptionValues<typeof OPTIONS>;

const LOG = ['file', 'db'] as const;

export const AUDIT_COMMAND: CommandSpec<typeof OPTIONS> = {
  name: 'bulwark audit',
  description:
    'Work with a tamper-evident audit log: a JSON-lines file (--file) or a SQL database (--db).\n' +
    'verify, prove, tail and export open a --file log read-only, so they run next to the\n' +
    'application that writes it; append and checkpoint need the writer lock.',
  options: OPTIONS,
  subcommands: [
    {
      name: 'append',
      summary: 'Append events read as JSON lines on stdin; prints one seq per event',
      details: 'A malformed line appends nothing. Exit 2 if an event is refused.',
      options: [...LOG, 'hmac-key-file'],
    },
    {
      name: 'verify',
      summary: 'Recompute every hash, link and the Merkle root, check checkpoints',
      details:
        'Exit 1 naming the first bad sequence number. Checkpoints found next to the log must be\n' +
        'verified: pass --public-key (or --signing-key). --json prints the report: treeSize is the\n' +
        'number of entries the log holds, verifiedTreeSize (and root) cover the entries before the\n' +
        'first fault.',
      options: [
        ...LOG,
        'checkpoints',
        'public-key',
        'signing-key',
        'hmac-key-file',
        'from-checkpoint',
        'json',
        'record',
      ],
    },
    {
      name: 'prove',
      args: '<seq> | --consistency <from> [<to>]',
      summary: 'Inclusion or consistency proof (JSON)',
      details:
        'prove <seq> [--size N]: that entry <seq> is in the tree of size N (default: now).\n' +
        'prove --consistency <from> [<to>]: that the tree of size <to> extends the one of size <from>.\n' +
        'Check proofs with AuditLog.verifyInclusion / AuditLog.verifyConsistency.',
      options: [...LOG, 'hmac-key-file', 'size', 'consistency'],
    },
    {
      name: 'checkpoint',
      summary: 'Verify, then sign the current tree head (Ed25519 JWS) and save it',
      details: 'Refuses to sign a log that does not verify (exit 1).',
      options: [...LOG, 'checkpoints', 'signing-key', 'hmac-key-file', 'export', 'json'],
    },
    {
      name: 'tail',
      summary: 'Print the last -n entries as JSON lines',
      options: [...LOG, 'n', 'follow'],
    },
    {
      name: 'export',
      summary: 'Print matching entries (JSON lines, or --format json)',
      details:
        'Filters combine (AND). A log that does not open cleanly is refused: run `bulwark audit verify`.',
      options: [
        ...LOG,
        'actor',
        'action',
        'resource-type',
        'resource-id',
        'outcome',
        'category',
        'from',
        'to',
        'min-severity',
        'min-risk',
        'format',
      ],
    },
    {
      name: 'report',
      summary:
        'Security report over a period (--from, --to; --format md|json|html); also `bulwark security-report`',
      details:
        'Sign-ins and failures, lockouts, denials by route and subject, break-glass grants and uses,\n' +
        'violations by rule, data-subject requests, alert deliveries, per-day trends, top actors. Each\n' +
        'figure names the `bulwark audit export` line that lists its entries. HTML is self-contained.',
      options: [...LOG, 'from', 'to', 'format'],
    },
    {
      name: 'repair',
      args: '[FILE]',
      summary: 'Cut a torn last line (an interrupted write) off a JSON-lines log, after a backup',
      details:
        'For a log that verify reports as TORN TAIL. Takes the writer lock (stop the application\n' +
        'first), copies the whole log to <FILE>.bak-<time>, moves the partial line to\n' +
        '<FILE>.torn-<time> and truncates it. The line was never acknowledged: no accepted event is\n' +
        'lost. Nothing to repair: exit 0, no copy. A full disk: exit 3 [ERR_AUDIT_NO_SPACE], nothing\n' +
        'changed; free space and run it again.',
      options: ['file', 'json'],
    },
    {
      name: 'keygen',
      args: '--out FILE',
      summary: 'New Ed25519 checkpoint key: private JWK to FILE (0600), public JWK printed',
      options: ['out'],
    },
  ],
};

/** The SQL log to open (--db, else $BULWARK_AUDIT_DB when no --file), or undefined for a file log. */
export function auditDb(values: Values, io: CliIo): string | undefined {
  const db = values.db ?? (values.file === undefined ? io.env.BULWARK_AUDIT_DB : undefined);
  return db !== undefined && db !== '' ? db : undefined;
}

/** The JSON-lines log: --file, else $BULWARK_AUDIT_FILE, else .bulwark/audit.jsonl. */
export function auditLogFile(values: Values, io: CliIo): string {
  return path.resolve(
    io.cwd,
    values.file ?? io.env.BULWARK_AUDIT_FILE ?? path.join('.bulwark', 'audit.jsonl'),
  );
}

/** A positive integer argument, or undefined when absent; a usage error otherwise. */
export function positiveInt(raw: string | undefined, name: string): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!/^[0-9]+$/.test(raw) || !Number.isSafeInteger(n) || n < 1) {
    throw new UsageError(`${name} must be a positive integer, got "${raw}"`);
  }
  return n;
}
