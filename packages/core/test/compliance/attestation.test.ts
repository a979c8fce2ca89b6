import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AUTOMATED_CHECKS } from '../../src/compliance/automated-checks';
import {
  FileAttestationStore,
  MemoryAttestationStore,
  type AttestationRecord,
} from '../../src/compliance/attestation';
import { ComplianceKit } from '../../src/compliance/compliance-kit';
import { ComplianceSigner } from '../../src/compliance/compliance-signing';
import { ComplianceReport, builtInCatalogue } from '../../src/compliance/compliance-report';
import { ControlCatalogue } from '../../src/compliance/control-catalogue';
import type { ControlDefinition } from '../../src/compliance/control';
import { renderHtml } from '../../src/compliance/render-html';
import { renderMarkdown } from '../../src/compliance/render-markdown';
import { renderOscal } from '../../src/compliance/render-oscal';
import { BulwarkComplianceError, BulwarkConfigError } from '../../src/errors';

const DAY = 86_400_000;
const CONTROLS: ControlDefinition[] = [
  {
    id: 'x-policy',
    framework: 'iso27001',
    ref: 'A.5.1',
    title: 'Policies for information security',
    requirement: 'Information security policy defined, approved, published and reviewed.',
    manual: { guidance: 'Attest that the policy is approved and reviewed yearly.' },
  },
  {
    id: 'x-keys',
    framework: 'iso27001',
    ref: 'A.8.24',
    title: 'Use of cryptography',
    requirement: 'Rules for cryptography are defined and implemented.',
    check: 'keys.algorithms',
    coverage: {
      level: 'partial',
      evidences: 'key algorithms read from the key ring',
      notCovered: 'key management rules',
    },
  },
];
const catalogue = new ControlCatalogue(CONTROLS, new Set(Object.keys(AUTOMATED_CHECKS)));
const INPUT = {
  by: 'Ada Lovelace',
  role: 'CISO',
  statement: 'The information security policy v3 was approved by the board on 2026-11-02.',
  evidenceUri: 'https://intranet.example/policies/isp-v3.pdf',
};

let now = new Date('2026-12-01T10:00:00Z');
const clock = (): Date => new Date(now.getTime());
beforeEach(() => {
  now = new Date('2026-12-01T10:00:00Z');
});

