import { ErrorCodes } from '../../src/errors';
import { ProcessorRegister } from '../../src/privacy/processor-register';

const NOW = new Date('2025-06-01T00:00:00Z');

async function register() {
  const r = new ProcessorRegister();
  await r.register({
    id: 'mailer',
    name: 'MailCo',
    role: 'processor',
    agreements: [{ type: 'DPA', signedAt: '2024-01-01', expiresAt: '2026-01-01' }],
    scope: { dataCategories: ['personal'], purposes: ['newsletter'] },
    country: 'US',
    transferMechanism: 'SCC',
  });
  await r.register({
    id: 'cloud',
    name: 'CloudHost',
    role: 'processor',
    agreements: [{ type: 'DPA', signedAt: '2023-01-01', expiresAt: '2025-05-01' }],
    scope: { dataCategories: ['personal', 'phi'], purposes: ['hosting'] },
    country: 'DE',
  });
  await r.register({
    id: 'cdn',
    name: 'EdgeCo',
    role: 'sub-processor',
    parentId: 'cloud',
    scope: { dataCategories: ['personal'], purposes: ['hosting'] },
  });
  await r.register({
    id: 'billing',
    name: 'Billing BA',
    role: 'business-associate',
    agreements: [{ type: 'BAA', signedAt: '2025-01-01' }, { type: 'DPA' }],
    scope: { dataCategories: ['phi'], purposes: ['billing'] },
  });
  await r.register({
    id: 'tax',
    name: 'Tax office',
    role: 'controller',
    scope: { dataCategories: ['personal'], purposes: ['tax'] },
  });
  return r;
}

describe('ProcessorRegister', () => {
  it('lists recipients and filters by role', async () => {
    const r = await register();
    expect((await r.list()).map((p) => p.id)).toEqual(['billing', 'cdn', 'cloud', 'mailer', 'tax']);
    expect((await r.list({ role: 'processor' })).map((p) => p.id)).toEqual(['cloud', 'mailer']);
    expect(await r.get('mailer')).toMatchObject({
      transferMechanism: 'SCC',
      agreements: [{ signedAt: '2024-01-01T00:00:00.000Z' }],
    });
    expect(Object.isFrozen(await r.get('mailer'))).toBe(true);
  });

  it('reports expired and soon-expiring agreements', async () => {
    const r = await register();
    expect((await r.expired(NOW)).map((e) => `${e.processorId}:${e.agreement.type}`)).toEqual(['cloud:DPA']);
    expect((await r.expired(new Date('2026-01-01T00:00:00Z'))).map((e) => e.processorId)).toEqual([
      'cloud',
      'mailer',
    ]);
    expect((await r.expiringWithin(214, NOW)).map((e) => e.processorId)).toEqual(['mailer']);
    expect(await r.expiringWithin(30, NOW)).toEqual([]);
  });

  it('finds missing, unsigned and expired agreements per role (GDPR Art. 28, HIPAA 164.502(e), SCC)', async () => {
    const gaps = await (await register()).missingAgreements(NOW);
    // billing is a business associate with a signed BAA: no gap (its unsigned DPA is not required).
    expect(gaps.map((g) => `${g.processorId}:${g.required}:${g.reason}`).sort()).toEqual([
      'cdn:DPA:missing',
      'cloud:BAA:missing',
      'cloud:DPA:expired',
      'mailer:SCC:missing',
    ]);
    expect(gaps.find((g) => g.processorId === 'cloud' && g.required === 'BAA')?.basis).toMatch(
      /164\.502\(e\)/,
    );
    expect(gaps.find((g) => g.processorId === 'cdn')?.basis).toBe('GDPR Art. 28(3)');
  });

  it('treats a future signing date as not signed yet', async () => {
    const r = new ProcessorRegister();
    await r.register({
      id: 'p',
      name: 'P',
      role: 'processor',
      agreements: [{ type: 'DPA', signedAt: '2025-07-01' }],
      scope: { dataCategories: ['personal'], purposes: ['x'] },
    });
    expect(await r.missingAgreements(NOW)).toEqual([
      { processorId: 'p', required: 'DPA', reason: 'not-signed', basis: 'GDPR Art. 28(3)' },
    ]);
    expect(await r.missingAgreements(new Date('2025-07-02'))).toEqual([]);
  });

  it('validates input with typed errors', async () => {
    const r = await register();
    const code = async (fn: () => unknown) => {
      try {
        await fn();
      } catch (e) {
        return (e as { code: string }).code;
      }
      return 'no error';
    };
    const scope = { dataCategories: ['personal'], purposes: ['x'] };
    expect(await code(() => r.register({ id: 'mailer', name: 'dup', role: 'processor', scope }))).toBe(
      ErrorCodes.PRIVACY_DUPLICATE_ID,
    );
    expect(await code(() => r.register({ id: 'x', name: 'X', role: 'vendor' as 'processor', scope }))).toBe(
      ErrorCodes.PRIVACY_INVALID_ARGUMENT,
    );
    expect(
      await code(() => r.register({ id: 'x', name: 'X', role: 'sub-processor', parentId: 'nope', scope })),
    ).toBe(ErrorCodes.PRIVACY_INVALID_ARGUMENT);
    expect(
      await code(() =>
        r.register({
          id: 'x',
          name: 'X',
          role: 'processor',
          agreements: [{ type: 'DPA', signedAt: '2025-01-02', expiresAt: '2025-01-01' }],
          scope,
        }),
      ),
    ).toBe(ErrorCodes.PRIVACY_INVALID_ARGUMENT);
    expect(
      await code(() =>
        r.register({
          id: 'x',
          name: 'X',
          role: 'processor',
          agreements: [{ type: 'DPA', signedAt: 'soon' }],
          scope,
        }),
      ),
    ).toBe(ErrorCodes.PRIVACY_INVALID_ARGUMENT);
    expect(
      await code(() =>
        r.register({ id: 'x', name: 'X', role: 'processor', scope: { dataCategories: [], purposes: ['x'] } }),
      ),
    ).toBe(ErrorCodes.PRIVACY_INVALID_ARGUMENT);
    expect(
      await code(() => r.register({ id: 'x', name: 'X', role: 'processor', scope, country: 'Germany' })),
    ).toBe(ErrorCodes.PRIVACY_INVALID_ARGUMENT);
    expect(await code(() => r.remove('cloud'))).toBe(ErrorCodes.PRIVACY_INVALID_ARGUMENT); // has a sub-processor
    expect(await code(() => r.remove('ghost'))).toBe(ErrorCodes.PRIVACY_NOT_FOUND);
  });
});
