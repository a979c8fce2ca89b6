import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { ComplianceKit } from '../compliance/compliance-kit';
import {
  ComplianceReport,
  evaluateControls,
  hasFailures,
  isFramework,
  type ComplianceReportResult,
} from '../compliance/compliance-report';
import { FRAMEWORKS, type Framework } from '../compliance/control';
import type { EvidenceBundle } from '../compliance/evidence';
import { renderHtml } from '../compliance/render-html';
import { renderJson } from '../compliance/render-json';
import { renderMarkdown } from '../compliance/render-markdown';
import { renderOscal } from '../compliance/render-oscal';
import { writeFileAtomic } from '../util/write-file-atomic';
import { ExitCode, UsageError, type CliIo } from './cli-io';

export const REPORT_HELP = `Usage: bulwark report --config FILE [options]

Runs the compliance controls against evidence read from your running services and writes a report.
Automated controls pass only on evidence; manual controls are listed, never scored.

Options:
  --config FILE        JS module (CommonJS) exporting a function (default export, or named
                       createComplianceKit) that returns, or resolves to, a ComplianceKit with your
                       live services registered. It is called with { env, cwd }. A .json file is
                       read as a collected evidence snapshot (ComplianceKit.collectEvidence() output).
  --framework NAME     ${FRAMEWORKS.join(' | ')} | all (default all)
  --format FORMAT      json | md | html | oscal (default json)
  --out FILE           Write the report to FILE (default: standard output)
  --verify-audit       Verify the audit chain now, so the verification control reflects this run
  -h, --help           Show this help

Example bulwark.compliance.js:
  const { ComplianceKit } = require('@bulwark/core');
  module.exports = async ({ env }) => {
    const services = await openMyServices(env);          // your KeyRing, AuditLog, ...
    return new ComplianceKit({ privilegedRoles: ['admin'] }).register(services);
  };

Exit codes: 0 every automated control passed or is not applicable, 1 an automated control
failed, 2 usage or configuration error.`;

const FORMATS = ['json', 'md', 'html', 'oscal'] as const;
type Format = (typeof FORMATS)[number];

const RENDERERS: Record<Format, (r: ComplianceReportResult) => string> = {
  json: renderJson,
  md: renderMarkdown,
  html: renderHtml,
  oscal: renderOscal,
};

export async function reportCommand(argv: string[], io: CliIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: false,
      strict: true,
      options: {
        config: { type: 'string' },
        framework: { type: 'string', default: 'all' },
        format: { type: 'string', default: 'json' },
        out: { type: 'string' },
        'verify-audit': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message, REPORT_HELP);
  }
  const { values } = parsed;
  if (values.help) {
    io.stdout(REPORT_HELP + '\n');
    return ExitCode.OK;
  }
  const framework = values.framework as string;
  if (framework !== 'all' && !isFramework(framework)) {
    throw new UsageError(
      `--framework must be one of ${FRAMEWORKS.join(', ')}, all; got "${framework}"`,
      REPORT_HELP,
    );
  }
  const format = values.format as Format;
  if (!FORMATS.includes(format)) {
    throw new UsageError(
      `--format must be one of ${FORMATS.join(', ')}; got "${String(format)}"`,
      REPORT_HELP,
    );
  }
  if (values.config === undefined) {
    throw new UsageError('--config is required: a module that returns your ComplianceKit', REPORT_HELP);
  }

  const loaded = await loadConfig(path.resolve(io.cwd, values.config), io);
  let result: ComplianceReportResult;
  if ('kit' in loaded) {
    const report = new ComplianceReport(loaded.kit, { verifyAudit: values['verify-audit'] === true });
    result = await report.run(framework as Framework | 'all');
  } else {
    if (values['verify-audit']) {
      throw new UsageError(
        '--verify-audit needs a live ComplianceKit, not an evidence snapshot',
        REPORT_HELP,
      );
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
    throw new UsageError(`--config ${file} does not exist`, REPORT_HELP);
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
      REPORT_HELP,
    );
  }
  return d as EvidenceBundle;
}