describe('kit.attest()', () => {
  it('refuses unknown controls, automated controls and malformed attestations with config errors', async () => {
    const kit = new ComplianceKit({ catalogue, clock });
    const expires = new Date(now.getTime() + 30 * DAY);
    const cases: [string, Record<string, unknown>, RegExp][] = [
      ['nope', { ...INPUT, expiresAt: expires }, /names no control/],
      ['x-keys', { ...INPUT, expiresAt: expires }, /automated control/],
      ['x-policy', { ...INPUT }, /expiresAt is required/],
      ['x-policy', { ...INPUT, expiresAt: new Date(now.getTime() - DAY) }, /expiresAt/],
      ['x-policy', { ...INPUT, expiresAt: 'not a date' }, /valid date/],
      ['x-policy', { ...INPUT, at: new Date(now.getTime() + DAY), expiresAt: expires }, /future/],
      ['x-policy', { ...INPUT, by: '', expiresAt: expires }, /by must be a non-empty string/],
      ['x-policy', { ...INPUT, statement: 'ok\u0007', expiresAt: expires }, /control characters/],
      [
        'x-policy',
        { ...INPUT, evidenceUri: 'javascript:alert(1)', expiresAt: expires },
        /https:, http: or urn:/,
      ],
      ['x-policy', { ...INPUT, expiresAt: expires, approved: true }, /approved is not a known/],
    ];
    for (const [id, input, message] of cases) {
      const attempt = kit.attest(id, input as never);
      await expect(attempt).rejects.toBeInstanceOf(BulwarkConfigError);
      await expect(kit.attest(id, input as never)).rejects.toThrow(message);
    }
    expect(await kit.attestations()).toEqual([]);
  });

  it('an attested control is "attested", never "pass", and stops counting when it expires', async () => {
    const kit = new ComplianceKit({ catalogue, clock });
    const view = await kit.attest('x-policy', { ...INPUT, expiresAt: new Date(now.getTime() + 30 * DAY) });
    expect(view).toMatchObject({ controlId: 'x-policy', by: 'Ada Lovelace', signature: 'unsigned' });
    // the report assesses the kit's catalogue by default
    const report = new ComplianceReport(kit, { clock });
    const r1 = await report.run('iso27001');
    expect(r1.controls.map((c) => c.id)).toEqual(['x-policy', 'x-keys']);
    const c1 = r1.controls.find((c) => c.id === 'x-policy')!;
    expect(c1.status).toBe('attested');
    expect(c1.attestation).toMatchObject({ by: 'Ada Lovelace', role: 'CISO', signature: 'unsigned' });
    expect(r1.frameworks[0]).toMatchObject({ attested: 1, unattested: 0, passedFull: 0 });
    expect(r1.controls.some((c) => c.kind === 'manual' && c.status === 'pass')).toBe(false);

    now = new Date(now.getTime() + 31 * DAY);
    const r2 = await report.run('iso27001');
    const c2 = r2.controls.find((c) => c.id === 'x-policy')!;
    expect(c2.status).toBe('unattested');
    expect(c2.summary).toMatch(/expired/);
    expect(c2.remediation).toMatch(/kit\.attest\('x-policy'/);
    expect(r2.frameworks[0]).toMatchObject({ attested: 0, unattested: 1 });
  });

  it('signs attestations; a stored record changed afterwards no longer counts', async () => {
    const store = new MemoryAttestationStore();
    const signer = await ComplianceSigner.generate('attestation', { kid: 'att-2026' });
    const kit = new ComplianceKit({ catalogue, clock, attestations: { store, signer } });
    const view = await kit.attest('x-policy', { ...INPUT, expiresAt: new Date(now.getTime() + 30 * DAY) });
    expect(view).toMatchObject({ signature: 'verified', keyId: 'att-2026' });
    const [stored] = await store.list();
    expect(stored!.jws).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);

    // A reader with only the public key verifies it too.
    const reader = new ComplianceKit({
      catalogue,
      clock,
      attestations: { store, publicKey: await signer.exportPublicJwk() },
    });
    expect((await reader.attestations())[0]!.signature).toBe('verified');
    // Without any key: signed but unverified (shown as such, still counted).
    expect(
      (await new ComplianceKit({ catalogue, clock, attestations: { store } }).attestations())[0]!.signature,
    ).toBe('unverified');

    // Forge: someone edits the stored statement (or extends the expiry) without the key.
    const forged = new MemoryAttestationStore();
    await forged.append({ ...stored!, expiresAt: new Date(now.getTime() + 3650 * DAY).toISOString() });
    const victim = new ComplianceKit({ catalogue, clock, attestations: { store: forged, signer } });
    expect((await victim.attestations())[0]!.signature).toBe('invalid');
    const result = await new ComplianceReport(victim, { catalogue, clock }).run('iso27001');
    const c = result.controls.find((x) => x.id === 'x-policy')!;
    expect(c.status).toBe('unattested');
    expect(c.summary).toMatch(/does not verify/);

    // Strip the signature and then extend the expiry: with a key configured, unsigned is not trusted.
    const stripped = new MemoryAttestationStore();
    const { jws: _jws, keyId: _keyId, ...unsignedRecord } = stored!;
    await stripped.append({
      ...unsignedRecord,
      expiresAt: new Date(now.getTime() + 3650 * DAY).toISOString(),
    });
    const strippedKit = new ComplianceKit({ catalogue, clock, attestations: { store: stripped, signer } });
    expect((await strippedKit.attestations())[0]!.signature).toBe('invalid');
    const strippedResult = await new ComplianceReport(strippedKit, { catalogue, clock }).run('iso27001');
    expect(strippedResult.controls.find((x) => x.id === 'x-policy')!.status).toBe('unattested');

    // A signature made by another key does not verify either.
    const other = await ComplianceSigner.generate('attestation');
    const wrongKey = new ComplianceKit({
      catalogue,
      clock,
      attestations: { store, publicKey: await other.exportPublicJwk() },
    });
    expect((await wrongKey.attestations())[0]!.signature).toBe('invalid');
  });

  it('refuses a signer made for another purpose', async () => {
    const snapshotKey = await ComplianceSigner.generate('snapshot');
    expect(() => new ComplianceKit({ attestations: { signer: snapshotKey } })).toThrow(
      /purpose "attestation"/,
    );
  });

  it('is shown in every format', async () => {
    const signer = await ComplianceSigner.generate('attestation');
    const kit = new ComplianceKit({ catalogue, clock, attestations: { signer } });
    await kit.attest('x-policy', {
      ...INPUT,
      statement: 'Approved <b>by</b> the board',
      expiresAt: new Date(now.getTime() + 30 * DAY),
    });
    const result = await new ComplianceReport(kit, { catalogue, clock }).run('all');
    const md = renderMarkdown(result);
    expect(md).toMatch(/x-policy.*ATTESTED.*Ada Lovelace \(CISO\)/);
    expect(md).toContain('signature verified');
    const html = renderHtml(result);
    expect(html).toContain('data-status="attested"');
    expect(html).toContain('Approved &lt;b&gt;by&lt;/b&gt; the board');
    expect(html).not.toContain('<b>by</b>');
    const oscal = JSON.parse(renderOscal(result));
    const obs = oscal['assessment-results'].results[0].observations.find(
      (o: { props: { name: string; value: string }[] }) =>
        o.props.some((p) => p.name === 'control-id' && p.value === 'x-policy'),
    );
    expect(obs.methods).toEqual(['INTERVIEW']);
    expect(obs.props).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: 'attested-by', value: 'Ada Lovelace' })]),
    );
    expect(obs['relevant-evidence'][0]).toMatchObject({ href: INPUT.evidenceUri });
    // no finding: an attestation is not a test result
    expect(
      (oscal['assessment-results'].results[0].findings ?? []).some(
        (x: { target: { 'target-id': string } }) => x.target['target-id'] === 'x-policy',
      ),
    ).toBe(false);
  });

  it('attests built-in manual controls by default', async () => {
    const manual = builtInCatalogue()
      .list()
      .find((c) => c.manual !== undefined)!;
    const kit = new ComplianceKit({ clock });
    await kit.attest(manual.id, { ...INPUT, expiresAt: new Date(now.getTime() + DAY) });
    const result = await new ComplianceReport(kit, { clock }).run(manual.framework);
    expect(result.controls.find((c) => c.id === manual.id)?.status).toBe('attested');
  });
});

