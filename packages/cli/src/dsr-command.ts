import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import {
  BulwarkConfigError,
  ErrorCodes,
  erasureSubjectRef,
  verifyErasureReceipt,
  type DataSubjectRequest,
  type DataSubjectRequests,
  type DsrStatus,
  type DsrType,
} from '@bulwark/core';
import { writeFileAtomic } from '@bulwark/core/store';
import { ExitCode, UsageError, type CliIo } from './cli-io';
import { parseCommandLine, renderHelp, type CommandSpec } from './command-line';
import { closeConfig, loadConfigModule } from './config-module';
import { readJwkFile } from './kit-config';

const STATUSES: readonly DsrStatus[] = [
  'received',
  'identity-verified',
  'in-progress',
  'completed',
  'rejected',
];
const TYPES: readonly DsrType[] = ['access', 'portability', 'erasure', 'rectification'];
const FORMATS = ['json', 'csv', 'xml'] as const;

const OPTIONS = {
  config: {
    type: 'string',
    arg: 'FILE',
    help: 'A module returning your DataSubjectRequests (or { dsr }, e.g. the createBulwark kit)',
  },
  status: { type: 'string', arg: 'S[,S]', help: `list: only these statuses (${STATUSES.join(', ')})` },
  type: { type: 'string', arg: 'TYPE', help: `list: only this type (${TYPES.join(', ')})` },
  overdue: { type: 'boolean', help: 'list: only open requests past their (extended) deadline' },
  format: { type: 'string', arg: 'F[,F]', help: 'export: json (default), csv, xml' },
  out: { type: 'string', arg: 'PATH', help: 'export: directory for the files; erase: file for the receipt' },
  'public-key': { type: 'string', arg: 'FILE', help: "receipt-verify: the signer's public Ed25519 JWK" },
  'request-id': { type: 'string', arg: 'ID', help: 'receipt-verify: check the receipt is for this request' },
  'subject-id': {
    type: 'string',
    arg: 'ID',
    help: "receipt-verify: check the receipt is this subject's (with --request-id)",
  },
  json: { type: 'boolean', help: 'Machine-readable output' },
} as const;

export const DSR_COMMAND: CommandSpec<typeof OPTIONS> = {
  name: 'bulwark dsr',
  description:
    'Data-subject requests (GDPR Art. 15-17, 20) from the command line, over the same store as the\n' +
    'app. --config names a CommonJS module whose function (module.exports, default or\n' +
    'createDataSubjectRequests; called with { env, cwd }) returns the DataSubjectRequests service,\n' +
    'or an object with it as `dsr` (the createBulwark kit) and an optional close().\n' +
    'Subject identifiers are personal data: no command prints one (requests show their subjectRef).',
  options: OPTIONS,
  subcommands: [
    {
      name: 'list',
      summary: 'Requests with their status and legal deadline',
      options: ['config', 'status', 'type', 'overdue', 'json'],
    },
    {
      name: 'show',
      args: '<requestId>',
      summary: 'One request: status, deadlines, extensions, history',
      options: ['config', 'json'],
    },
    {
      name: 'export',
      args: '<requestId> --out DIR',
      summary: "Run an access / portability request: write the subject's data (mode 0600)",
      details:
        'Completes the request. The files hold personal data: deliver them securely, then delete them.',
      options: ['config', 'format', 'out', 'json'],
    },
    {
      name: 'erase',
      args: '<requestId>',
      summary: 'Run an erasure request (sources, crypto-shredding, audit redaction, receipt)',
      details:
        'A failing data source leaves the request in progress (exit 1): erasers are idempotent, run it\n' +
        'again. With --out FILE the signed receipt (if a receipt signer is configured) is written there.',
      options: ['config', 'out', 'json'],
    },
    {
      name: 'receipt-verify',
      args: '<receiptFile> --public-key FILE',
      summary: 'Verify a signed erasure receipt (no config needed)',
      details:
        'Exit 0 when the signature verifies (and, with --request-id / --subject-id, the receipt is\n' +
        'for that request and subject); exit 1 when it does not. The file holds the compact JWS, or\n' +
        'JSON with a `receipt` field.',
      options: ['public-key', 'request-id', 'subject-id', 'json'],
    },
  ],
};

