import { ErrorCodes } from '../../src/errors';
import { ClassificationRegistry } from '../../src/privacy/classification-registry';
import { ProcessingRegister } from '../../src/privacy/processing-register';
import { ProcessorRegister } from '../../src/privacy/processor-register';

async function setup() {
  const classification = new ClassificationRegistry();
  classification.register({
    entity: 'Patient',
    field: 'name',
    category: 'personal',
    encrypted: true,
    purpose: 'treatment',
  });
  classification.register({
    entity: 'Patient',
    field: 'diagnosis',
    category: 'phi',
    encrypted: true,
    purpose: 'treatment',
  });
  classification.register({
    entity: 'Card',
    field: 'pan',
    category: 'cardholder',
    encrypted: true,
    purpose: 'billing',
  });
  classification.register({
    entity: 'User',
    field: 'email',
    category: 'personal',
    encrypted: false,
    purpose: 'newsletter',
  });
  const processors = new ProcessorRegister();
  await processors.register({
    id: 'ehr-host',
    name: 'EHR Hosting | Inc.',
    role: 'business-associate',
    scope: { dataCategories: ['phi'], purposes: ['treatment'] },
    country: 'US',
  });
  const ropa = new ProcessingRegister({
    controller: { name: 'Clinic GmbH', contact: 'privacy@clinic.example', dpo: 'Dr. DPO' },
    classification,
    processors,
    clock: () => new Date('2025-05-01T00:00:00Z'),
  });
  await ropa.register({
    id: 'patient-care',
    name: 'Patient care',
    purposes: ['treatment'],
    lawfulBasis: 'Art. 9(2)(h)',
    entities: ['Patient'],
    dataCategories: ['appointment history'],
    subjectCategories: ['patients'],
    recipients: ['ehr-host'],
    retention: { days: 3650, description: '10 years after last treatment' },
    transfers: [{ country: 'US', mechanism: 'SCC', recipient: 'EHR Hosting' }],
    securityMeasures: ['AES-256-GCM field encryption', 'tamper-evident audit log'],
  });
  await ropa.register({
    id: 'billing',
    name: 'Billing',
    purposes: ['billing'],
    subjectCategories: ['patients', 'payers'],
    retention: { description: 'as required by tax law' },
    securityMeasures: ['PCI DSS scope reduction'],
  });
  return { ropa, classification, processors };
}

