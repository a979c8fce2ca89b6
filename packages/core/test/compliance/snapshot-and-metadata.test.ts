import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { AUTOMATED_CHECKS } from '../../src/compliance/automated-checks';
import {
  ComplianceReport,
  compareReports,
  evaluateControls,
  signComplianceReport,
  verifyComplianceReport,
  type ComplianceReportResult,
} from '../../src/compliance/compliance-report';
import { ComplianceSigner } from '../../src/compliance/compliance-signing';
import { ControlCatalogue } from '../../src/compliance/control-catalogue';
import type { ControlDefinition } from '../../src/compliance/control';
import type { EvidenceBundle } from '../../src/compliance/evidence';
import { renderHtml } from '../../src/compliance/render-html';
import { renderJson } from '../../src/compliance/render-json';
import { renderMarkdown } from '../../src/compliance/render-markdown';
import { renderOscal } from '../../src/compliance/render-oscal';
import {
  signEvidenceSnapshot,
  verifyEvidenceSnapshot,
  type SignedEvidenceSnapshot,
} from '../../src/compliance/snapshot';
import { BulwarkComplianceError } from '../../src/errors';
import { fullKit, type FullKit } from './compliance-helpers';

const HOUR = 3_600_000;

const CONTROLS: ControlDefinition[] = [
  {
    id: 't-transmission',
    framework: 'hipaa',
    ref: '164.312(e)(1)',
    title: 'Transmission security',
    requirement: 'Guard against unauthorized access to ePHI transmitted over a network.',
    check: 'passwords.hashing',
    coverage: { level: 'partial', evidences: 'HSTS observed', notCovered: 'TLS configuration not observed' },
  },
  {
    id: 't-keys',
    framework: 'hipaa',
    ref: '164.312(a)(2)(iv)',
    title: 'Encryption and decryption',
    requirement: 'Implement a mechanism to encrypt and decrypt ePHI (addressable).',
    check: 'keys.algorithms',
    coverage: { level: 'full', evidences: 'every key version uses an approved AEAD' },
  },
  {
    id: 't-undeclared',
    framework: 'hipaa',
    ref: '164.312(b)',
    title: 'Audit controls',
    requirement: 'Record and examine activity in systems that contain ePHI.',
    check: 'keys.algorithms',
  },
  {
    id: 't-manual',
    framework: 'hipaa',
    ref: '164.308(a)(1)',
    title: 'Security management process',
    requirement: 'Policies and procedures to prevent, detect, contain and correct violations.',
    manual: { guidance: 'Attest the risk analysis.' },
  },
];
const catalogue = new ControlCatalogue(CONTROLS, new Set(Object.keys(AUTOMATED_CHECKS)));

let f: FullKit;
beforeEach(async () => {
  f = await fullKit();
});
afterEach(async () => {
  await f.close();
});

describe('coverage: partial passes are shown and counted as partial', () => {
  it('splits passes by declared coverage; undeclared coverage counts as partial', async () => {
    const result = await new ComplianceReport(f.kit, { catalogue }).run('hipaa');
    const byId = Object.fromEntries(result.controls.map((c) => [c.id, c]));
    expect(byId['t-transmission']).toMatchObject({ status: 'pass', passLevel: 'partial' });
    expect(byId['t-keys']).toMatchObject({ status: 'pass', passLevel: 'full' });
    expect(byId['t-undeclared']).toMatchObject({ status: 'pass', passLevel: 'partial' });
    expect(result.frameworks[0]).toMatchObject({
      passedFull: 1,
      passedPartial: 2,
      failed: 0,
      applicable: 3,
      unattested: 1,
      attested: 0,
      automatedFullPassRate: 0.333,
    });
    expect(result.frameworks[0]).not.toHaveProperty('score');
  });

  it('names the slice next to the clause in every format, and no format shows a single percentage', async () => {
    const result = await new ComplianceReport(f.kit, { catalogue }).run('hipaa');
    const md = renderMarkdown(result);
    expect(md).toMatch(
      /t-transmission.*PASS \(partial\).*partial: HSTS observed; not covered: TLS configuration not observed/,
    );
    expect(md).toMatch(/t-keys.*PASS \(full\).*full: every key version/);
    expect(md).toContain('coverage not declared (a pass counts as partial)');
    const html = renderHtml(result);
    expect(html).toContain('data-pass-level="partial"');
    expect(html).toContain('Coverage: partial: HSTS observed; not covered: TLS configuration not observed');
    for (const text of [md, html.replace(/<style>[\s\S]*<\/style>/, '')])
      expect(text).not.toMatch(/\d+(\.\d+)?\s*%/);
    const oscal = JSON.parse(renderOscal(result));
    const findings = oscal['assessment-results'].results[0].findings as {
      target: { 'target-id': string; status: { state: string; remarks?: string } };
      props: { name: string; value: string }[];
      remarks?: string;
    }[];
    const partial = findings.find((x) => x.target['target-id'] === 't-transmission')!;
    expect(partial.target.status.state).toBe('satisfied');
    expect(partial.target.status.remarks).toMatch(
      /Partial satisfaction.*HSTS observed.*TLS configuration not observed/,
    );
    expect(partial.props).toEqual(
      expect.arrayContaining([{ name: 'coverage', value: 'partial', ns: expect.any(String) }]),
    );
    expect(partial.remarks).toMatch(/^Partial satisfaction/);
    const full = findings.find((x) => x.target['target-id'] === 't-keys')!;
    expect(full.target.status).toEqual({ state: 'satisfied' });
    expect(JSON.stringify(oscal)).not.toMatch(/"score"/);
  });
});

