import fc from 'fast-check';
import { hkdfSync } from 'node:crypto';
import { keyCommitment } from '../../src/crypto/key-commitment';
import { KeyRing } from '../../src/crypto/key-ring';
import { generateMasterKey } from '../../src/crypto/master-key';
import { MemoryKeyStore } from '../../src/crypto/memory-key-store';
import { ErrorCodes } from '../../src/errors';
import { codeOf, memoryRing, providerFor } from './helpers';

/** Splits a format-2 key envelope into its six parts. */
function parts(envelope: string): string[] {
  const p = envelope.split('.');
  expect(p).toHaveLength(6);
  return p;
}

function errorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected an error');
}

describe('key-committing envelopes (format 2)', () => {
  it('writes bw2 envelopes by default, with a 256-bit commitment before the IV', async () => {
    const ring = await memoryRing();
    await ring.createKey('pii');
    const envelope = ring.encrypt('pii', 'ada@example.com', { aad: 'users.email' });
    expect(envelope).toMatch(/^bw2\.pii\.1\.[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{22,}$/);
    expect(Buffer.from(parts(envelope)[3], 'base64url')).toHaveLength(32);
    expect(ring.decryptString(envelope, { aad: 'users.email' })).toBe('ada@example.com');
    expect(ring.encrypt('pii', 'x', { deterministic: true })).toMatch(/^bw2d\.pii\.1\./);
    expect(await ring.encryptForSubject('s-1', 'x')).toMatch(/^bw2s\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}\./);
    await ring.close();
  });

  it('the commitment is HKDF-SHA256(data key, "bulwark/v2/key-commitment"), one per key version', async () => {
    const ring = await memoryRing();
    await ring.createKey('pii');
    const v1 = parts(ring.encrypt('pii', 'a'))[3];
    expect(parts(ring.encrypt('pii', 'b'))[3]).toBe(v1); // per key, not per message
    await ring.rotate('pii');
    expect(parts(ring.encrypt('pii', 'a'))[3]).not.toBe(v1);
    // Known answer for a fixed key (RFC 5869 HKDF with empty salt), computed independently.
    const key = Buffer.alloc(32, 7);
    const expected = Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), 'bulwark/v2/key-commitment', 32));
    expect(keyCommitment(key)).toBe(expected.toString('base64url'));
    await ring.close();
  });

  it('still reads format-1 envelopes, and rewrap upgrades them to format 2 under the same version', async () => {
    const store = new MemoryKeyStore();
    const masterKey = generateMasterKey();
    const old = await KeyRing.open({ provider: providerFor(masterKey), store, envelopeFormat: 1 });
    await old.createKey('pii');
    const legacy = old.encrypt('pii', 'ada', { aad: 'a' });
    expect(legacy).toMatch(/^bw1\.pii\.1\./);
    await old.close();
    const ring = await KeyRing.open({ provider: providerFor(masterKey), store, refreshIntervalMs: 0 });
    expect(ring.decryptString(legacy, { aad: 'a' })).toBe('ada');
    expect(ring.needsRewrap(legacy)).toBe(true);
    const upgraded = ring.reencrypt(legacy, { aad: 'a' });
    expect(upgraded).toMatch(/^bw2\.pii\.1\./);
    expect(ring.needsRewrap(upgraded)).toBe(false);
    expect(ring.decryptString(upgraded, { aad: 'a' })).toBe('ada');
    await ring.close();
  });

  it('an envelope opens under one key only: the same key id and version in another ring is refused by the commitment (property)', async () => {
    const a = await memoryRing({ refreshIntervalMs: 0 });
    const b = await memoryRing({ refreshIntervalMs: 0 });
    await a.createKey('pii');
    await b.createKey('pii');
    try {
      fc.assert(
        fc.property(fc.string(), fc.string(), fc.boolean(), (plaintext, aad, deterministic) => {
          const envelope = a.encrypt('pii', plaintext, { aad, deterministic });
          expect(a.decryptString(envelope, { aad })).toBe(plaintext);
          const error = errorOf(() => b.decrypt(envelope, { aad }));
          expect((error as { code?: string }).code).toBe(ErrorCodes.CRYPTO_DECRYPTION_FAILED);
          expect(error.message).toContain('key commitment');
          // Swapping in the other key's commitment does not help: the AEAD (under b's key) refuses.
          const p = parts(envelope);
          p[3] = parts(b.encrypt('pii', ''))[3];
          expect(codeOf(() => b.decrypt(p.join('.'), { aad }))).toBe(ErrorCodes.CRYPTO_DECRYPTION_FAILED);
        }),
        { numRuns: 50 },
      );
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('refuses any tampered commitment, in constant time before the AEAD runs (property)', async () => {
    const ring = await memoryRing();
    await ring.createKey('pii');
    const envelope = ring.encrypt('pii', 'card 4111 1111 1111 1111', { aad: 'c' });
    const p = parts(envelope);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    fc.assert(
      fc.property(fc.nat({ max: 42 }), fc.nat({ max: 63 }), (at, pick) => {
        const original = p[3][at];
        const replacement = alphabet[pick] === original ? alphabet[(pick + 1) % 64] : alphabet[pick];
        const forged = [...p];
        forged[3] = p[3].slice(0, at) + replacement + p[3].slice(at + 1);
        const code = codeOf(() => ring.decrypt(forged.join('.'), { aad: 'c' }));
        // A change in the last character's unused bits is non-canonical base64url: refused too.
        expect([ErrorCodes.CRYPTO_DECRYPTION_FAILED, ErrorCodes.CRYPTO_MALFORMED]).toContain(code);
      }),
      { numRuns: 200 },
    );
    expect(codeOf(() => ring.decrypt([...p.slice(0, 3), p[3].slice(1), ...p.slice(4)].join('.')))).toBe(
      ErrorCodes.CRYPTO_MALFORMED,
    );
    await ring.close();
  });

  it('acceptFormat1: false refuses format-1 envelopes (no downgrade past the commitment), format 2 still opens', async () => {
    const store = new MemoryKeyStore();
    const provider = providerFor();
    const old = await KeyRing.open({ provider, store, envelopeFormat: 1, refreshIntervalMs: 0 });
    await old.createKey('pii');
    const legacy = old.encrypt('pii', 'ada', { aad: 'a' });
    const legacyDet = old.encrypt('pii', 'ada', { aad: 'a', deterministic: true });
    const strict = await KeyRing.open({ provider, store, refreshIntervalMs: 0, acceptFormat1: false });
    expect(codeOf(() => strict.decrypt(legacy, { aad: 'a' }))).toBe(ErrorCodes.CRYPTO_DECRYPTION_FAILED);
    expect(codeOf(() => strict.decrypt(legacyDet, { aad: 'a' }))).toBe(ErrorCodes.CRYPTO_DECRYPTION_FAILED);
    expect(codeOf(() => strict.reencrypt(legacy, { aad: 'a' }))).toBe(ErrorCodes.CRYPTO_DECRYPTION_FAILED);
    // Equality lookups no longer list format-1 envelopes either.
    const lookups = strict.lookupEnvelopes('pii', 'ada', { aad: 'a' });
    expect(lookups).not.toContain(legacyDet);
    expect(lookups.every((e) => e.startsWith('bw2d.'))).toBe(true);
    expect(strict.decryptString(strict.encrypt('pii', 'ada', { aad: 'a' }), { aad: 'a' })).toBe('ada');
    // Subject envelopes: format 1 refused as well.
    const legacySubject = await old.encryptForSubject('s-1', 'x');
    await strict.refresh();
    await expect(strict.decryptForSubject('s-1', legacySubject)).rejects.toMatchObject({
      code: ErrorCodes.CRYPTO_DECRYPTION_FAILED,
    });
    // The default still reads them (compatibility).
    expect(old.decryptString(legacy, { aad: 'a' })).toBe('ada');
    await old.close();
    await strict.close();
  });

  it('acceptFormat1: false with envelopeFormat: 1 is a configuration error', async () => {
    await expect(
      KeyRing.open({
        provider: providerFor(),
        store: new MemoryKeyStore(),
        envelopeFormat: 1,
        acceptFormat1: false,
      }),
    ).rejects.toMatchObject({ code: ErrorCodes.CONFIG_INVALID });
  });

  it('a format-1 envelope relabelled as format 2 with the right commitment does not decrypt', async () => {
    const store = new MemoryKeyStore();
    const provider = providerFor();
    const one = await KeyRing.open({ provider, store, envelopeFormat: 1, refreshIntervalMs: 0 });
    await one.createKey('pii');
    const two = await KeyRing.open({ provider, store, refreshIntervalMs: 0 });
    const [, keyId, version, iv, payload] = one.encrypt('pii', 'ada').split('.');
    const commitment = parts(two.encrypt('pii', 'x'))[3];
    // Format 2 uses a derived AEAD key and a longer authenticated header: the old body cannot pass.
    expect(codeOf(() => two.decrypt(`bw2.${keyId}.${version}.${commitment}.${iv}.${payload}`))).toBe(
      ErrorCodes.CRYPTO_DECRYPTION_FAILED,
    );
    await one.close();
    await two.close();
  });
});
