import { randomUUID } from 'node:crypto';
import type { ComplianceReportResult, ControlResult } from './compliance-report';

export const OSCAL_VERSION = '1.0.4';
/** Namespace of Bulwark's OSCAL properties (an identifier, never fetched). */
export const BULWARK_OSCAL_NS = 'https://bulwark.dev/ns/oscal';

interface OscalProp {
  name: string;
  value: string;
  ns?: string;
}

/** OSCAL property values are single-line tokens of non-blank text. */
function propValue(value: string): string {
  const single = value.replace(/\s+/g, ' ').trim();
  return single === '' ? '-' : single;
}

function prop(name: string, value: string): OscalProp {
  return { name, value: propValue(value), ns: BULWARK_OSCAL_NS };
}

/**
 * NIST OSCAL assessment-results (v1.0.4) JSON: one result per framework, one observation per
 * control (the evidence read, as relevant-evidence), and one finding per automated control that
 * passed or failed (`satisfied` / `not-satisfied`). Manual and not-applicable controls get an
 * observation saying so but no finding: there is no determination to report.
 */
export function renderOscal(result: ComplianceReportResult): string {
  const results = result.frameworks.map((f) => {
    const controls = result.controls.filter((c) => c.framework === f.framework);
    const observations: Record<string, unknown>[] = [];
    const findings: Record<string, unknown>[] = [];
    for (const c of controls) {
      const observationUuid = randomUUID();
      observations.push(observation(c, observationUuid, result.evidenceCollectedAt));
      if (c.status === 'pass' || c.status === 'fail' || c.status === 'not-demonstrated') {
        findings.push({
          uuid: randomUUID(),
          title: `${c.ref} ${c.title}`,
          description: c.summary,
          props: [prop('control-ref', c.ref), prop('status', c.status), prop('check', c.check ?? '-')],
          target: {
            type: 'objective-id',
            'target-id': c.id,
            title: c.title,
            description: c.requirement,
            status: { state: c.status === 'pass' ? 'satisfied' : 'not-satisfied' },
          },
          'related-observations': [{ 'observation-uuid': observationUuid }],
          ...(c.remediation ? { remarks: `Remediation: ${c.remediation}` } : {}),
        });
      }
    }
    return {
      uuid: randomUUID(),
      title: `${f.name}: automated assessment`,
      description:
        `Bulwark evaluated ${controls.length} controls against evidence read from the running system. ` +
        `Score ${f.score === null ? 'n/a' : `${f.score}%`} (${f.passed} of ${f.applicable} applicable automated controls satisfied); ` +
        `${f.manual} manual controls need attestation and are not scored.`,
      start: result.evidenceCollectedAt,
      end: result.generatedAt,
      props: [
        prop('framework', f.framework),
        prop('score', f.score === null ? 'n/a' : String(f.score)),
        prop('passed', String(f.passed)),
        prop('failed', String(f.failed)),
        prop('not-applicable', String(f.notApplicable)),
        prop('manual', String(f.manual)),
      ],
      'reviewed-controls': {
        'control-selections': [{ 'include-controls': controls.map((c) => ({ 'control-id': c.id })) }],
      },
      ...(observations.length ? { observations } : {}),
      ...(findings.length ? { findings } : {}),
    };
  });
  const doc = {
    'assessment-results': {
      uuid: randomUUID(),
      metadata: {
        title: 'Bulwark compliance assessment results',
        'last-modified': result.generatedAt,
        version: result.tool.version,
        'oscal-version': OSCAL_VERSION,
        props: [prop('tool', `${result.tool.name} ${result.tool.version}`)],
      },
      'import-ap': {
        href: 'urn:bulwark:assessment-plan:built-in-catalogue',
        remarks:
          'No separate assessment plan: the built-in Bulwark control catalogue was assessed automatically.',
      },
      results,
    },
  };
  return JSON.stringify(doc, null, 2) + '\n';
}

function observation(c: ControlResult, uuid: string, collectedAt: string): Record<string, unknown> {
  const automated = c.kind === 'automated';
  return {
    uuid,
    title: `${c.ref} ${c.title}`,
    description: automated ? c.summary : `Manual control: ${c.guidance ?? 'needs attestation'}`,
    props: [prop('control-id', c.id), prop('status', c.status)],
    methods: [automated ? 'TEST' : 'EXAMINE'],
    types: ['control-objective'],
    ...(c.evidence.length
      ? {
          'relevant-evidence': c.evidence.map((e) => ({
            description: `${e.source} observed at ${e.observedAt}`,
            remarks: JSON.stringify(e.data),
          })),
        }
      : {}),
    collected: c.evidence[0]?.observedAt ?? collectedAt,
  };
}
