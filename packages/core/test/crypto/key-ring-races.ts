/**
 * Shared scenario for "several key rings over one store": used by the core race tests (memory and
 * file stores) and by @bulwark/typeorm (SQLite, PostgreSQL). Structural types only, so it works
 * with KeyRing from core's source or from the built package.
 */
export interface RaceRing {
  ensureKey(keyId: string): Promise<{ primaryVersion: number }>;
  createKey(keyId: string): Promise<{ primaryVersion: number }>;
  rotate(keyId: string): Promise<{ primaryVersion: number }>;
  encrypt(keyId: string, plaintext: string): string;
  encryptForSubject(subjectId: string, plaintext: string): Promise<string>;
  decryptString(envelope: string): string;
  decryptStringAsync(envelope: string): Promise<string>;
  subjectRef(subjectId: string): string;
  close(): Promise<void>;
}

/**
 * Two rings race each first-time write (open of an empty store, ensureKey, createKey, rotate,
 * first encryptForSubject); afterwards every envelope either made must decrypt in both and in a
 * freshly opened third ring. `open` opens a ring over the SAME store (same master key), ideally
 * through its own store instance / connection.
 */
export async function raceTwoRings(open: () => Promise<RaceRing>): Promise<void> {
  const made: Array<{ envelope: string; text: string; subject?: boolean }> = [];
  // 1. Two instances open an empty store at once: one ring secret must win for both.
  const [a, b] = await Promise.all([open(), open()]);
  expect(a.subjectRef('alice')).toBe(b.subjectRef('alice'));

  // 2. Booting together with ensureKey.
  await Promise.all([a.ensureKey('pii'), b.ensureKey('pii')]);
  made.push({ envelope: a.encrypt('pii', 'a-v1'), text: 'a-v1' });
  made.push({ envelope: b.encrypt('pii', 'b-v1'), text: 'b-v1' });

  // 3. createKey at once: one creates, the other is told it exists and uses the stored key.
  const created = await Promise.allSettled([a.createKey('cards'), b.createKey('cards')]);
  expect(created.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
  const lost = created.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  expect(lost?.reason).toMatchObject({ code: 'ERR_CRYPTO_KEY_EXISTS' });
  made.push({ envelope: a.encrypt('cards', 'a-card'), text: 'a-card' });
  made.push({ envelope: b.encrypt('cards', 'b-card'), text: 'b-card' });

  // 4. Rotating at once: both end on the same (stored) version 2.
  const [ra, rb] = await Promise.all([a.rotate('pii'), b.rotate('pii')]);
  expect([ra.primaryVersion, rb.primaryVersion]).toEqual([2, 2]);
  made.push({ envelope: a.encrypt('pii', 'a-v2'), text: 'a-v2' });
  made.push({ envelope: b.encrypt('pii', 'b-v2'), text: 'b-v2' });

  // 5. The first value of a new data subject, written by both at once.
  const [sa, sb] = await Promise.all([
    a.encryptForSubject('alice', 'a-subject'),
    b.encryptForSubject('alice', 'b-subject'),
  ]);
  made.push({ envelope: sa, text: 'a-subject', subject: true });
  made.push({ envelope: sb, text: 'b-subject', subject: true });

  const c = await open();
  try {
    for (const ring of [a, b, c]) {
      for (const { envelope, text, subject } of made) {
        if (subject) expect(await ring.decryptStringAsync(envelope)).toBe(text);
        else expect(ring.decryptString(envelope)).toBe(text);
      }
    }
  } finally {
    await Promise.all([a.close(), b.close(), c.close()]);
  }
}

/** Envelopes made by separate processes decrypt in one freshly opened ring. */
export async function expectAllDecrypt(
  ring: RaceRing,
  made: Array<{ envelope: string; text: string; subject?: boolean }>,
): Promise<void> {
  for (const { envelope, text, subject } of made) {
    if (subject) expect(await ring.decryptStringAsync(envelope)).toBe(text);
    else expect(ring.decryptString(envelope)).toBe(text);
  }
}
