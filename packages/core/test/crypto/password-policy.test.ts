import { ErrorCodes, PasswordHasher, PasswordPolicy, PASSWORD_REFUSAL_REASONS } from '../../src';

// Fast argon2 for tests only; the policy does not depend on the hashing parameters.
const FAST = { memoryCost: 1024, timeCost: 1, allowWeakParameters: true } as const;
// A 20-character passphrase of unrelated words: long, lowercase, no digits or symbols.
const PASSPHRASE = 'lantern marble oyster';

describe('PasswordPolicy (NIST SP 800-63B rev. 4)', () => {
  const policy = new PasswordPolicy({ contextWords: ['Bulwark Clinic'] });

  it('needs 15 characters for a single-factor account and 8 with MFA', () => {
    const fourteen = 'zq7#Lm2!vR9@xk'; // strong but 14 characters
    expect(policy.evaluate(fourteen).reasons).toEqual(['too-short']);
    expect(policy.evaluate(fourteen, { hasMfa: true })).toMatchObject({ ok: true, minLength: 8 });
    expect(policy.evaluate('zq7#Lm2!', { hasMfa: true }).reasons).not.toContain('too-short');
    expect(policy.evaluate('zq7#Lm2', { hasMfa: true }).reasons).toContain('too-short');
  });

  it('imposes no composition rules: a lowercase passphrase passes', () => {
    expect(policy.evaluate(PASSPHRASE)).toMatchObject({ ok: true, reasons: [] });
  });

  it('allows at least 64 characters and refuses longer ones without estimating them', () => {
    const sixtyFour = 'river stone candle orbit maple glacier thunder violet harbor qua';
    expect([...sixtyFour]).toHaveLength(64);
    expect(policy.evaluate(sixtyFour).ok).toBe(true);
    expect(policy.evaluate(sixtyFour + 'x')).toMatchObject({ ok: false, reasons: ['too-long'], score: 0 });
    expect(policy.evaluate('x'.repeat(1_000_000)).reasons).toEqual(['too-long']);
  });

  it('counts Unicode code points after NFKC: every character allowed, compatibility forms normalised', () => {
    const emoji = '🐢🌊🍋 tortuga ola limón';
    expect(policy.evaluate(emoji).ok).toBe(true);
    // Full-width letters normalise to ASCII: the full-width spelling of a common password is refused.
    const fullWidth = 'ｐａｓｓｗｏｒｄ';
    expect(policy.evaluate(fullWidth, { hasMfa: true }).reasons).toContain('common-password');
    // 15 astral code points are 30 UTF-16 units, but 15 characters.
    expect(policy.evaluate('🐢'.repeat(14)).reasons).toContain('too-short');
  });

  it('refuses common and breached passwords from the offline list, and the app’s own blocklist', () => {
    expect(policy.evaluate('password', { hasMfa: true }).reasons).toEqual(
      expect.arrayContaining(['common-password', 'too-guessable']),
    );
    expect(policy.evaluate('Password1', { hasMfa: true }).reasons).toContain('too-guessable');
    const strict = new PasswordPolicy({ blocklist: ['lantern marble oyster'] });
    expect(strict.evaluate('Lantern Marble Oyster').reasons).toContain('common-password');
  });

  it('refuses the user name, e-mail parts and the application name, case-insensitively', () => {
    const ctx = { userInputs: ['jdoe', 'jane.doe@hospital.example'], hasMfa: true };
    expect(policy.evaluate('my JDOE is great today', ctx).reasons).toContain('context-word');
    expect(policy.evaluate('hospital wing seven', ctx).reasons).toContain('context-word');
    expect(policy.evaluate('I love bulwark clinic!', ctx).reasons).toContain('context-word');
    expect(policy.evaluate(PASSPHRASE, ctx).ok).toBe(true);
  });

  it('refuses guessable passwords by the strength estimate, with feedback keys for the UI', () => {
    const result = policy.evaluate('aaaaaaaaaaaaaaaaaaaa');
    expect(result.reasons).toContain('too-guessable');
    expect(result.score).toBeLessThan(3);
    expect(result.feedback.warning).toBe('simpleRepeat');
    expect(policy.evaluate('qwertyuiopasdfghjkl').reasons).toContain('too-guessable');
  });

  it('uses only stable reason ids', () => {
    const all = ['', 'password', 'a'.repeat(80), 'bulwark clinic 2024', 'abcabcabcabcabcabc'].flatMap(
      (p) => policy.evaluate(p).reasons,
    );
    for (const r of all) expect(PASSWORD_REFUSAL_REASONS).toContain(r);
  });

  it('validates options at construction and never goes below the rev. 4 floors', () => {
    expect(() => new PasswordPolicy({ minLength: 6 })).toThrow(/passwords.policy.minLength/);
    expect(() => new PasswordPolicy({ maxLength: 32 })).toThrow(/passwords.policy.maxLength/);
    expect(() => new PasswordPolicy({ minLength: 10, minLengthWithMfa: 12 })).toThrow(/minLengthWithMfa/);
    expect(() => new PasswordPolicy({ historySize: 100 })).toThrow(/historySize/);
    expect(() => new PasswordPolicy({ minLenght: 20 } as never)).toThrow(/minLenght/);
  });

  it('describes itself for compliance evidence', () => {
    expect(policy.describe()).toMatchObject({
      minLength: 15,
      minLengthWithMfa: 8,
      maxLength: 64,
      normalization: 'NFKC',
      compositionRules: false,
      minScore: 3,
      historySize: 0,
    });
    expect(policy.describe().blocklist.entries).toBeGreaterThan(10_000);
  });
});