export const DSR_HELP = renderHelp(DSR_COMMAND);

type Dsr = Pick<DataSubjectRequests, 'list' | 'get' | 'overdue' | 'export' | 'erase'>;

function asDsr(value: unknown): Dsr | undefined {
  const ok = (v: unknown): v is Dsr =>
    v !== null &&
    typeof v === 'object' &&
    ['list', 'get', 'overdue', 'export', 'erase'].every(
      (m) => typeof (v as Record<string, unknown>)[m] === 'function',
    );
  if (ok(value)) return value;
  const inner = (value as { dsr?: unknown } | null)?.dsr;
  return ok(inner) ? inner : undefined;
}

export async function dsrCommand(argv: string[], io: CliIo): Promise<number> {
  const { sub, values, positionals, help } = parseCommandLine(argv, DSR_COMMAND);
  if (sub === undefined) {
    io.stdout(DSR_HELP);
    return help ? ExitCode.OK : ExitCode.USAGE;
  }
  if (help) {
    io.stdout(renderHelp(DSR_COMMAND, sub));
    return ExitCode.OK;
  }
  const hint = `bulwark dsr ${sub.name} --help`;
  const needsArg = sub.name !== 'list';
  if (needsArg && positionals.length === 0) {
    throw new UsageError(`dsr ${sub.name} needs ${sub.args?.split(' ')[0] ?? 'an argument'}`, hint);
  }
  if (positionals.length > (needsArg ? 1 : 0)) {
    throw new UsageError(`unexpected argument "${positionals[positionals.length - 1]}"`, hint);
  }
  if (sub.name === 'receipt-verify') return receiptVerify(positionals[0]!, values, io, hint);

  const statuses = values.status?.split(',').map((s) => s.trim());
  if (statuses?.some((s) => !STATUSES.includes(s as DsrStatus))) {
    throw new UsageError(
      `--status takes ${STATUSES.join(', ')} (comma-separated), got "${values.status}"`,
      hint,
    );
  }
  if (values.type !== undefined && !TYPES.includes(values.type as DsrType)) {
    throw new UsageError(`--type takes one of ${TYPES.join(', ')}, got "${values.type}"`, hint);
  }
  const formats = (values.format ?? 'json').split(',').map((f) => f.trim());
  if (formats.some((f) => !(FORMATS as readonly string[]).includes(f))) {
    throw new UsageError(
      `--format takes ${FORMATS.join(', ')} (comma-separated), got "${values.format}"`,
      hint,
    );
  }
  if (sub.name === 'export' && values.out === undefined) {
    throw new UsageError('dsr export needs --out DIR (the files hold personal data: never printed)', hint);
  }
  if (values.config === undefined) {
    throw new UsageError('--config is required: a module that returns your DataSubjectRequests', hint);
  }
  const config = await loadConfigModule(
    path.resolve(io.cwd, values.config),
    io,
    hint,
    'createDataSubjectRequests',
  );
  try {
    const dsr = asDsr(config);
    if (dsr === undefined) {
      throw new UsageError(
        `--config ${values.config} must return a DataSubjectRequests service or an object with it as \`dsr\``,
        hint,
      );
    }
    const requestId = positionals[0];
    switch (sub.name) {
      case 'list': {
        let requests = values.overdue
          ? await dsr.overdue()
          : await dsr.list({
              ...(statuses === undefined ? {} : { status: statuses as DsrStatus[] }),
              ...(values.type === undefined ? {} : { type: values.type as DsrType }),
            });
        if (values.overdue) {
          requests = requests.filter(
            (r) =>
              (statuses === undefined || statuses.includes(r.status)) &&
              (values.type === undefined || r.type === values.type),
          );
        }
        const shown = requests.map(publicView);
        if (values.json) io.stdout(JSON.stringify(shown, null, 2) + '\n');
        else io.stdout(formatTable(requests, new Date()));
        return ExitCode.OK;
      }
      case 'show': {
        const request = await dsr.get(requestId!);
        if (request === undefined) throw notFound(requestId!);
        if (values.json) io.stdout(JSON.stringify(publicView(request), null, 2) + '\n');
        else io.stdout(formatRequest(request));
        return ExitCode.OK;
      }
      case 'export': {
        if ((await dsr.get(requestId!)) === undefined) throw notFound(requestId!);
        const { request, files } = await dsr.export(requestId!, {
          formats: formats as (typeof FORMATS)[number][],
        });
        const dir = path.resolve(io.cwd, values.out!);
        await fs.mkdir(dir, { recursive: true, mode: 0o700 });
        const written: string[] = [];
        for (const file of files) {
          const target = path.join(dir, path.basename(file.filename));
          await writeFileAtomic(target, file.body, 0o600);
          written.push(target);
        }
        if (values.json)
          io.stdout(JSON.stringify({ request: publicView(request), files: written }, null, 2) + '\n');
        else {
          io.stdout(
            `request ${request.id}: ${request.status}; wrote ${written.length} file(s) (mode 0600):\n`,
          );
          for (const f of written) io.stdout(`  ${path.relative(io.cwd, f) || f}\n`);
        }
        return ExitCode.OK;
      }
      default: {
        // erase
        if ((await dsr.get(requestId!)) === undefined) throw notFound(requestId!);
        const result = await dsr.erase(requestId!);
        if (values.out !== undefined && result.receipt !== undefined) {
          await writeFileAtomic(path.resolve(io.cwd, values.out), result.receipt + '\n', 0o600);
        }
        if (values.json) {
          io.stdout(
            JSON.stringify(
              {
                request: publicView(result.request),
                summary: result.summary,
                auditHeld: result.auditHeld,
                auditPreserved: result.auditPreserved,
                receipt: result.receipt !== undefined,
              },
              null,
              2,
            ) + '\n',
          );
        } else {
          const s = result.summary;
          io.stdout(
            `request ${result.request.id}: ${result.request.status}; sources erased: ${s.sourcesErased.join(', ') || 'none'}; ` +
              `key shredded: ${s.shredded ? 'yes' : 'no'}; audit entries redacted: ${s.auditRedacted}` +
              (result.auditHeld > 0 ? `, kept under legal hold: ${result.auditHeld}` : '') +
              '\n',
          );
          if (result.receipt === undefined)
            io.stdout('no signed receipt (no receipt signer is configured)\n');
          else if (values.out !== undefined) io.stdout(`signed receipt written to ${values.out}\n`);
          else io.stdout('signed receipt: stored with the request (--out FILE writes it out)\n');
        }
        return ExitCode.OK;
      }
    }
  } finally {
    await closeConfig(config);
  }
}

