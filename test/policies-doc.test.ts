/**
 * docs/policies.md cannot rot: every ```yaml policy block loads, every ```yaml refused block is
 * refused at load with the message its `# error:` line quotes, and every request of a ```yaml check
 * block gets the decision (and reason id, type warning, field permission, denial explanation, 403
 * body) the page states, from a real PolicyEngine built from the policy above it (or the one it
 * names). A check key the harness does not know fails the test, so a typo cannot make a case vacuous.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import {
  BulwarkPolicyError,
  ErrorCodes,
  PolicyEngine,
  explainDenial,
  type AuthzContext,
  type AuthzResource,
  type AuthzSubject,
  type PolicyWarning,
} from '@bulwark/core';
import { authorizeRequest, problemFor, type HttpPrincipal } from '@bulwark/core/http';

const DOC = 'docs/policies.md';
const text = fs.readFileSync(path.join(__dirname, '..', DOC), 'utf8');

interface Block {
  kind: 'policy' | 'check' | 'refused';
  body: string;
  line: number;
}

const blocks: Block[] = [...text.matchAll(/^```yaml (policy|check|refused)\n([\s\S]*?)^```$/gm)].map((m) => ({
  kind: m[1] as Block['kind'],
  body: m[2]!,
  line: text.slice(0, m.index).split('\n').length,
}));

interface Case {
  subject: AuthzSubject;
  action: string;
  resource: AuthzResource;
  context?: AuthzContext;
  policy?: string;
  at?: string;
  decision: 'allow' | 'deny';
  reasonId?: string;
  warns?: false | Partial<PolicyWarning>;
  fields?: { all: boolean; fields: string[]; denied: string[] };
  denial?: Record<string, unknown>;
  problem?: Record<string, unknown>;
}
const CASE_KEYS = new Set([
  'subject',
  'action',
  'resource',
  'context',
  'policy',
  'at',
  'decision',
  'reasonId',
  'warns',
  'fields',
  'denial',
  'problem',
]);

/** The policy texts in document order, with the policy ids each defines. */
const policies: { line: number; text: string; ids: string[] }[] = [];

describe(`${DOC}`, () => {
  it('has policies, checks and refused examples to run', () => {
    expect(blocks.filter((b) => b.kind === 'policy').length).toBeGreaterThanOrEqual(8);
    expect(blocks.filter((b) => b.kind === 'check').length).toBeGreaterThanOrEqual(10);
    expect(blocks.filter((b) => b.kind === 'refused').length).toBeGreaterThanOrEqual(4);
  });

  it('has no fenced block of another kind (a mistyped ```yaml chek or ```yml policy would be skipped)', () => {
    // Fences alternate open / close; every opening must be one of the three kinds the harness runs.
    const fences = [...text.matchAll(/^ {0,3}(`{3,}|~{3,})(.*)$/gm)];
    const openings = fences.filter((_, i) => i % 2 === 0).map((m) => m[0].trim());
    expect(fences.length % 2).toBe(0);
    expect(openings.filter((o) => !/^```yaml (policy|check|refused)$/.test(o))).toEqual([]);
    expect(openings).toHaveLength(blocks.length);
  });

  for (const block of blocks) {
    if (block.kind === 'policy') {
      const declared = (parse(block.body) as { policies?: { id: string }[] })?.policies ?? [];
      policies.push({ line: block.line, text: block.body, ids: declared.map((p) => p.id) });
      it(`line ${block.line}: the policy loads`, () => {
        const engine = PolicyEngine.fromText(block.body);
        expect(engine.policy.policies.map((p) => p.id)).toEqual(declared.map((p) => p.id));
      });
    } else if (block.kind === 'refused') {
      it(`line ${block.line}: the policy is refused at load with the stated message`, () => {
        const expected = /^# error: (.+)$/m.exec(block.body)?.[1];
        expect(expected).toBeDefined();
        let error: unknown;
        try {
          PolicyEngine.fromText(block.body);
        } catch (e) {
          error = e;
        }
        expect(error).toBeInstanceOf(BulwarkPolicyError);
        expect((error as BulwarkPolicyError).code).toBe(ErrorCodes.POLICY_INVALID);
        expect((error as Error).message).toContain(expected);
      });
    } else {
      const above = policies.length;
      const cases = parse(block.body) as Case[];
      cases.forEach((c, i) => {
        it(`line ${block.line}, request ${i + 1}: ${c.subject?.id} ${c.action} ${c.resource?.type}/${c.resource?.id ?? ''} -> ${c.decision}`, async () => {
          expect(Object.keys(c).filter((k) => !CASE_KEYS.has(k))).toEqual([]);
          expect(['allow', 'deny']).toContain(c.decision);
          const source =
            c.policy === undefined
              ? policies[above - 1]
              : policies
                  .slice(0, above)
                  .reverse()
                  .find((p) => p.ids.includes(c.policy!));
          expect(source).toBeDefined();
          const warnings: PolicyWarning[] = [];
          const at = c.at === undefined ? undefined : new Date(c.at);
          const engine = PolicyEngine.fromText(source!.text, {
            onWarning: (w) => warnings.push(w),
            ...(at !== undefined ? { clock: () => at } : {}),
          });

          const decision = engine.check(c.subject, c.action, c.resource, c.context);
          expect(decision.allowed).toBe(c.decision === 'allow');
          if (c.reasonId !== undefined) expect(decision.reasonId).toBe(c.reasonId);
          // explain() agrees with check().
          const explanation = engine.explain(c.subject, c.action, c.resource, c.context);
          expect(explanation.decision.allowed).toBe(decision.allowed);
          expect(explanation.decision.reasonId).toBe(decision.reasonId);

          if (c.warns === false) expect(warnings).toEqual([]);
          else if (c.warns !== undefined) expect(warnings).toContainEqual(expect.objectContaining(c.warns));

          if (c.fields !== undefined) {
            const permitted = engine.permittedFields(c.subject, c.action, c.resource, c.context);
            expect({
              all: permitted.all,
              fields: [...permitted.fields].sort(),
              denied: [...permitted.denied].sort(),
            }).toEqual({
              all: c.fields.all,
              fields: [...c.fields.fields].sort(),
              denied: [...c.fields.denied].sort(),
            });
          }
          if (c.denial !== undefined) expect(explainDenial(explanation)).toMatchObject(c.denial);
          // The bounded explanation the HTTP adapters use says the same as explain() does.
          expect(engine.denialExplanation(c.subject, c.action, c.resource, c.context)).toEqual(
            explainDenial(explanation),
          );
          if (c.problem !== undefined) {
            const principal = { ...c.subject, type: 'user', claims: {} } as unknown as HttpPrincipal;
            const error = await authorizeRequest(engine, principal, c.action, c.resource, c.context, {
              explainDenials: true,
            }).then(
              () => undefined,
              (e: unknown) => e,
            );
            expect(error).toBeInstanceOf(BulwarkPolicyError);
            expect(problemFor(error).body).toMatchObject(c.problem);
          }
        });
      });
    }
  }
});
