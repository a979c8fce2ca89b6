import { createPublicKey, type KeyObject } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import {
  BulwarkComplianceError,
  ComplianceReport,
  ComplianceSigner,
  FRAMEWORKS,
  evaluateControls,
  hasFailures,
  isFramework,
  renderHtml,
  renderJson,
  renderMarkdown,
  renderOscal,
  signComplianceReport,
  verifyComplianceReport,
  verifyEvidenceSnapshot,
  type ComplianceReportResult,
  type Framework,
  type FrameworkSummary,
  type ReportDescription,
} from '@bulwark/core';
import { ExitCode, UsageError, type CliIo } from './cli-io';
import { parseCommandLine, renderHelp, type CommandSpec } from './command-line';
import { writeFileAtomic } from '@bulwark/core/store';
import { loadKit, readJwkFile, type JWK } from './kit-config';

const OPTIONS = {
  config: {
    type: 'string',
    arg: 'FILE',
    help:
      'JS module (CommonJS) exporting a function (default export, or named createComplianceKit)\n' +
      'that returns, or resolves to, a ComplianceKit with your live services registered; it is\n' +
      'called with { env, cwd }. A .json file must be a signed evidence snapshot\n' +
      '(`bulwark evidence collect`), checked with --public-key and --max-age.',
  },
  'public-key': {
    type: 'string',
    arg: 'FILE',
    help: 'Public Ed25519 key (JWK JSON or PEM) the snapshot (or, with --verify-signature, the report) must be signed with',
  },
  'verify-signature': {
    type: 'string',
    arg: 'REPORT',
    help: 'Check the detached signature of a JSON report with --public-key (exit 1 if it does not verify)',
  },
  'max-age': {
    type: 'string',
    arg: 'AGE',
    help: 'Oldest snapshot accepted: 90s, 30m, 24h, 7d (default 24h)',
  },
  framework: { type: 'string', arg: 'NAME', help: `${FRAMEWORKS.join(' | ')} | all (default all)` },
  format: { type: 'string', arg: 'FORMAT', help: 'json | md | html | oscal (default json)' },
  out: { type: 'string', arg: 'FILE', help: 'Write the report to FILE (default: standard output)' },
  'verify-audit': {
    type: 'boolean',
    help: 'Verify the audit chain now, so the verification control reflects this run',
  },
  system: { type: 'string', arg: 'NAME', help: 'The system or scope assessed, shown in the report' },
  period: {
    type: 'string',
    arg: 'FROM/TO',
    help: 'Period covered, ISO 8601 dates, e.g. 2026-01-01/2026-03-31',
  },
  'generated-by': { type: 'string', arg: 'NAME', help: 'Who generates the report, shown in it' },
  previous: { type: 'string', arg: 'FILE', help: 'An earlier JSON report: the report lists what changed' },
  'signing-key': {
    type: 'string',
    arg: 'FILE',
    help: 'Private Ed25519 JWK: sign the report (detached JWS over its canonical JSON)',
  },
} as const;

export const REPORT_COMMAND: CommandSpec<typeof OPTIONS> = {
  name: 'bulwark report',
  args: '--config FILE [options]',
  description:
    'Runs the compliance controls against evidence read from your running services (or a signed\n' +
    'evidence snapshot) and writes a report. Automated controls pass only on evidence; manual\n' +
    'controls are attested by a person or unattested, never scored. Exit 1 when an automated\n' +
    'control fails; exit 2 for an unsigned, tampered, wrongly signed or stale snapshot.',
  options: OPTIONS,
  notes: `Example bulwark.compliance.js:
  const { ComplianceKit } = require('@bulwark/core');
  module.exports = async ({ env }) => {
    const services = await openMyServices(env);          // your KeyRing, AuditLog, ...
    return new ComplianceKit({ privilegedRoles: ['admin'] }).register(services);
  };
Report elsewhere from a signed snapshot:
  bulwark evidence keygen --out snapshot-key.jwk > snapshot-key.pub.jwk
  bulwark evidence collect --config bulwark.compliance.js --private-key snapshot-key.jwk --out snapshot.json
  bulwark report --config snapshot.json --public-key snapshot-key.pub.jwk --max-age 24h
Check a signed report:
  bulwark report --verify-signature report.json --public-key report-key.pub.jwk`,
};

const HINT = 'bulwark report --help';

/** `bulwark report --help` */
export const REPORT_HELP = renderHelp(REPORT_COMMAND);

const FORMATS = ['json', 'md', 'html', 'oscal'] as const;
type Format = (typeof FORMATS)[number];

const RENDERERS: Record<Format, (r: ComplianceReportResult) => string> = {
  json: renderJson,
  md: renderMarkdown,
  html: renderHtml,
  oscal: renderOscal,
};