function notFound(requestId: string): BulwarkConfigError {
  return new BulwarkConfigError(
    ErrorCodes.CONFIG_INVALID,
    `no data-subject request ${JSON.stringify(requestId)}`,
    {
      path: 'requestId',
    },
  );
}

/** A request without personal data: no subject id, rectification field names without values. */
function publicView(r: DataSubjectRequest): Record<string, unknown> {
  const { subjectId: _subject, changes, ...rest } = r;
  return { ...rest, ...(changes === undefined ? {} : { changedFields: Object.keys(changes).sort() }) };
}

function daysLeft(r: DataSubjectRequest, now: Date): string {
  if (r.status === 'completed' || r.status === 'rejected') return '-';
  const days = Math.floor((Date.parse(r.effectiveDueAt) - now.getTime()) / 86_400_000);
  return days < 0 ? `OVERDUE ${-days}d` : `${days}d`;
}

function formatTable(requests: DataSubjectRequest[], now: Date): string {
  if (requests.length === 0) return 'no data-subject requests match\n';
  const rows = [['ID', 'TYPE', 'STATUS', 'RECEIVED', 'DUE', 'LEFT', 'SUBJECT REF']];
  for (const r of requests) {
    rows.push([r.id, r.type, r.status, r.receivedAt, r.effectiveDueAt, daysLeft(r, now), r.subjectRef]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  return (
    rows
      .map((row) =>
        row
          .map((c, i) => c.padEnd(widths[i]!))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

function formatRequest(r: DataSubjectRequest): string {
  const lines = [
    `request      ${r.id}`,
    `type         ${r.type}`,
    `status       ${r.status}`,
    `subject ref  ${r.subjectRef}${r.subjectId === undefined ? ' (identifier erased)' : ''}`,
    `received     ${r.receivedAt}${r.channel ? ` via ${r.channel}` : ''}`,
    `due          ${r.effectiveDueAt}${r.effectiveDueAt !== r.dueAt ? ` (extended from ${r.dueAt})` : ''} [${daysLeft(r, new Date())}]`,
    `identity     ${r.identity.verified ? `verified${r.identity.method ? ` (${r.identity.method})` : ''}` : 'not verified'}`,
  ];
  for (const e of r.extensions) lines.push(`extension    +${e.days}d at ${e.at}: ${e.reason}`);
  if (r.changes) lines.push(`changes      ${Object.keys(r.changes).sort().join(', ')}`);
  if (r.rejectedReason) lines.push(`rejected     ${r.rejectedReason}`);
  if (r.completedAt) lines.push(`completed    ${r.completedAt}`);
  if (r.receipt) lines.push('receipt      signed (dsr erase --out FILE, or the request record)');
  lines.push('history');
  for (const h of r.history) lines.push(`  ${h.at}  ${h.status}${h.note ? `  ${h.note}` : ''}`);
  return lines.join('\n') + '\n';
}

async function receiptVerify(
  file: string,
  values: { 'public-key'?: string; 'request-id'?: string; 'subject-id'?: string; json?: boolean },
  io: CliIo,
  hint: string,
): Promise<number> {
  if (values['public-key'] === undefined) {
    throw new UsageError(
      "dsr receipt-verify needs --public-key FILE (the signer's public Ed25519 JWK)",
      hint,
    );
  }
  if (values['subject-id'] !== undefined && values['request-id'] === undefined) {
    throw new UsageError('--subject-id needs --request-id (the receipt names the subject per request)', hint);
  }
  let text: string;
  try {
    text = (await fs.readFile(path.resolve(io.cwd, file), 'utf8')).trim();
  } catch (err) {
    throw new UsageError(`cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, hint);
  }
  if (text.startsWith('{')) {
    try {
      const parsed = JSON.parse(text) as { receipt?: unknown };
      if (typeof parsed.receipt === 'string') text = parsed.receipt;
    } catch {
      // not JSON: verified (and refused) as a JWS below
    }
  }
  const jwk = await readJwkFile(values['public-key'], io, 'public-key');
  const receipt = await verifyErasureReceipt(text, jwk);
  const problems: string[] = [];
  if (values['request-id'] !== undefined && receipt.requestId !== values['request-id']) {
    problems.push(
      `it is for request ${JSON.stringify(receipt.requestId)}, not ${JSON.stringify(values['request-id'])}`,
    );
  }
  if (
    values['subject-id'] !== undefined &&
    receipt.subjectRef !== erasureSubjectRef(values['request-id']!, values['subject-id'])
  ) {
    problems.push('it is not for this subject');
  }
  if (values.json) {
    io.stdout(JSON.stringify({ valid: problems.length === 0, receipt, problems }, null, 2) + '\n');
  } else if (problems.length === 0) {
    io.stdout(
      `valid erasure receipt: request ${receipt.requestId}, completed ${receipt.completedAt}; ` +
        `sources erased: ${receipt.sourcesErased.join(', ') || 'none'}; key shredded: ${receipt.shredded ? 'yes' : 'no'}; ` +
        `audit entries redacted: ${receipt.auditRedacted}\n`,
    );
  } else {
    io.stdout(`the signature verifies, but ${problems.join('; ')}\n`);
  }
  return problems.length === 0 ? ExitCode.OK : ExitCode.CHECK_FAILED;
}
