import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';
import * as core from '../../src';
import { evaluateControls } from '../../src/compliance/compliance-report';
import { ComplianceKit } from '../../src/compliance/compliance-kit';

/**
 * Every code identifier a remediation names must exist: an auditor or developer who follows
 * "use @Personal()" and finds no such decorator stops trusting the report. The remediation text
 * is taken from the check sources (every string and template fragment, so computed remediations
 * are covered too) and from a report over empty evidence (service hints, attestation hints), and
 * each identifier-shaped token is resolved against the packages' public exports and the CLI.
 */

const ROOT = path.resolve(__dirname, '../../../..');
const CHECKS = path.join(ROOT, 'packages/core/src/compliance/checks');

// Other packages' public entries (required, not imported: resolved by jest's module mapper).
const PACKAGES: Record<string, Record<string, unknown>> = {
  '@bulwark/core': core as unknown as Record<string, unknown>,
  '@bulwark/express': require('@bulwark/express') as Record<string, unknown>,
  '@bulwark/koa': require('@bulwark/koa') as Record<string, unknown>,
  '@bulwark/typeorm': require('@bulwark/typeorm') as Record<string, unknown>,
};
const { runCli } = require('@bulwark/cli') as {
  runCli(
    argv: string[],
    io: { stdout(t: string): void; stderr(t: string): void; env: object; cwd: string },
  ): Promise<number>;
};

/** Lower-case receivers remediations use for an instance, and the class it is. */
const RECEIVERS: Record<string, string> = {
  kit: 'ComplianceKit',
  auditLog: 'AuditLog',
  keyRing: 'KeyRing',
  policyEngine: 'PolicyEngine',
  threatDetector: 'ThreatDetector',
  alerts: 'AlertRouter',
  dsr: 'DataSubjectRequests',
  breaches: 'BreachRegister',
  dataRetention: 'DataRetention',
};
/**
 * Receivers whose type is not an exported class: the app of the user's framework, and the adapter
 * bundle `bulwark()` returns (the adapter contract suite calls `bw.evidence()` on each adapter).
 */
const OBJECT_MEMBERS: Record<string, readonly string[]> = { app: ['use'], bw: ['evidence'] };

/** Every string literal and template fragment in a TypeScript file. */
function stringsOf(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const out: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) out.push(node.text);
    else if (ts.isTemplateExpression(node)) {
      // `${x}` becomes a placeholder that no identifier pattern matches
      out.push(node.head.text + node.templateSpans.map((s) => ` ‹value› ${s.literal.text}`).join(''));
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out;
}

function remediationTexts(): { where: string; text: string }[] {
  const texts: { where: string; text: string }[] = [];
  for (const f of readdirSync(CHECKS).filter((n) => n.endsWith('.ts'))) {
    for (const text of stringsOf(path.join(CHECKS, f))) texts.push({ where: `checks/${f}`, text });
  }
  // What a report says with nothing registered: every service hint and the attestation hint.
  const result = evaluateControls(
    {
      collectedAt: new Date().toISOString(),
      settings: { privilegedRoles: ['admin'], httpSurface: true },
      errors: {},
    },
    'all',
  );
  for (const c of result.controls)
    if (c.remediation) texts.push({ where: `report ${c.id}`, text: c.remediation });
  return texts;
}

function exported(name: string): unknown {
  for (const exports of Object.values(PACKAGES)) if (name in exports) return exports[name];
  return undefined;
}

function hasMember(cls: unknown, member: string): boolean {
  if (typeof cls !== 'function') return false;
  return member in cls || (typeof cls.prototype === 'object' && member in cls.prototype);
}

interface Finding {
  where: string;
  token: string;
  problem: string;
}

