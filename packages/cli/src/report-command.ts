import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import {
  ComplianceKit,
  ComplianceReport,
  FRAMEWORKS,
  evaluateControls,
  hasFailures,
  isFramework,
  renderHtml,
  renderJson,
  renderMarkdown,
  renderOscal,
  type ComplianceReportResult,
  type EvidenceBundle,
  type Framework,
} from '@bulwark/core';
import { ExitCode, UsageError, type CliIo } from './cli-io';
import { parseCommandLine, renderHelp, type CommandSpec } from './command-line';
import { writeFileAtomic } from '@bulwark/core/store';

const OPTIONS = {
  config: {
    type: 'string',
    arg: 'FILE',
    help:
      'JS module (CommonJS) exporting a function (default export, or named createComplianceKit)\n' +
      'that returns, or resolves to, a ComplianceKit with your live services registered; it is\n' +
      'called with { env, cwd }. A .json file is read as a collected evidence snapshot\n' +
      '(ComplianceKit.collectEvidence() output).',
  },
  framework: { type: 'string', arg: 'NAME', help: `${FRAMEWORKS.join(' | ')} | all (default all)` },
  format: { type: 'string', arg: 'FORMAT', help: 'json | md | html | oscal (default json)' },
  out: { type: 'string', arg: 'FILE', help: 'Write the report to FILE (default: standard output)' },
  'verify-audit': {
    type: 'boolean',
    help: 'Verify the audit chain now, so the verification control reflects this run',
  },
} as const;

export const REPORT_COMMAND: CommandSpec<typeof OPTIONS> = {
  name: 'bulwark report',
  args: '--config FILE [options]',
  description:
    'Runs the compliance controls against evidence read from your running services and writes a\n' +
    'report. Automated controls pass only on evidence; manual controls are listed, never scored.\n' +
    'Exit 1 when an automated control fails.',
  options: OPTIONS,
  notes: `Example bulwark.compliance.js:
  const { ComplianceKit } = require('@bulwark/core');
  module.exports = async ({ env }) => {
    const services = await openMyServices(env);          // your KeyRing, AuditLog, ...
    return new ComplianceKit({ privilegedRoles: ['admin'] }).register(services);
  };`,
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

export async function reportCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals, help } = parseCommandLine(argv, REPORT_COMMAND);
  if (help) {
    io.stdout(REPORT_HELP);
    return ExitCode.OK;
  }
  const hint = HINT;
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`, hint);
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

  const loaded = await loadConfig(path.resolve(io.cwd, values.config), io);
  let result: ComplianceReportResult;
  if ('kit' in loaded) {
    const report = new ComplianceReport(loaded.kit, { verifyAudit: values['verify-audit'] === true });
    result = await report.run(framework as Framework | 'all');
  } else {
    if (values['verify-audit']) {
      throw new UsageError('--verify-audit needs a live ComplianceKit, not an evidence snapshot', hint);
    }
    result = evaluateControls(loaded.snapshot, framework as Framework | 'all');
  }

  const text = RENDERERS[format](result);
  const line = result.frameworks
    .map(
      (f) =>
        `${f.framework} ${f.score === null ? 'n/a' : `${f.score}%`} (${f.passed} pass, ${f.failed} fail, ${f.manual} manual)`,
    )
    .join('; ');
  if (values.out !== undefined) {
    await writeFileAtomic(path.resolve(io.cwd, values.out), text, 0o644);
    io.stdout(`wrote ${format} report to ${values.out}: ${line}\n`);
  } else {
    io.stdout(text);
    io.stderr(`${line}\n`);
  }
  return hasFailures(result) ? ExitCode.CHECK_FAILED : ExitCode.OK;
}

type Loaded = { kit: ComplianceKit } | { snapshot: EvidenceBundle };

async function loadConfig(file: string, io: CliIo): Promise<Loaded> {
  try {
    await fs.access(file);
  } catch {
    throw new UsageError(`--config ${file} does not exist`, HINT);
  }
  if (file.endsWith('.json')) {
    let data: unknown;
    try {
      data = JSON.parse(await fs.readFile(file, 'utf8'));
    } catch (err) {
      throw new UsageError(`--config ${file} is not valid JSON: ${(err as Error).message}`);
    }
    return { snapshot: asSnapshot(data, file) };
  }
  let mod: unknown;
  try {
    mod = require(file);
  } catch (err) {
    throw new UsageError(`--config ${file} could not be loaded: ${(err as Error).message}`);
  }
  const m = mod as Record<string, unknown> | ((...a: unknown[]) => unknown);
  const factory =
    typeof m === 'function'
      ? m
      : typeof m?.default === 'function'
        ? m.default
        : typeof m?.createComplianceKit === 'function'
          ? m.createComplianceKit
          : undefined;
  const value = factory
    ? await (factory as (ctx: object) => unknown)({ env: io.env, cwd: io.cwd })
    : ((m as Record<string, unknown>)?.default ?? m);
  if (value instanceof ComplianceKit) return { kit: value };
  if (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as ComplianceKit).collectEvidence === 'function'
  ) {
    // A kit from another copy of the package (e.g. a nested node_modules): use it through its API.
    return { kit: value as ComplianceKit };
  }
  return { snapshot: asSnapshot(value, file) };
}

function asSnapshot(data: unknown, file: string): EvidenceBundle {
  const d = data as Partial<EvidenceBundle> | null;
  if (
    d === null ||
    typeof d !== 'object' ||
    typeof d.collectedAt !== 'string' ||
    Number.isNaN(Date.parse(d.collectedAt)) ||
    d.settings === null ||
    typeof d.settings !== 'object' ||
    !Array.isArray(d.settings.privilegedRoles) ||
    typeof d.settings.httpSurface !== 'boolean' ||
    d.errors === null ||
    typeof d.errors !== 'object'
  ) {
    throw new UsageError(
      `--config ${file} must export a function returning a ComplianceKit (or an evidence snapshot with collectedAt, settings and errors)`,
      HINT,
    );
  }
  return d as EvidenceBundle;
}