describe('report metadata', () => {
  it('names the system, period, author, evidence source and age', async () => {
    const collected = new Date('2026-12-01T10:00:00Z');
    const kit = (await fullKit({ clock: () => collected })).kit;
    const result = await new ComplianceReport(kit, {
      catalogue,
      system: 'clinic API (production)',
      period: { from: '2026-09-01', to: new Date('2026-11-30T23:59:59Z') },
      generatedBy: 'compliance-job',
      clock: () => new Date(collected.getTime() + 90_000),
    }).run('all');
    expect(result.metadata).toEqual({
      system: 'clinic API (production)',
      period: { from: '2026-09-01T00:00:00.000Z', to: '2026-11-30T23:59:59.000Z' },
      generatedBy: 'compliance-job',
      evidence: { source: 'live', collectedAt: collected.toISOString(), ageSeconds: 90 },
    });
    const md = renderMarkdown(result);
    expect(md).toContain('**System:** clinic API (production)');
    expect(md).toContain('**Period covered:** 2026-09-01T00:00:00.000Z to 2026-11-30T23:59:59.000Z');
    expect(md).toContain('by compliance-job');
    expect(md).toMatch(
      /\*\*Evidence:\*\* read live from the running services at 2026-12-01T10:00:00.000Z, 1m before generation/,
    );
    const html = renderHtml(result);
    expect(html).toContain('<dd data-meta="system">clinic API (production)</dd>');
    const oscal = JSON.parse(renderOscal(result))['assessment-results'];
    expect(oscal.metadata.props).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: 'system', value: 'clinic API (production)' }),
        expect.objectContaining({ name: 'evidence-source', value: 'live' }),
        expect.objectContaining({ name: 'generated-by', value: 'compliance-job' }),
      ]),
    );
    expect(oscal.results[0].start).toBe('2026-09-01T00:00:00.000Z');
  });

  it('refuses malformed metadata', () => {
    expect(() => new ComplianceReport(f.kit, { system: 'a\nb' })).toThrow(/system/);
    expect(() => new ComplianceReport(f.kit, { period: { from: '2026-02-01', to: '2026-01-01' } })).toThrow(
      /period.to/,
    );
    expect(() => new ComplianceReport(f.kit, { period: { from: 'x', to: '2026-01-01' } })).toThrow(
      /period.from/,
    );
    expect(() => new ComplianceReport(f.kit, { previous: { controls: 'x' } as never })).toThrow(/previous/);
  });

  it('compares with a previous report: changed, added and removed controls', async () => {
    const before = await new ComplianceReport(f.kit, { catalogue }).run('hipaa');
    // make the previous report look as if t-keys failed, t-manual did not exist and another control did
    const previous: ComplianceReportResult = {
      ...before,
      controls: [
        ...before.controls
          .filter((c) => c.id !== 't-manual')
          .map((c) => (c.id === 't-keys' ? { ...c, status: 'fail' as const, passLevel: undefined } : c)),
        { ...before.controls[0]!, id: 't-gone' },
      ],
    };
    const result = await new ComplianceReport(f.kit, { catalogue, previous }).run('hipaa');
    expect(result.comparison).toEqual({
      previousGeneratedAt: before.generatedAt,
      changed: [{ id: 't-keys', from: 'fail', to: 'pass' }],
      added: ['t-manual'],
      removed: ['t-gone'],
      unchanged: 2,
    });
    // full -> partial is a change too
    const downgraded = compareReports(
      {
        ...result,
        controls: result.controls.map((c) =>
          c.id === 't-keys' ? { ...c, passLevel: 'partial' as const } : c,
        ),
      },
      result,
    );
    expect(downgraded.changed).toEqual([{ id: 't-keys', from: 'pass', to: 'pass (partial)' }]);
    expect(renderMarkdown(result)).toContain('**t-keys**: fail → pass');
    expect(renderHtml(result)).toContain('<code>t-keys</code>: fail → pass');
  });
});