/** The per-framework line on stderr: counts side by side, no percentage. */
export function summaryLine(f: FrameworkSummary): string {
  return (
    `${f.framework}: ${f.passedFull} pass (full), ${f.passedPartial} pass (partial), ${f.failed} fail, ` +
    `${f.notApplicable} n/a; ${f.attested} attested, ${f.unattested} unattested`
  );
}

const UNSIGNED_HELP =
  'A report from a file needs a signed evidence snapshot: collect one where the services run with\n' +
  '  bulwark evidence collect --config bulwark.compliance.js --private-key snapshot-key.jwk --out snapshot.json\n' +
  '(or kit.snapshot({ privateKey })), then run\n' +
  '  bulwark report --config snapshot.json --public-key snapshot-key.pub.jwk';

export async function reportCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals, help } = parseCommandLine(argv, REPORT_COMMAND);
  if (help) {
    io.stdout(REPORT_HELP);
    return ExitCode.OK;
  }
  const hint = HINT;
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`, hint);
  if (values['verify-signature'] !== undefined) return verifySignature(values, io);
  const framework = values.framework ?? 'all';
  if (framework !== 'all' && !isFramework(framework)) {
    throw new UsageError(
      `--framework must be one of ${FRAMEWORKS.join(', ')}, all; got "${framework}"`,
      hint,
    );
  }
  const format = (values.format ?? 'json') as Format;
  if (!FORMATS.includes(format)) {
    throw new UsageError(`--format must be one of ${FORMATS.join(', ')}; got "${String(format)}"`, hint);
  }
  if (values.config === undefined) {
    throw new UsageError('--config is required: a module that returns your ComplianceKit', hint);
  }
  const description = describe(values);
  const previous = values.previous === undefined ? undefined : await readPrevious(values.previous, io);
  const signer =
    values['signing-key'] === undefined
      ? undefined
      : await ComplianceSigner.fromJWK(
          'report',
          await readJwkFile(values['signing-key'], io, 'signing-key'),
          {
            path: 'signing-key',
          },
        );

  const file = path.resolve(io.cwd, values.config);
  let result: ComplianceReportResult;
  if (file.endsWith('.json')) {
    if (values['verify-audit']) {
      throw new UsageError('--verify-audit needs a live ComplianceKit, not an evidence snapshot', hint);
    }
    result = await reportFromSnapshot(
      file,
      values,
      io,
      framework as Framework | 'all',
      description,
      previous,
    );
    if (signer !== undefined) result = await signComplianceReport(result, signer);
  } else {
    if (values['public-key'] !== undefined || values['max-age'] !== undefined) {
      throw new UsageError(
        '--public-key and --max-age apply to a signed snapshot (.json), not a live kit',
        hint,
      );
    }
    const kit = await loadKit(file, io, hint);
    const report = new ComplianceReport(kit, {
      verifyAudit: values['verify-audit'] === true,
      ...description,
      ...(previous === undefined ? {} : { previous }),
      ...(signer === undefined ? {} : { signer }),
    });
    result = await report.run(framework as Framework | 'all');
  }

  const text = RENDERERS[format](result);
  const e = result.metadata.evidence;
  const source =
    e.source === 'snapshot'
      ? `evidence: signed snapshot${e.snapshot?.keyId === undefined ? '' : ` (key ${e.snapshot.keyId})`} collected ${e.collectedAt}, ${e.ageSeconds}s old`
      : `evidence: read live at ${e.collectedAt}`;
  const line = `${result.frameworks.map(summaryLine).join('; ')}\n${source}`;
  if (values.out !== undefined) {
    await writeFileAtomic(path.resolve(io.cwd, values.out), text, 0o644);
    io.stdout(`wrote ${format} report to ${values.out}: ${line}\n`);
  } else {
    io.stdout(text);
    io.stderr(`${line}\n`);
  }
  return hasFailures(result) ? ExitCode.CHECK_FAILED : ExitCode.OK;
}

type Values = ReturnType<typeof parseCommandLine<typeof OPTIONS>>['values'];

function describe(values: Values): ReportDescription {
  const d: ReportDescription = {};
  if (values.system !== undefined) d.system = values.system;
  if (values['generated-by'] !== undefined) d.generatedBy = values['generated-by'];
  if (values.period !== undefined) {
    const [from, to, extra] = values.period.split('/');
    if (
      !from ||
      !to ||
      extra !== undefined ||
      Number.isNaN(Date.parse(from)) ||
      Number.isNaN(Date.parse(to))
    ) {
      throw new UsageError(`--period must be FROM/TO (ISO 8601 dates); got "${values.period}"`, HINT);
    }
    d.period = { from, to };
  }
  return d;
}

async function readPrevious(file: string, io: CliIo): Promise<ComplianceReportResult> {
  try {
    return JSON.parse(await fs.readFile(path.resolve(io.cwd, file), 'utf8')) as ComplianceReportResult;
  } catch (err) {
    throw new UsageError(
      `--previous ${file} must be a readable JSON report: ${(err as Error).message}`,
      HINT,
    );
  }
}

async function readPublicKey(file: string, io: CliIo): Promise<JWK | KeyObject> {
  let text: string;
  try {
    text = await fs.readFile(path.resolve(io.cwd, file), 'utf8');
  } catch {
    throw new UsageError(`--public-key ${file} cannot be read`, HINT);
  }
  if (text.trimStart().startsWith('-----BEGIN')) {
    try {
      const key = createPublicKey(text);
      if (key.asymmetricKeyType !== 'ed25519') throw new Error(`a ${key.asymmetricKeyType} key`);
      return key;
    } catch (err) {
      throw new UsageError(
        `--public-key ${file} is not an Ed25519 public key: ${(err as Error).message}`,
        HINT,
      );
    }
  }
  try {
    return JSON.parse(text) as JWK;
  } catch {
    throw new UsageError(`--public-key ${file} must be a public Ed25519 JWK (JSON) or PEM`, HINT);
  }
}

async function reportFromSnapshot(
  file: string,
  values: Values,
  io: CliIo,
  framework: Framework | 'all',
  description: ReportDescription,
  previous: ComplianceReportResult | undefined,
): Promise<ComplianceReportResult> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch {
    throw new UsageError(`--config ${file} does not exist`, HINT);
  }
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--config ${file} is not valid JSON: ${(err as Error).message}`);
  }
  const d = document as { format?: unknown; jws?: unknown } | null;
  if (d === null || typeof d !== 'object' || typeof d.jws !== 'string') {
    throw new UsageError(`--config ${file} is not a signed evidence snapshot: refused.\n${UNSIGNED_HELP}`);
  }
  if (values['public-key'] === undefined) {
    throw new UsageError(
      `--config ${file} is a signed snapshot: --public-key FILE is required to check who signed it`,
      HINT,
    );
  }
  const maxAgeMs = values['max-age'] === undefined ? undefined : parseMaxAgeOption(values['max-age']);
  const publicKey = await readPublicKey(values['public-key'], io);
  const now = new Date();
  let verified;
  try {
    verified = await verifyEvidenceSnapshot(document, {
      publicKey,
      now,
      ...(maxAgeMs === undefined ? {} : { maxAgeMs }),
    });
  } catch (err) {
    if (err instanceof BulwarkComplianceError) {
      throw new UsageError(`--config ${file}: refused: ${err.message} [${err.code}]`);
    }
    throw err;
  }
  return evaluateControls(verified.bundle, framework, {
    generatedAt: now,
    attestations: verified.attestations,
    snapshot: {
      signedAt: verified.signedAt,
      ...(verified.keyId === undefined ? {} : { keyId: verified.keyId }),
    },
    ...description,
    ...(previous === undefined ? {} : { previous }),
  });
}

