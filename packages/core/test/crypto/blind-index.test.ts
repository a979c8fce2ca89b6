import { createHmac, hkdfSync } from 'node:crypto';
import { normalisers } from '../../src/crypto/blind-index';
import { KeyRing } from '../../src/crypto/key-ring';
import { MemoryKeyStore } from '../../src/crypto/memory-key-store';
import { ErrorCodes } from '../../src/errors';
import { codeOf, memoryRing, providerFor } from './helpers';

describe('blind indexes', () => {
  let ring: KeyRing;
  beforeEach(async () => {
    ring = await memoryRing();
    await ring.createKey('pii');
    await ring.createKey('other');
  });
  afterEach(() => ring.close());

  it('is deterministic, 32 bits of lower-case hex by default, and differs for different values', () => {
    const a = ring.blindIndex('pii', 'alice@example.com');
    expect(a).toMatch(/^[0-9a-f]{8}$/);
    expect(ring.blindIndex('pii', 'alice@example.com')).toBe(a);
    expect(ring.blindIndex('pii', 'bob@example.com')).not.toBe(a);
  });

  it('matches the documented construction: HMAC-SHA256 under HKDF(first version key), truncated', async () => {
    const internals = ring as unknown as {
      named: { keys: Map<string, { versions: Map<number, { raw: Buffer }> }> };
    };
    const raw = internals.named.keys.get('pii')!.versions.get(1)!.raw;
    const indexKey = Buffer.from(hkdfSync('sha256', raw, Buffer.alloc(0), 'bulwark/v1/blind-index/pii', 32));
    const context = Buffer.from('users.email');
    const prefix = Buffer.alloc(4);
    prefix.writeUInt32BE(context.length);
    const mac = createHmac('sha256', indexKey).update(prefix).update(context).update('v').digest();
    expect(ring.blindIndex('pii', 'v', { context: 'users.email', bits: 256 })).toBe(mac.toString('hex'));
  });

  it('applies built-in normalisers by name or function, in order', () => {
    const email = ['trim', 'lowercase'] as const;
    expect(ring.blindIndex('pii', '  Alice@Example.COM ', { normalise: [...email] })).toBe(
      ring.blindIndex('pii', 'alice@example.com'),
    );
    expect(ring.blindIndex('pii', '4111-1111 1111-1234', { normalise: ['digitsOnly', 'last4'] })).toBe(
      ring.blindIndex('pii', '1234'),
    );
    expect(ring.blindIndex('pii', ' a \t b\n c ', { normalise: normalisers.collapseWhitespace })).toBe(
      ring.blindIndex('pii', 'a b c'),
    );
    expect(ring.blindIndex('pii', 'ＡＢＣ１', { normalise: ['nfkc', 'lowercase'] })).toBe(
      ring.blindIndex('pii', 'abc1'),
    );
    expect(ring.blindIndex('pii', 'ABC', { normalise: (v) => v.split('').reverse().join('') })).toBe(
      ring.blindIndex('pii', 'CBA'),
    );
    // Without a normaliser, case matters.
    expect(ring.blindIndex('pii', 'Alice')).not.toBe(ring.blindIndex('pii', 'alice'));
    expect(normalisers.last4('12')).toBe('12');
    expect(normalisers.digitsOnly('+33 (0)1-23')).toBe('330123');
  });

  it('honours bit lengths, zeroing the unused low bits, in hex or base64url', () => {
    const full = ring.blindIndex('pii', 'v', { bits: 256 });
    expect(full).toHaveLength(64);
    expect(ring.blindIndex('pii', 'v', { bits: 64 })).toBe(full.slice(0, 16));
    expect(ring.blindIndex('pii', 'v', { bits: 8 })).toBe(full.slice(0, 2));
    const twelve = ring.blindIndex('pii', 'v', { bits: 12 });
    expect(twelve).toHaveLength(4);
    expect(twelve.slice(0, 3)).toBe(full.slice(0, 3));
    expect(twelve[3]).toBe('0');
    const one = parseInt(ring.blindIndex('pii', 'v', { bits: 1 }), 16);
    expect(one === 0 || one === 0x80).toBe(true);
    expect(ring.blindIndex('pii', 'v', { bits: 256, encoding: 'base64url' })).toBe(
      Buffer.from(full, 'hex').toString('base64url'),
    );
    for (const bits of [0, 257, 7.5, -8, NaN]) {
      expect(codeOf(() => ring.blindIndex('pii', 'v', { bits }))).toBe(ErrorCodes.CRYPTO_INVALID_ARGUMENT);
    }
    expect(codeOf(() => ring.blindIndex('pii', 'v', { normalise: 'upper' as 'trim' }))).toBe(
      ErrorCodes.CRYPTO_INVALID_ARGUMENT,
    );
    expect(codeOf(() => ring.blindIndex('pii', 5 as unknown as string))).toBe(
      ErrorCodes.CRYPTO_INVALID_ARGUMENT,
    );
  });

  it('differs across keys and across contexts (columns)', () => {
    const a = ring.blindIndex('pii', 'v', { bits: 128 });
    expect(ring.blindIndex('other', 'v', { bits: 128 })).not.toBe(a);
    expect(ring.blindIndex('pii', 'v', { bits: 128, context: 'users.email' })).not.toBe(a);
    expect(ring.blindIndex('pii', 'v', { bits: 128, context: 'users.email' })).not.toBe(
      ring.blindIndex('pii', 'v', { bits: 128, context: 'admins.email' }),
    );
    expect(codeOf(() => ring.blindIndex('nope', 'v'))).toBe(ErrorCodes.CRYPTO_UNKNOWN_KEY);
  });

  it('stays stable across rotation, retirement and reopening', async () => {
    const store = new MemoryKeyStore();
    const provider = providerFor();
    const first = await KeyRing.open({ provider, store });
    await first.createKey('pii');
    const before = first.blindIndex('pii', 'alice@example.com', { bits: 128 });
    await first.rotate('pii');
    expect(first.blindIndex('pii', 'alice@example.com', { bits: 128 })).toBe(before);
    await first.rotate('pii');
    await first.retire('pii', 3);
    expect(first.blindIndex('pii', 'alice@example.com', { bits: 128 })).toBe(before);
    const reopened = await KeyRing.open({ provider, store });
    expect(reopened.blindIndex('pii', 'alice@example.com', { bits: 128 })).toBe(before);
    await reopened.close();
    await first.close();
  });
});
