import fc from 'fast-check';
import { KeyRing } from '../../src/crypto/key-ring';
import { generateMasterKey } from '../../src/crypto/master-key';
import { MemoryKeyStore } from '../../src/crypto/memory-key-store';
import { BulwarkCryptoError, ErrorCodes } from '../../src/errors';
import { asyncCodeOf, codeOf, formatOneRing, providerFor } from './helpers';

/** A memory store that counts subject-key reads, to prove a mismatch is refused before any load. */
class CountingStore extends MemoryKeyStore {
  subjectReads = 0;
  override getSubject(ref: string) {
    this.subjectReads++;
    return super.getSubject(ref);
  }
}

describe('subject envelopes are bound to the expected data subject', () => {
  let ring: KeyRing;
  let store: CountingStore;
  const masterKey = generateMasterKey();

  beforeEach(async () => {
    store = new CountingStore();
    ring = await KeyRing.open({ envelopeFormat: 1, provider: providerFor(masterKey), store });
    await ring.createKey('pii');
  });
  afterEach(() => ring.close());

  it("decryptForSubject returns the subject's own value", async () => {
    const envelope = await ring.encryptForSubject('alice', 'note about alice', { aad: 'notes.body' });
    expect(await ring.decryptStringForSubject('alice', envelope, { aad: 'notes.body' })).toBe(
      'note about alice',
    );
    expect((await ring.decryptForSubject('alice', envelope, { aad: 'notes.body' })).toString()).toBe(
      'note about alice',
    );
  });

  it("refuses another subject's envelope with ERR_CRYPTO_SUBJECT_MISMATCH, before loading any key", async () => {
    const envelope = await ring.encryptForSubject('alice', 'note about alice');
    await ring.encryptForSubject('bob', 'note about bob');
    // A fresh ring (nothing cached) must not even read alice's key to refuse the value for bob.
    const fresh = await KeyRing.open({ envelopeFormat: 1, provider: providerFor(masterKey), store });
    try {
      store.subjectReads = 0;
      const error = await fresh.decryptStringForSubject('bob', envelope).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(BulwarkCryptoError);
      expect((error as BulwarkCryptoError).code).toBe(ErrorCodes.CRYPTO_SUBJECT_MISMATCH);
      expect(store.subjectReads).toBe(0);
      // The message and details name neither subject nor value.
      const text = `${(error as Error).message} ${JSON.stringify((error as BulwarkCryptoError).details)}`;
      expect(text).not.toMatch(/alice|bob|note about/);
      // Without the expectation the envelope still names its own key (what the check is for).
      expect(await fresh.decryptStringAsync(envelope)).toBe('note about alice');
    } finally {
      await fresh.close();
    }
  });

  it('the sync decrypt() and decryptAsync() take the expected subject as an option', async () => {
    const envelope = await ring.encryptForSubject('alice', 'v');
    expect(ring.decryptString(envelope, { subject: 'alice' })).toBe('v');
    expect(codeOf(() => ring.decrypt(envelope, { subject: 'bob' }))).toBe(ErrorCodes.CRYPTO_SUBJECT_MISMATCH);
    expect(await asyncCodeOf(() => ring.decryptAsync(envelope, { subject: 'bob' }))).toBe(
      ErrorCodes.CRYPTO_SUBJECT_MISMATCH,
    );
    expect(await ring.decryptStringAsync(envelope, { subject: 'alice' })).toBe('v');
  });

  it('refuses a named-key envelope where a subject value is expected (it escapes crypto-shredding)', async () => {
    const envelope = ring.encrypt('pii', 'not under a subject key', { aad: 'notes.body' });
    expect(await asyncCodeOf(() => ring.decryptForSubject('alice', envelope, { aad: 'notes.body' }))).toBe(
      ErrorCodes.CRYPTO_SUBJECT_MISMATCH,
    );
    expect(codeOf(() => ring.decrypt(envelope, { aad: 'notes.body', subject: 'alice' }))).toBe(
      ErrorCodes.CRYPTO_SUBJECT_MISMATCH,
    );
  });

  it('deterministic subject envelopes are checked the same way', async () => {
    const envelope = await ring.encryptForSubject('alice', 'same', { deterministic: true });
    expect(envelope.startsWith('bw1sd.')).toBe(true);
    expect(await ring.decryptStringForSubject('alice', envelope)).toBe('same');
    expect(await asyncCodeOf(() => ring.decryptForSubject('bob', envelope))).toBe(
      ErrorCodes.CRYPTO_SUBJECT_MISMATCH,
    );
  });

  it('a mismatch wins over a shredded owner: the value is refused as not this subject', async () => {
    const envelope = await ring.encryptForSubject('alice', 'v');
    await ring.shred('alice');
    expect(await asyncCodeOf(() => ring.decryptForSubject('bob', envelope))).toBe(
      ErrorCodes.CRYPTO_SUBJECT_MISMATCH,
    );
    expect(await asyncCodeOf(() => ring.decryptForSubject('alice', envelope))).toBe(
      ErrorCodes.CRYPTO_SUBJECT_SHREDDED,
    );
  });

  it('validates the expected subject', async () => {
    const envelope = await ring.encryptForSubject('alice', 'v');
    for (const subject of ['', 42, null]) {
      expect(codeOf(() => ring.decrypt(envelope, { subject: subject as string }))).toBe(
        ErrorCodes.CRYPTO_INVALID_ARGUMENT,
      );
    }
    expect(await asyncCodeOf(() => ring.decryptForSubject('', envelope))).toBe(
      ErrorCodes.CRYPTO_INVALID_ARGUMENT,
    );
  });
});

describe('subject binding (property-based)', () => {
  let ring: KeyRing;
  beforeAll(async () => {
    ring = await formatOneRing();
  });
  afterAll(() => ring.close());

  it('a value opens for its own subject and for no other subject id, whatever the ids and plaintext', async () => {
    const id = fc.string({ minLength: 1, maxLength: 24, unit: 'grapheme' });
    await fc.assert(
      fc.asyncProperty(id, id, fc.string({ maxLength: 64 }), fc.boolean(), async (a, b, text, det) => {
        fc.pre(a !== b);
        const envelope = await ring.encryptForSubject(a, text, { aad: 'prop.col', deterministic: det });
        expect(await ring.decryptStringForSubject(a, envelope, { aad: 'prop.col' })).toBe(text);
        expect(await asyncCodeOf(() => ring.decryptForSubject(b, envelope, { aad: 'prop.col' }))).toBe(
          ErrorCodes.CRYPTO_SUBJECT_MISMATCH,
        );
      }),
      { numRuns: 150 },
    );
  });
});