async function verifySignature(values: Values, io: CliIo): Promise<number> {
  const file = values['verify-signature']!;
  const others = (Object.keys(values) as (keyof Values)[]).filter(
    (k) => values[k] !== undefined && k !== 'verify-signature' && k !== 'public-key',
  );
  if (others.length > 0)
    throw new UsageError(`--verify-signature takes only --public-key, not --${others[0]}`, HINT);
  if (values['public-key'] === undefined)
    throw new UsageError('--verify-signature needs --public-key FILE', HINT);
  const publicKey = await readPublicKey(values['public-key'], io);
  let report: ComplianceReportResult;
  try {
    report = JSON.parse(await fs.readFile(path.resolve(io.cwd, file), 'utf8')) as ComplianceReportResult;
  } catch (err) {
    throw new UsageError(
      `--verify-signature ${file} must be a readable JSON report: ${(err as Error).message}`,
      HINT,
    );
  }
  let signedKeyId: string | undefined;
  try {
    signedKeyId = (await verifyComplianceReport(report, publicKey)).keyId;
  } catch (err) {
    if (!(err instanceof BulwarkComplianceError)) throw err;
    io.stderr(`${file}: NOT VALID: ${err.message} [${err.code}]\n`);
    return ExitCode.CHECK_FAILED;
  }
  const key = signedKeyId === undefined ? '' : ` with key ${signedKeyId}`;
  io.stdout(`${file}: signature valid${key}; report generated ${report.generatedAt}\n`);
  return ExitCode.OK;
}

function parseMaxAgeOption(value: string): number {
  const m = /^(\d{1,9})(s|m|h|d)?$/.exec(value.trim());
  const n = m === null ? 0 : Number(m[1]);
  if (m === null || n <= 0)
    throw new UsageError(`--max-age must be like 90s, 30m, 24h or 7d; got "${value}"`, HINT);
  return n * { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(m[2] ?? 's') as 's' | 'm' | 'h' | 'd'];
}
