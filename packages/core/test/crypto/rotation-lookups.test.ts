import { ErrorCodes } from '../../src/errors';
import { codeOf, memoryRing } from './helpers';

describe('lookups that span a rotation', () => {
  it('lookupEnvelopes lists the deterministic envelope under every live version and both formats', async () => {
    const ring = await memoryRing();
    await ring.createKey('pii');
    const v1 = ring.encrypt('pii', 'NI-1', { aad: 'users.nid', deterministic: true });
    await ring.rotate('pii');
    const v2 = ring.encrypt('pii', 'NI-1', { aad: 'users.nid', deterministic: true });
    const list = ring.lookupEnvelopes('pii', 'NI-1', { aad: 'users.nid' });
    expect(list.map((e) => e.split('.').slice(0, 3).join('.'))).toEqual([
      'bw2d.pii.2',
      'bw2d.pii.1',
      'bw1d.pii.2',
      'bw1d.pii.1',
    ]);
    expect(list).toContain(v1);
    expect(list).toContain(v2);
    // Another aad or value gives other envelopes: a lookup cannot match a neighbouring column.
    expect(ring.lookupEnvelopes('pii', 'NI-1', { aad: 'users.other' })).not.toContain(v1);
    await ring.retire('pii', 2);
    expect(ring.lookupEnvelopes('pii', 'NI-1', { aad: 'users.nid' })).toHaveLength(2);
    expect(codeOf(() => ring.lookupEnvelopes('nope', 'x'))).toBe(ErrorCodes.CRYPTO_UNKNOWN_KEY);
    await ring.close();
  });

  it('blind indexes: keyVersion primary rotates the index key, blindIndexes covers every live version', async () => {
    const ring = await memoryRing();
    await ring.createKey('pii');
    const first = ring.blindIndex('pii', 'ann@example.com');
    expect(ring.blindIndex('pii', 'ann@example.com', { keyVersion: 'primary' })).toBe(first);
    await ring.rotate('pii');
    const second = ring.blindIndex('pii', 'ann@example.com', { keyVersion: 'primary' });
    expect(second).not.toBe(first);
    expect(ring.blindIndex('pii', 'ann@example.com')).toBe(first); // the default never moves
    expect(ring.blindIndex('pii', 'ann@example.com', { keyVersion: 2 })).toBe(second);
    expect(ring.blindIndexes('pii', 'ann@example.com')).toEqual([second, first]);
    await ring.rotate('pii');
    await ring.retire('pii', 3);
    const third = ring.blindIndex('pii', 'ann@example.com', { keyVersion: 'primary' });
    expect(ring.blindIndexes('pii', 'ann@example.com')).toEqual([third]);
    expect(codeOf(() => ring.blindIndex('pii', 'x', { keyVersion: 2 }))).toBe(ErrorCodes.CRYPTO_KEY_RETIRED);
    expect(codeOf(() => ring.blindIndex('pii', 'x', { keyVersion: 9 }))).toBe(ErrorCodes.CRYPTO_UNKNOWN_KEY);
    expect(codeOf(() => ring.blindIndex('pii', 'x', { keyVersion: 0 }))).toBe(
      ErrorCodes.CRYPTO_INVALID_ARGUMENT,
    );
    await ring.close();
  });
});
