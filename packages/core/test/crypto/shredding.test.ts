import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { FileKeyStore } from '../../src/crypto/file-key-store';
import { KeyRing } from '../../src/crypto/key-ring';
import { generateMasterKey } from '../../src/crypto/master-key';
import { MemoryKeyStore } from '../../src/crypto/memory-key-store';
import { ErrorCodes } from '../../src/errors';
import { asyncCodeOf, codeOf, formatOneRing, providerFor, tempDir } from './helpers';

describe('crypto-shredding', () => {
  it('encrypts per subject with a bw1s envelope carrying only the keyed subject reference', async () => {
    const ring = await formatOneRing();
    const env = await ring.encryptForSubject('alice@example.com', 'Alice Liddell', { aad: 'users.name' });
    expect(env).toMatch(/^bw1s\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{22,}$/);
    expect(env.split('.')[1]).toBe(ring.subjectRef('alice@example.com'));
    expect(env).not.toContain('alice');
    expect(ring.decryptString(env, { aad: 'users.name' })).toBe('Alice Liddell');
    expect(await ring.decryptStringAsync(env, { aad: 'users.name' })).toBe('Alice Liddell');
    expect(codeOf(() => ring.decrypt(env, { aad: 'users.email' }))).toBe(ErrorCodes.CRYPTO_DECRYPTION_FAILED);
    const det = await ring.encryptForSubject('alice@example.com', 'x', { deterministic: true });
    expect(det.startsWith('bw1sd.')).toBe(true);
    expect(await ring.encryptForSubject('alice@example.com', 'x', { deterministic: true })).toBe(det);
    expect(ring.needsRewrap(env)).toBe(false);
    await ring.close();
  });

  it("uses a separate key per subject: one subject's envelope relabelled for another does not decrypt", async () => {
    const ring = await formatOneRing();
    const alice = await ring.encryptForSubject('alice', 'secret');
    await ring.encryptForSubject('bob', 'other');
    const forged = alice.replace(ring.subjectRef('alice'), ring.subjectRef('bob'));
    expect(codeOf(() => ring.decrypt(forged))).toBe(ErrorCodes.CRYPTO_DECRYPTION_FAILED);
    await ring.close();
  });

  it('after shred, the subject throws SUBJECT_SHREDDED for decrypt and encrypt; others are unaffected', async () => {
    const ring = await formatOneRing();
    const alice = await ring.encryptForSubject('alice', 'alice data');
    const bob = await ring.encryptForSubject('bob', 'bob data');
    expect(await ring.isShredded('alice')).toBe(false);
    await ring.shred('alice');
    expect(await ring.isShredded('alice')).toBe(true);
    expect(await ring.isShredded('bob')).toBe(false);
    expect(codeOf(() => ring.decrypt(alice))).toBe(ErrorCodes.CRYPTO_SUBJECT_SHREDDED);
    expect(codeOf(() => ring.decrypt(alice))).toBe('SUBJECT_SHREDDED');
    expect(await asyncCodeOf(() => ring.decryptAsync(alice))).toBe(ErrorCodes.CRYPTO_SUBJECT_SHREDDED);
    expect(await asyncCodeOf(() => ring.encryptForSubject('alice', 'new data'))).toBe(
      ErrorCodes.CRYPTO_SUBJECT_SHREDDED,
    );
    expect(ring.decryptString(bob)).toBe('bob data');
    await ring.shred('alice'); // idempotent
    await ring.close();
  });

  it('tells shredded apart from unknown, and shredding a never-seen subject blocks it too', async () => {
    const ring = await formatOneRing();
    const other = await formatOneRing();
    const foreign = await other.encryptForSubject('carol', 'x');
    // A subject this ring never saw: unknown, not shredded.
    expect(await asyncCodeOf(() => ring.decryptAsync(foreign))).toBe(ErrorCodes.CRYPTO_UNKNOWN_KEY);
    expect(codeOf(() => ring.decrypt(foreign))).toBe(ErrorCodes.CRYPTO_SUBJECT_KEY_NOT_LOADED);
    await ring.shred('dave');
    expect(await ring.isShredded('dave')).toBe(true);
    expect(await asyncCodeOf(() => ring.encryptForSubject('dave', 'x'))).toBe(
      ErrorCodes.CRYPTO_SUBJECT_SHREDDED,
    );
    await Promise.all([ring.close(), other.close()]);
  });

  it('loads subject keys on demand: sync decrypt needs the key in memory, decryptAsync fetches it', async () => {
    const store = new MemoryKeyStore();
    const provider = providerFor();
    const writer = await KeyRing.open({ envelopeFormat: 1, provider, store });
    const env = await writer.encryptForSubject('erin', 'hello');
    const reader = await KeyRing.open({ envelopeFormat: 1, provider, store });
    expect(codeOf(() => reader.decrypt(env))).toBe(ErrorCodes.CRYPTO_SUBJECT_KEY_NOT_LOADED);
    expect((await reader.decryptAsync(env)).toString()).toBe('hello');
    expect(reader.decryptString(env)).toBe('hello');
    // Shredding in one process is seen by another on its next load from the store.
    const third = await KeyRing.open({ envelopeFormat: 1, provider, store });
    await writer.shred('erin');
    expect(await asyncCodeOf(() => third.decryptAsync(env))).toBe(ErrorCodes.CRYPTO_SUBJECT_SHREDDED);
    expect(await third.isShredded('erin')).toBe(true);
    await Promise.all([writer.close(), reader.close(), third.close()]);
  });

  it('zeroes the subject key in memory when shredding', async () => {
    const ring = await formatOneRing();
    await ring.encryptForSubject('frank', 'x');
    const internals = ring as unknown as {
      subjects: { subjects: Map<string, { entry: { raw: Buffer } }> };
    };
    const raw = internals.subjects.subjects.get(ring.subjectRef('frank'))!.entry.raw;
    expect(raw.some((b) => b !== 0)).toBe(true);
    await ring.shred('frank');
    expect(raw.every((b) => b === 0)).toBe(true);
    await ring.close();
  });

  it('survives reopening from a FileKeyStore, whose file never holds the subject id in clear', async () => {
    const file = path.join(tempDir(), 'keys.json');
    const masterKey = generateMasterKey();
    const subjectId = 'grace.hopper@example.com';
    let ring = await KeyRing.open({
      provider: providerFor(masterKey),
      store: new FileKeyStore({ path: file }),
    });
    const keep = await ring.encryptForSubject('heidi', 'keep me');
    const gone = await ring.encryptForSubject(subjectId, 'forget me');
    const ref = ring.subjectRef(subjectId);
    await ring.close();

    ring = await KeyRing.open({
      envelopeFormat: 1,
      provider: providerFor(masterKey),
      store: new FileKeyStore({ path: file }),
    });
    expect(await ring.decryptStringAsync(gone)).toBe('forget me');
    const wrappedBefore = JSON.parse(readFileSync(file, 'utf8')).subjects[ref].wrappedKey;
    expect(typeof wrappedBefore).toBe('string');
    await ring.shred(subjectId);
    await ring.close();

    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain(subjectId);
    expect(text).not.toContain('grace');
    expect(text).not.toContain(wrappedBefore);
    expect(JSON.parse(text).subjects[ref]).toMatchObject({ wrappedKey: null, subjectRef: ref });

    ring = await KeyRing.open({
      envelopeFormat: 1,
      provider: providerFor(masterKey),
      store: new FileKeyStore({ path: file }),
    });
    expect(await ring.isShredded(subjectId)).toBe(true);
    expect(await asyncCodeOf(() => ring.decryptAsync(gone))).toBe(ErrorCodes.CRYPTO_SUBJECT_SHREDDED);
    expect(await asyncCodeOf(() => ring.encryptForSubject(subjectId, 'again'))).toBe(
      ErrorCodes.CRYPTO_SUBJECT_SHREDDED,
    );
    expect(await ring.decryptStringAsync(keep)).toBe('keep me');
    // The subject reference is stable for the store (same ring secret), so lookups stay consistent.
    expect(ring.subjectRef(subjectId)).toBe(ref);
    await ring.close();
  });

  it('gives different subject references in different rings (keyed hash, not a plain hash)', async () => {
    const a = await formatOneRing();
    const b = await formatOneRing();
    expect(a.subjectRef('alice')).not.toBe(b.subjectRef('alice'));
    expect(a.subjectRef('alice')).toBe(a.subjectRef('alice'));
    expect(codeOf(() => a.subjectRef(''))).toBe(ErrorCodes.CRYPTO_INVALID_ARGUMENT);
    await Promise.all([a.close(), b.close()]);
  });

  it('races between a load and a shred never leave a usable key', async () => {
    const store = new MemoryKeyStore();
    const provider = providerFor();
    const writer = await KeyRing.open({ envelopeFormat: 1, provider, store });
    const env = await writer.encryptForSubject('ivan', 'v');
    const ring = await KeyRing.open({ envelopeFormat: 1, provider, store });
    const load = ring.decryptAsync(env);
    const shred = ring.shred('ivan');
    const [loaded] = await Promise.allSettled([load, shred]);
    expect(loaded.status).toBe('rejected');
    expect(codeOf(() => ring.decrypt(env))).toBe(ErrorCodes.CRYPTO_SUBJECT_SHREDDED);
    await Promise.all([writer.close(), ring.close()]);
  });
});