describe('FileAttestationStore', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bulwark-attest-'));
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('keeps attestations across restarts in a 0600 JSON-lines file', async () => {
    const file = path.join(dir, 'sub', 'attestations.jsonl');
    const kit = new ComplianceKit({
      catalogue,
      clock,
      attestations: { store: new FileAttestationStore(file) },
    });
    await Promise.all([
      kit.attest('x-policy', { ...INPUT, expiresAt: new Date(now.getTime() + DAY) }),
      kit.attest('x-policy', { ...INPUT, by: 'Grace Hopper', expiresAt: new Date(now.getTime() + 2 * DAY) }),
    ]);
    const again = new ComplianceKit({
      catalogue,
      clock,
      attestations: { store: new FileAttestationStore(file) },
    });
    expect((await again.attestations()).map((a) => a.by).sort()).toEqual(['Ada Lovelace', 'Grace Hopper']);
    expect((await fs.stat(file)).mode & 0o777).toBe(0o600);
    expect((await fs.readFile(file, 'utf8')).trim().split('\n')).toHaveLength(2);
  });

  it('is configured with { file } (createBulwark config) and refuses a bad store', async () => {
    const file = path.join(dir, 'cfg.jsonl');
    const kit = new ComplianceKit({ catalogue, clock, attestations: { store: { file } } });
    await kit.attest('x-policy', { ...INPUT, expiresAt: new Date(now.getTime() + DAY) });
    expect(await new FileAttestationStore(file).list()).toHaveLength(1);
    expect(() => new ComplianceKit({ attestations: { store: { file: '' } } })).toThrow(
      /compliance.attestations.store.file must be a non-empty path/,
    );
    expect(() => new ComplianceKit({ attestations: { store: { list: () => [] } as never } })).toThrow(
      /must be an AttestationStore/,
    );
    expect(() => new ComplianceKit({ attestations: [] as never })).toThrow(/compliance.attestations/);
    expect(() => new ComplianceKit({ attestations: { signr: {} } as never })).toThrow(
      /compliance.attestations.signr is not a known option/,
    );
  });

  it('ignores a line torn by a crash and cuts it before the next append', async () => {
    const file = path.join(dir, 'a.jsonl');
    const store = new FileAttestationStore(file);
    const kit = new ComplianceKit({ catalogue, clock, attestations: { store } });
    await kit.attest('x-policy', { ...INPUT, expiresAt: new Date(now.getTime() + DAY) });
    await fs.appendFile(file, '{"format":"bulwark-attestation/1","id":"torn');
    expect(await store.list()).toHaveLength(1);
    await kit.attest('x-policy', { ...INPUT, by: 'Grace Hopper', expiresAt: new Date(now.getTime() + DAY) });
    const records = await new FileAttestationStore(file).list();
    expect(records.map((r: AttestationRecord) => r.by)).toEqual(['Ada Lovelace', 'Grace Hopper']);
  });

  it('fails closed on a corrupt complete line', async () => {
    const file = path.join(dir, 'a.jsonl');
    const store = new FileAttestationStore(file);
    const kit = new ComplianceKit({ catalogue, clock, attestations: { store } });
    await kit.attest('x-policy', { ...INPUT, expiresAt: new Date(now.getTime() + DAY) });
    await fs.appendFile(file, '{"format":"bulwark-attestation/1","id":"x"}\n');
    await expect(store.list()).rejects.toBeInstanceOf(BulwarkComplianceError);
    await expect(store.list()).rejects.toMatchObject({ code: 'ERR_COMPLIANCE_ATTESTATION_STORE' });
    // and a report over it fails loudly instead of showing the control unattested or attested
    await expect(new ComplianceReport(kit, { catalogue, clock }).run('all')).rejects.toMatchObject({
      code: 'ERR_COMPLIANCE_ATTESTATION_STORE',
    });
  });
});