describe('ProcessingRegister (GDPR Art. 30 record)', () => {
  it('resolves data categories from the classification registry and recipients from the processor register', async () => {
    const { ropa } = await setup();
    const json = await ropa.toJSON();
    expect(json.format).toBe('bulwark-ropa/1');
    expect(json.controller).toEqual({
      name: 'Clinic GmbH',
      contact: 'privacy@clinic.example',
      dpo: 'Dr. DPO',
    });
    expect(json.activities.map((a) => a.id)).toEqual(['billing', 'patient-care']);
    const care = json.activities[1]!;
    expect(care.dataCategories).toEqual([
      { category: 'personal', name: 'Personal data', fields: ['Patient.name'] },
      { category: 'phi', name: 'Protected health information', fields: ['Patient.diagnosis'] },
      { category: 'declared', name: 'appointment history', fields: [] },
    ]);
    expect(care.recipients).toEqual([
      { id: 'ehr-host', name: 'EHR Hosting | Inc.', role: 'business-associate', country: 'US' },
    ]);
    // billing has no entities, but its purpose picks up Card.pan through the field's purpose
    expect(json.activities[0]!.dataCategories).toEqual([
      { category: 'cardholder', name: 'Cardholder data', fields: ['Card.pan'] },
    ]);
    expect(JSON.parse(JSON.stringify(json))).toEqual(json);
  });

  it('renders Markdown with every Art. 30(1) item, escaping table-breaking text', async () => {
    const md = await (await setup()).ropa.toMarkdown();
    expect(md).toContain('# Record of processing activities');
    expect(md).toContain('**Controller:** Clinic GmbH (privacy@clinic.example)');
    expect(md).toContain('**Data protection officer:** Dr. DPO');
    expect(md).toContain('## Patient care (`patient-care`)');
    expect(md).toContain('| Purposes | treatment |');
    expect(md).toContain('| Lawful basis | Art. 9(2)(h) |');
    expect(md).toContain('Protected health information: `Patient.diagnosis`');
    expect(md).toContain('| Categories of data subjects | patients |');
    expect(md).toContain('EHR Hosting \\| Inc. (business-associate, US)');
    expect(md).toContain('| Retention | 10 years after last treatment (3650 days) |');
    expect(md).toContain('| Transfers to third countries | US (SCC, EHR Hosting) |');
    expect(md).toContain('| Security measures | AES-256-GCM field encryption; tamper-evident audit log |');
    expect(md).toContain('| Recipients | — |'); // billing has none
    // every table row has exactly the two cells
    for (const line of md.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| ---'))) {
      expect(line.replace(/\\\|/g, '').split('|').length).toBe(4);
    }
  });

  it('follows the registry: a newly classified field appears without re-registering the activity', async () => {
    const { ropa, classification } = await setup();
    classification.register({
      entity: 'Patient',
      field: 'insuranceNo',
      category: 'sensitive',
      encrypted: false,
    });
    const care = (await ropa.toJSON()).activities.find((a) => a.id === 'patient-care')!;
    expect(care.dataCategories.map((d) => d.category)).toContain('sensitive');
  });

  it('reports gaps and validates input', async () => {
    const { ropa, processors } = await setup();
    await processors.register({
      id: 'mailer',
      name: 'M',
      role: 'processor',
      scope: { dataCategories: ['personal'], purposes: ['newsletter'] },
    });
    await ropa.register({
      id: 'news',
      name: 'Newsletter',
      purposes: ['newsletter', 'profiling'],
      subjectCategories: ['customers'],
      recipients: ['mailer'],
      retention: { description: 'until withdrawal' },
      securityMeasures: ['TLS'],
    });
    expect(await ropa.gaps()).toEqual([
      { activityId: 'news', issue: 'recipient mailer is not engaged for all purposes of the activity' },
    ]);
    const base = {
      name: 'x',
      purposes: ['p'],
      subjectCategories: ['s'],
      retention: { description: 'r' },
      securityMeasures: ['m'],
    };
    const code = async (fn: () => unknown) => {
      try {
        await fn();
      } catch (e) {
        return (e as { code: string }).code;
      }
      return 'no error';
    };
    expect(await code(() => ropa.register({ id: 'x', ...base, recipients: ['ghost'] }))).toBe(
      ErrorCodes.PRIVACY_INVALID_ARGUMENT,
    );
    expect(await code(() => ropa.register({ id: 'x', ...base, purposes: [] }))).toBe(
      ErrorCodes.PRIVACY_INVALID_ARGUMENT,
    );
    expect(await code(() => ropa.register({ id: 'x', ...base, securityMeasures: [] }))).toBe(
      ErrorCodes.PRIVACY_INVALID_ARGUMENT,
    );
    expect(
      await code(() =>
        ropa.register({ id: 'x', ...base, transfers: [{ country: 'USA', mechanism: 'SCC' }] }),
      ),
    ).toBe(ErrorCodes.PRIVACY_INVALID_ARGUMENT);
    expect(await code(() => ropa.register({ id: 'news', ...base }))).toBe(ErrorCodes.PRIVACY_DUPLICATE_ID);
    expect(await code(() => new ProcessingRegister({ controller: { name: '' } }))).toBe(
      ErrorCodes.PRIVACY_INVALID_ARGUMENT,
    );
  });
});

describe('ClassificationRegistry extensions', () => {
  it('builds a merged Redactor map (stricter class wins), encryption status and data categories', async () => {
    const { classification } = await setup();
    classification.register({ entity: 'Payment', field: 'name', category: 'cardholder', encrypted: false });
    expect(classification.redactorClassification()).toEqual({
      name: 'cardholder',
      diagnosis: 'phi',
      pan: 'cardholder',
      email: 'personal',
    });
    expect(classification.redactorClassification(['Patient'])).toEqual({
      name: 'personal',
      diagnosis: 'phi',
    });
    const status = classification.encryptionStatus();
    expect(status.total).toBe(5);
    expect(status.encrypted).toBe(3);
    expect(status.unencrypted.map((f) => `${f.entity}.${f.field}`)).toEqual(['Payment.name', 'User.email']);
    expect(status.byCategory.cardholder).toEqual({ total: 2, encrypted: 1 });
    expect(classification.dataCategories({ purposes: ['newsletter'] })).toEqual([
      { category: 'personal', fields: ['User.email'] },
    ]);
  });
});