describe('OSCAL with everything in it', () => {
  it('validates against the NIST assessment-results 1.0.4 schema: partial passes, attestations, metadata, snapshot', async () => {
    const schema = JSON.parse(
      readFileSync(path.resolve(__dirname, '../vectors/oscal_assessment-results_schema_v1.0.4.json'), 'utf8'),
    );
    const ajv = new Ajv({ allErrors: true, strict: false });
    addFormats(ajv);
    const validate = ajv.compile(schema);
    const g = await fullKit({ catalogue });
    await g.kit.attest('t-manual', {
      by: 'Ada',
      role: 'CISO',
      statement: 'Risk analysis approved.',
      evidenceUri: 'urn:isbn:0451450523',
      expiresAt: new Date(Date.now() + 86_400_000),
    });
    const signer = await ComplianceSigner.generate('report', { kid: 'r1' });
    const snapshotKey = await ComplianceSigner.generate('snapshot');
    const verified = await verifyEvidenceSnapshot(await g.kit.snapshot({ privateKey: snapshotKey }), {
      publicKey: snapshotKey.publicKey,
    });
    await g.close();
    expect(verified.attestations).toHaveLength(1);
    const fromSnapshot = evaluateControls(verified.bundle, 'all', {
      catalogue,
      attestations: verified.attestations,
      snapshot: { signedAt: verified.signedAt },
      system: 'clinic',
      period: { from: '2026-01-01', to: '2026-03-31' },
      generatedBy: 'ci',
    });
    const signed = await signComplianceReport(
      { ...fromSnapshot, comparison: compareReports(fromSnapshot, fromSnapshot) },
      signer,
    );
    const doc = JSON.parse(renderOscal(signed));
    validate(doc);
    expect(validate.errors ?? []).toEqual([]);
    const observations = doc['assessment-results'].results[0].observations;
    expect(observations.some((o: { methods: string[] }) => o.methods[0] === 'INTERVIEW')).toBe(true);
  });
});

describe('report signature', () => {
  it('signs the canonical JSON report; any change fails verification', async () => {
    const signer = await ComplianceSigner.generate('report', { kid: 'reports-2026' });
    const result = await new ComplianceReport(f.kit, { catalogue, signer }).run('hipaa');
    expect(result.signature).toMatchObject({
      alg: 'EdDSA',
      keyId: 'reports-2026',
      typ: 'bulwark-compliance-report+jws',
    });
    expect(result.signature!.jws).toMatch(/^[\w-]+\.\.[\w-]+$/);
    const publicKey = await signer.exportPublicJwk();
    await verifyComplianceReport(result, publicKey);
    // survives the JSON round trip an auditor receives
    await verifyComplianceReport(JSON.parse(renderJson(result)), publicKey);

    const tampered: ComplianceReportResult = {
      ...result,
      controls: result.controls.map((c) =>
        c.id === 't-transmission' ? { ...c, passLevel: 'full' as const } : c,
      ),
    };
    await expect(verifyComplianceReport(tampered, publicKey)).rejects.toMatchObject({
      code: 'ERR_COMPLIANCE_REPORT_SIGNATURE_INVALID',
    });
    const other = await ComplianceSigner.generate('report');
    await expect(verifyComplianceReport(result, await other.exportPublicJwk())).rejects.toBeInstanceOf(
      BulwarkComplianceError,
    );
    const { signature, ...unsigned } = result;
    expect(signature).toBeDefined();
    await expect(verifyComplianceReport(unsigned as ComplianceReportResult, publicKey)).rejects.toThrow(
      /no detached signature/,
    );
    // a signer for another purpose cannot sign reports, and a snapshot signature is not a report signature
    const snapshotKey = await ComplianceSigner.generate('snapshot');
    expect(() => new ComplianceReport(f.kit, { signer: snapshotKey })).toThrow(/purpose "report"/);
    await expect(signComplianceReport(result, snapshotKey)).rejects.toThrow(/purpose "report"/);
    expect(renderMarkdown(result)).toContain('**Signature:** detached JWS (EdDSA, key reports-2026)');
  });
});