describe('PasswordHasher with a policy', () => {
  const hasher = new PasswordHasher({
    ...FAST,
    policy: { historySize: 3, contextWords: ['Bulwark Clinic'] },
  });

  it('refuses to hash a password the policy refuses, with the reasons (ERR_PASSWORD_POLICY)', async () => {
    await expect(hasher.hash('password')).rejects.toMatchObject({
      code: ErrorCodes.PASSWORD_POLICY,
      details: { reasons: expect.arrayContaining(['too-short', 'common-password']) },
    });
    const err = await hasher.hash('hunter2-secret').catch((e: Error) => e);
    expect(String((err as Error).message)).not.toContain('hunter2');
    await expect(hasher.hash(PASSPHRASE)).resolves.toMatch(/^\$argon2id\$/);
    await expect(hasher.hash('zq7#Lm2!vR9', { hasMfa: true })).resolves.toMatch(/^\$argon2id\$/);
  });

  it('refuses one of the last N passwords (history of argon2id hashes), not older ones', async () => {
    const old = ['sapphire tunnel meadow', 'copper falcon drizzle', 'velvet canyon whisper', PASSPHRASE];
    let history: string[] = [];
    for (const pw of old) history = hasher.remember(history, await hasher.hash(pw));
    expect(history).toHaveLength(3);
    expect((await hasher.check('velvet canyon whisper', { history })).reasons).toEqual(['reused']);
    expect((await hasher.check(PASSPHRASE, { history })).reasons).toEqual(['reused']);
    // The oldest fell out of the history.
    expect((await hasher.check('sapphire tunnel meadow', { history })).ok).toBe(true);
    await expect(hasher.hash('velvet canyon whisper', { history })).rejects.toMatchObject({
      code: ErrorCodes.PASSWORD_POLICY,
      details: { reasons: ['reused'] },
    });
  });

  it('hashes machine secrets (recovery codes) without the policy', async () => {
    await expect(hasher.hashSecret('ab12-cd34')).resolves.toMatch(/^\$argon2id\$/);
  });

  it('without a policy, hash() accepts anything but check() still answers with the NIST defaults', async () => {
    const plain = new PasswordHasher(FAST);
    expect(plain.policy).toBeUndefined();
    await expect(plain.hash('a')).resolves.toMatch(/^\$argon2id\$/);
    expect((await plain.check('a')).reasons).toContain('too-short');
    expect(plain.remember(['x'], 'y')).toEqual([]);
  });
});