async function check(
  texts: { where: string; text: string }[],
): Promise<{ findings: Finding[]; seen: Set<string> }> {
  const findings: Finding[] = [];
  const seen = new Set<string>();
  const cli = new Map<string, boolean>();
  for (const { where, text } of texts) {
    const report = (token: string, problem: string): void => {
      findings.push({ where, token, problem });
    };
    // @Decorator()
    for (const m of text.matchAll(/@([A-Z][A-Za-z0-9]*)\(/g)) {
      seen.add(`@${m[1]}()`);
      if (typeof exported(m[1]!) !== 'function') report(`@${m[1]}()`, 'no such decorator is exported');
    }
    // Class.member (static or instance), instance.member(
    for (const m of text.matchAll(
      /(?<![\w$.@])([A-Za-z_$][\w$]*)\.([A-Za-z_$][\w$]*)(?=\s*\()|(?<![\w$.@])([A-Z][\w$]*)\.([a-z][\w$]*)\b/g,
    )) {
      const receiver = (m[1] ?? m[3])!;
      const member = (m[2] ?? m[4])!;
      const token = `${receiver}.${member}`;
      if (/^[a-z]$/.test(receiver)) continue; // "e.g."
      seen.add(token);
      if (OBJECT_MEMBERS[receiver]?.includes(member)) continue;
      const cls = /^[A-Z]/.test(receiver) ? exported(receiver) : exported(RECEIVERS[receiver] ?? '');
      if (cls === undefined) report(token, `"${receiver}" is not an exported class nor a known receiver`);
      else if (!hasMember(cls, member)) report(token, `${receiver} has no member "${member}"`);
    }
    // bare calls: securityHeaders(), requireConsent({ ... }), csrf('...')
    for (const m of text.matchAll(/(?<![\w$.@])([a-z][A-Za-z0-9]*)\((?=\)|\{|'|")/g)) {
      seen.add(`${m[1]}()`);
      if (typeof exported(m[1]!) !== 'function') report(`${m[1]}()`, 'no such function is exported');
    }
    // `bulwark <command> [<subcommand>]`
    for (const m of text.matchAll(/\bbulwark ([a-z]+)(?: ([a-z]+))?/g)) {
      const argv = [m[1]!, ...(m[2] ? [m[2]] : []), '--help'];
      const token = `bulwark ${argv.slice(0, -1).join(' ')}`;
      seen.add(token);
      if (!cli.has(token)) {
        const quiet = { stdout: () => undefined, stderr: () => undefined, env: {}, cwd: ROOT };
        cli.set(token, (await runCli(argv, quiet)) === 0);
      }
      if (!cli.get(token)) report(token, 'is not a bulwark command');
    }
    // docs/<page>.md
    for (const m of text.matchAll(/\bdocs\/[\w./-]+\.md\b/g)) {
      seen.add(m[0]);
      if (!existsSync(path.join(ROOT, m[0]))) report(m[0], 'does not exist');
    }
  }
  return { findings, seen };
}

describe('remediation identifiers', () => {
  it('every identifier a remediation or service hint names exists in the public API or the CLI', async () => {
    const { findings, seen } = await check(remediationTexts());
    // the scan does find identifiers (a broken extractor would pass vacuously)
    expect(seen).toEqual(expect.objectContaining({ size: expect.any(Number) }));
    expect(seen.size).toBeGreaterThan(8);
    expect([...seen]).toEqual(
      expect.arrayContaining(['kit.register', 'kit.attest', 'bulwark keys generate']),
    );
    expect(findings.map((f) => `${f.where}: ${f.token} ${f.problem}`)).toEqual([]);
  });

  it('catches names that do not exist', async () => {
    const { findings } = await check([
      {
        where: 'sample',
        text:
          'Use @Personal() and @EncryptedField(), call kit.verifyEverything() or kit.register({ x }), ' +
          'ClassificationRegistry.classify and ClassificationRegistry.register, securityHeaders() and ' +
          'helmetish(), run `bulwark keys generate` or `bulwark audit wipe`, see docs/nope.md and ' +
          'docs/brute-force.md, e.g. this.',
      },
    ]);
    expect(findings.map((f) => f.token).sort()).toEqual(
      [
        '@Personal()',
        'ClassificationRegistry.classify',
        'bulwark audit wipe',
        'docs/nope.md',
        'helmetish()',
        'kit.verifyEverything',
      ].sort(),
    );
  });

  it('knows the kit methods it resolves against', () => {
    expect(hasMember(ComplianceKit, 'attest')).toBe(true);
    expect(hasMember(ComplianceKit, 'nope')).toBe(false);
  });
});