describe('signed evidence snapshots', () => {
  const now = new Date('2026-12-01T12:00:00Z');
  let signer: ComplianceSigner;
  let snapshot: SignedEvidenceSnapshot;
  beforeAll(async () => {
    signer = await ComplianceSigner.generate('snapshot', { kid: 'collector-1' });
  });
  beforeEach(async () => {
    const g = await fullKit({ clock: () => new Date(now.getTime() - HOUR) });
    snapshot = await g.kit.snapshot({ privateKey: await signer.exportPrivateJwk(), keyId: 'collector-1' });
    await g.close();
  });

  it('verifies and marks every evidence item as snapshot provenance', async () => {
    const v = await verifyEvidenceSnapshot(JSON.parse(JSON.stringify(snapshot)), {
      publicKey: await signer.exportPublicJwk(),
      now,
    });
    expect(v).toMatchObject({
      keyId: 'collector-1',
      ageMs: HOUR,
      collectedAt: new Date(now.getTime() - HOUR).toISOString(),
    });
    const items = Object.entries(v.bundle).filter(
      ([k]) => !['collectedAt', 'settings', 'errors'].includes(k),
    );
    expect(items.length).toBeGreaterThan(5);
    for (const [, e] of items) expect((e as { provenance: string }).provenance).toBe('snapshot');
    const result = evaluateControls(v.bundle, 'all', {
      generatedAt: now,
      snapshot: { signedAt: v.signedAt, keyId: 'collector-1' },
    });
    expect(result.metadata.evidence).toMatchObject({
      source: 'snapshot',
      ageSeconds: 3600,
      snapshot: { keyId: 'collector-1' },
    });
    expect(result.evidence.every((e) => e.provenance === 'snapshot')).toBe(true);
    expect(renderMarkdown(result)).toMatch(/signed snapshot with key collector-1 .* 1h old at generation/);
    expect(renderHtml(result)).toContain('data-provenance="snapshot"');
    expect(JSON.stringify(JSON.parse(renderOscal(result)))).toContain(
      '"name":"provenance","value":"snapshot"',
    );
  });

  it('keeps declared evidence declared (a signature says who collected it, not that it was observed)', async () => {
    const g = await fullKit({ clock: () => new Date(now.getTime() - HOUR) });
    const bundle = await g.kit.collectEvidence();
    await g.close();
    const declared: EvidenceBundle = { ...bundle, keys: { ...bundle.keys!, provenance: 'declared' } };
    const doc = await signEvidenceSnapshot(declared, [], signer, now);
    const v = await verifyEvidenceSnapshot(doc, { publicKey: signer.publicKey, now });
    expect(v.bundle.keys!.provenance).toBe('declared');
    expect(v.bundle.passwords!.provenance).toBe('snapshot');
  });

  it('refuses unsigned, tampered, wrongly signed, stale, future-dated and cross-purpose documents', async () => {
    const publicKey = await signer.exportPublicJwk();
    const refuse = async (
      doc: unknown,
      code: string,
      options: { maxAgeMs?: number; key?: unknown; at?: Date } = {},
    ) =>
      expect(
        verifyEvidenceSnapshot(doc, {
          publicKey: (options.key ?? publicKey) as never,
          now: options.at ?? now,
          ...(options.maxAgeMs === undefined ? {} : { maxAgeMs: options.maxAgeMs }),
        }),
      ).rejects.toMatchObject({ code });
    // a hand-written bundle (the forged file)
    await refuse(
      {
        collectedAt: now.toISOString(),
        settings: { privilegedRoles: ['admin'], httpSurface: false },
        errors: {},
      },
      'ERR_COMPLIANCE_SNAPSHOT_INVALID',
    );
    // one character of the payload changed
    const [h, p, s] = snapshot.jws.split('.');
    const flipped = p!.slice(0, 40) + (p![40] === 'A' ? 'B' : 'A') + p!.slice(41);
    await refuse({ ...snapshot, jws: `${h}.${flipped}.${s}` }, 'ERR_COMPLIANCE_SNAPSHOT_INVALID');
    // another key
    const other = await ComplianceSigner.generate('snapshot');
    await refuse(snapshot, 'ERR_COMPLIANCE_SNAPSHOT_INVALID', { key: await other.exportPublicJwk() });
    // a PEM key object works the same way
    const { publicKey: pem } = generateKeyPairSync('ed25519');
    await refuse(snapshot, 'ERR_COMPLIANCE_SNAPSHOT_INVALID', { key: pem });
    // stale: default 24 h, and a configured maximum
    await refuse(snapshot, 'ERR_COMPLIANCE_SNAPSHOT_STALE', { at: new Date(now.getTime() + 24 * HOUR) });
    await refuse(snapshot, 'ERR_COMPLIANCE_SNAPSHOT_STALE', { maxAgeMs: 30 * 60_000 });
    // from the future
    await refuse(snapshot, 'ERR_COMPLIANCE_SNAPSHOT_STALE', { at: new Date(now.getTime() - 2 * HOUR) });
    // an attestation-typed JWS from the same key bytes is not a snapshot
    const sameKeyOtherPurpose = await ComplianceSigner.fromJWK(
      'attestation',
      await signer.exportPrivateJwk(),
    );
    const jws = await sameKeyOtherPurpose.sign(
      Buffer.from(JSON.stringify({ format: 'bulwark-evidence-snapshot/1' })),
    );
    await refuse({ ...snapshot, jws }, 'ERR_COMPLIANCE_SNAPSHOT_INVALID');
  });
});
