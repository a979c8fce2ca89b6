import { randomUUID } from 'node:crypto';
import type { ComplianceReportResult, ControlResult, EvidenceItem } from './compliance-report';
import { attestationLine, coverageText, evidenceSourceLine, signatureText } from './render-common';

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

function coverageRemark(c: ControlResult): string {
  const text = coverageText(c);
  return text === '' ? '' : `Coverage ${text}.`;
}

/**
 * NIST OSCAL assessment-results (v1.0.4) JSON: one result per framework, one observation per
 * control (the evidence read, as relevant-evidence with its provenance), and one finding per
 * automated control that passed or failed (`satisfied` / `not-satisfied`). A partial pass is
 * `satisfied` with prop `coverage=partial` and a remark naming the slice evidenced and what is not
 * covered. Attested manual controls get an observation holding the attestation (who, role,
 * statement, document, validity, signature state), no finding: a person's word is not a test.
 * Unattested and not-applicable controls get an observation saying so.
 */
export function renderOscal(result: ComplianceReportResult): string {
  const evidenceById = new Map(result.evidence.map((e) => [e.id, e]));
  const m = result.metadata;
  const results = result.frameworks.map((f) => {
    const controls = result.controls.filter((c) => c.framework === f.framework);
    const observations: Record<string, unknown>[] = [];
    const findings: Record<string, unknown>[] = [];
    for (const c of controls) {
      const observationUuid = randomUUID();
      observations.push(observation(c, observationUuid, result.evidenceCollectedAt, evidenceById));
      if (c.status === 'pass' || c.status === 'fail' || c.status === 'not-demonstrated') {
        const coverage = c.coverage?.level ?? 'undeclared';
        const remarks = [
          c.status === 'pass' && c.passLevel !== 'full'
            ? `Partial satisfaction: the check evidences only part of the clause. ${coverageRemark(c)}`
            : coverageRemark(c),
          c.remediation ? `Remediation: ${c.remediation}` : '',
        ]
          .filter((x) => x !== '')
          .join(' ');
        findings.push({
          uuid: randomUUID(),
          title: `${c.ref} ${c.title}`,
          description: c.summary,
          props: [
            prop('control-ref', c.ref),
            prop('status', c.status),
            prop('check', c.check ?? '-'),
            prop('coverage', coverage),
            ...(c.passLevel === undefined ? [] : [prop('pass-level', c.passLevel)]),
          ],
          target: {
            type: 'objective-id',
            'target-id': c.id,
            title: c.title,
            description: c.requirement,
            status: {
              state: c.status === 'pass' ? 'satisfied' : 'not-satisfied',
              ...(c.status === 'pass' && c.passLevel !== 'full'
                ? { remarks: `Partial satisfaction. ${coverageRemark(c)}` }
                : {}),
            },
          },
          'related-observations': [{ 'observation-uuid': observationUuid }],
          ...(remarks === '' ? {} : { remarks }),
        });
      }
    }
    return {
      uuid: randomUUID(),
      title: `${f.name}: automated assessment`,
      description:
        `Bulwark evaluated ${controls.length} controls. Automated, on evidence read from the system: ` +
        `${f.passedFull} satisfied in full, ${f.passedPartial} satisfied in part (the slice named in each finding), ` +
        `${f.failed} not satisfied (${f.notDemonstrated} not demonstrated), ${f.notApplicable} not applicable. ` +
        `Manual: ${f.attested} attested by a person, ${f.unattested} unattested.`,
      start: m.period?.from ?? result.evidenceCollectedAt,
      end: m.period?.to ?? result.generatedAt,
      props: [
        prop('framework', f.framework),
        prop('passed-full', String(f.passedFull)),
        prop('passed-partial', String(f.passedPartial)),
        prop('failed', String(f.failed)),
        prop('not-demonstrated', String(f.notDemonstrated)),
        prop('not-applicable', String(f.notApplicable)),
        prop('attested', String(f.attested)),
        prop('unattested', String(f.unattested)),
      ],
      'reviewed-controls': {
        'control-selections': [{ 'include-controls': controls.map((c) => ({ 'control-id': c.id })) }],
      },
      ...(observations.length ? { observations } : {}),
      ...(findings.length ? { findings } : {}),
    };
  });
  const e = m.evidence;
  const doc = {
    'assessment-results': {
      uuid: randomUUID(),
      metadata: {
        title: `Bulwark compliance assessment results${m.system === undefined ? '' : `: ${m.system}`}`,
        'last-modified': result.generatedAt,
        version: result.tool.version,
        'oscal-version': OSCAL_VERSION,
        props: [
          prop('tool', `${result.tool.name} ${result.tool.version}`),
          ...(m.system === undefined ? [] : [prop('system', m.system)]),
          ...(m.period === undefined
            ? []
            : [prop('period-from', m.period.from), prop('period-to', m.period.to)]),
          ...(m.generatedBy === undefined ? [] : [prop('generated-by', m.generatedBy)]),
          prop('evidence-source', e.source),
          prop('evidence-collected-at', e.collectedAt),
          prop('evidence-age-seconds', String(e.ageSeconds)),
          ...(e.snapshot?.keyId === undefined ? [] : [prop('snapshot-key-id', e.snapshot.keyId)]),
          ...(result.signature === undefined ? [] : [prop('report-signature', result.signature.jws)]),
        ],
        remarks: `Evidence: ${evidenceSourceLine(result)}. Report signature: ${signatureText(result)}.`,
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

function observation(
  c: ControlResult,
  uuid: string,
  collectedAt: string,
  evidenceById: ReadonlyMap<string, EvidenceItem>,
): Record<string, unknown> {
  const automated = c.kind === 'automated';
  const items = c.evidenceRefs
    .map((id) => evidenceById.get(id))
    .filter((e): e is EvidenceItem => e !== undefined);
  const a = c.attestation;
  const relevant = [
    ...items.map((e) => ({
      description: `${e.source} observed at ${e.observedAt} (provenance: ${e.provenance ?? 'unspecified'}; evidence ${e.id})`,
      props: [prop('evidence-id', e.id), prop('provenance', e.provenance ?? 'unspecified')],
      remarks: JSON.stringify(e.data),
    })),
    ...(a === undefined
      ? []
      : [
          {
            ...(a.evidenceUri === undefined ? {} : { href: a.evidenceUri }),
            description: attestationLine(a),
            props: [prop('attestation-id', a.id), prop('attestation-signature', a.signature)],
          },
        ]),
  ];
  return {
    uuid,
    title: `${c.ref} ${c.title}`,
    description: automated
      ? c.summary
      : a !== undefined
        ? `Manual control, attested: ${attestationLine(a)}`
        : `Manual control, unattested: ${c.summary} What is attested: ${c.guidance ?? 'see the control'}`,
    props: [
      prop('control-id', c.id),
      prop('status', c.status),
      ...(a === undefined
        ? []
        : [
            prop('attested-by', a.by),
            prop('attested-role', a.role),
            prop('attestation-expires', a.expiresAt),
          ]),
    ],
    methods: [automated ? 'TEST' : a !== undefined ? 'INTERVIEW' : 'EXAMINE'],
    types: ['control-objective'],
    ...(relevant.length ? { 'relevant-evidence': relevant } : {}),
    collected: a?.at ?? items[0]?.observedAt ?? collectedAt,
    ...(a === undefined ? {} : { expires: a.expiresAt }),
  };
}
