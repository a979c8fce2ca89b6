import {
  AccountLifecycle,
  AUTH_AUDIT_ACTIONS,
  BruteForceGuard,
  ErrorCodes,
  MemoryAccountStore,
  PasswordHasher,
  SessionEngine,
  type AccountNotification,
  type AuditEvent,
} from '../../src';

const FAST = { memoryCost: 1024, timeCost: 1, allowWeakParameters: true } as const;
const ADMIN = { id: 'admin-1', ip: '203.0.113.5' };

function setup(options: { now?: () => number } = {}) {
  const events: AuditEvent[] = [];
  const notes: AccountNotification[] = [];
  const audit = { append: async (e: AuditEvent) => void events.push(e) };
  const sessions = new SessionEngine({ secret: 'a-session-secret-of-at-least-32-bytes', audit });
  const guard = new BruteForceGuard({
    ip: false,
    ipAccount: false,
    account: { maxFailures: 2, windowSec: 3600, lockoutSec: 1800, maxLockoutSec: 3600 },
    lockout: 'hard',
  });
  const passwords = new PasswordHasher({ ...FAST, policy: { historySize: 2 } });
  const store = new MemoryAccountStore();
  const accounts = new AccountLifecycle({
    store,
    passwords,
    sessions,
    bruteForce: guard,
    audit,
    notify: (n) => void notes.push(n),
    ...options,
  });
  return { accounts, sessions, guard, passwords, store, events, notes };
}

/** Signs `userId` in on a fresh session and returns its cookie header. */
async function signIn(sessions: SessionEngine, userId: string): Promise<string> {
  let cookie = '';
  const s = await sessions.open({ cookieHeader: undefined, setCookie: (v) => (cookie = v.split(';')[0]!) });
  await s.login({ id: userId });
  return cookie;
}

const open = (sessions: SessionEngine, cookie: string) =>
  sessions.open({ cookieHeader: cookie, setCookie: () => {} });

describe('AccountLifecycle', () => {
  it('disables an account: sessions end, sign-in refused (ERR_ACCOUNT_DISABLED), audited and notified; enable restores', async () => {
    const { accounts, sessions, events, notes, store } = setup();
    const cookie = await signIn(sessions, 'alice');
    await accounts.disable('alice', { by: ADMIN, reason: 'left-company' });
    expect((await open(sessions, cookie)).isNew).toBe(true);
    await expect(accounts.assertActive('alice')).rejects.toMatchObject({ code: ErrorCodes.ACCOUNT_DISABLED });
    // No enumeration: a reset request answers as for an active account, but stores and sends nothing.
    const decoy = await accounts.requestPasswordReset('alice');
    expect(decoy.token).toMatch(/^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$/);
    expect(await store.getResetToken(decoy.token.split('.')[0]!)).toBeUndefined();
    expect(notes.map((n) => n.type)).not.toContain('password-reset-requested');
    expect(events.find((e) => e.action === AUTH_AUDIT_ACTIONS.passwordResetRequested)).toMatchObject({
      outcome: 'failure',
      reason: 'account_disabled',
    });
    await expect(accounts.resetPassword(decoy.token, 'quiet harbor violet lantern')).rejects.toMatchObject({
      code: ErrorCodes.ACCOUNT_RESET_TOKEN_INVALID,
    });
    expect(events.find((e) => e.action === AUTH_AUDIT_ACTIONS.accountDisabled)).toMatchObject({
      actor: { id: 'admin-1', ip: '203.0.113.5' },
      reason: 'left-company',
      resource: { type: 'account', id: 'alice' },
    });
    await accounts.enable('alice', { by: ADMIN });
    await expect(accounts.assertActive('alice')).resolves.toBeUndefined();
    expect(notes.map((n) => n.type)).toEqual(['disabled', 'enabled']);
  });

  it('refuses free text as a disable reason and an action without an actor', async () => {
    const { accounts } = setup();
    await expect(
      accounts.disable('alice', { by: ADMIN, reason: 'Alice Smith was fired' }),
    ).rejects.toMatchObject({
      code: ErrorCodes.ACCOUNT_INVALID_ARGUMENT,
    });
    await expect(accounts.enable('alice', {} as never)).rejects.toMatchObject({
      code: ErrorCodes.ACCOUNT_INVALID_ARGUMENT,
    });
  });

  it('unlocks a brute-force lockout (BruteForceGuard.reset), audited', async () => {
    const { accounts, guard, events } = setup();
    const attempt = { account: 'alice', ip: '198.51.100.7' };
    for (let i = 0; i < 2; i++) {
      const r = await guard.reserve(attempt);
      if (r.allowed) await r.reservation.fail();
    }
    expect((await guard.check(attempt)).allowed).toBe(false);
    await accounts.unlock('alice', { by: ADMIN });
    expect((await guard.check(attempt)).allowed).toBe(true);
    expect(events.at(-1)).toMatchObject({ action: AUTH_AUDIT_ACTIONS.unlock, actor: { id: 'admin-1' } });
  });

  it('forces a password change, cleared by the change; the policy and the history decide', async () => {
    const { accounts, sessions, events, passwords } = setup();
    await accounts.requirePasswordChange('bob', { by: ADMIN });
    expect((await accounts.state('bob')).mustChangePassword).toBe(true);
    const here = await signIn(sessions, 'bob');
    const elsewhere = await signIn(sessions, 'bob');
    const keep = (await open(sessions, here)).id!;
    const currentHash = await passwords.hashSecret('old harbor password');
    const change = (newPassword: string, hash = currentHash) => ({
      currentPassword: 'old harbor password',
      currentHash: hash,
      newPassword,
    });
    await expect(accounts.changePassword('bob', change('short'))).rejects.toMatchObject({
      code: ErrorCodes.PASSWORD_POLICY,
      details: { reasons: expect.arrayContaining(['too-short']) },
    });
    const first = await accounts.changePassword('bob', change('lantern marble oyster'), {
      keepSessionId: keep,
    });
    expect(first).toMatch(/^\$argon2id\$/);
    expect((await accounts.state('bob')).mustChangePassword).toBe(false);
    expect((await open(sessions, here)).userId).toBe('bob'); // the session that changed it survives
    expect((await open(sessions, elsewhere)).isNew).toBe(true); // every other one ends
    await expect(
      accounts.changePassword('bob', {
        ...change('lantern marble oyster', first),
        currentPassword: 'lantern marble oyster',
      }),
    ).rejects.toMatchObject({
      details: { reasons: ['reused'] },
    });
    expect(events.map((e) => e.action)).toContain(AUTH_AUDIT_ACTIONS.passwordChanged);
  });

  it('a password change needs the current password: a wrong one is refused, audited and counted until the account locks', async () => {
    const { accounts, sessions, events, passwords } = setup();
    const currentHash = await passwords.hashSecret('old harbor password');
    const cookie = await signIn(sessions, 'erin');
    const attempt = (currentPassword: string) =>
      accounts.changePassword(
        'erin',
        { currentPassword, currentHash, newPassword: 'quiet violet lantern' },
        { ip: '198.51.100.4' },
      );
    await expect(attempt('guess one')).rejects.toMatchObject({
      code: ErrorCodes.ACCOUNT_CURRENT_PASSWORD_INVALID,
    });
    await expect(attempt('guess two')).rejects.toMatchObject({
      code: ErrorCodes.ACCOUNT_CURRENT_PASSWORD_INVALID,
    });
    // maxFailures 2: the right password no longer helps while the account is locked
    await expect(attempt('old harbor password')).rejects.toMatchObject({
      code: ErrorCodes.ACCOUNT_LOCKED,
      details: { retryAfterSec: expect.any(Number) },
    });
    expect((await open(sessions, cookie)).userId).toBe('erin'); // nothing changed, no session ended
    const failures = events.filter((e) => e.action === AUTH_AUDIT_ACTIONS.passwordChanged);
    expect(failures.map((e) => [e.outcome, e.reason])).toEqual([
      ['failure', 'wrong_current_password'],
      ['failure', 'wrong_current_password'],
      ['failure', 'locked'],
    ]);
    expect(JSON.stringify(events)).not.toMatch(/guess|harbor|violet/);
    await expect(
      accounts.changePassword('erin', { currentPassword: 'x', newPassword: 'quiet violet lantern' } as never),
    ).rejects.toMatchObject({ code: ErrorCodes.ACCOUNT_INVALID_ARGUMENT });
  });

  it('a change and a reset follow the same rule: NIST defaults when the hasher has no policy', async () => {
    const passwords = new PasswordHasher(FAST);
    const accounts = new AccountLifecycle({ passwords });
    const currentHash = await passwords.hashSecret('old harbor password');
    const refused = {
      code: ErrorCodes.PASSWORD_POLICY,
      details: { reasons: expect.arrayContaining(['too-short']) },
    };
    await expect(
      accounts.changePassword('hal', {
        currentPassword: 'old harbor password',
        currentHash,
        newPassword: 'short',
      }),
    ).rejects.toMatchObject(refused);
    const { token } = await accounts.requestPasswordReset('hal');
    await expect(accounts.resetPassword(token, 'short')).rejects.toMatchObject(refused);
  });

  it('a password change with the right current password goes through and resets the guard', async () => {
    const { accounts, passwords } = setup();
    const currentHash = await passwords.hashSecret('old harbor password');
    const change = (currentPassword: string) => ({
      currentPassword,
      currentHash,
      newPassword: 'quiet violet lantern',
    });
    await expect(accounts.changePassword('fay', change('wrong'))).rejects.toMatchObject({
      code: ErrorCodes.ACCOUNT_CURRENT_PASSWORD_INVALID,
    });
    await expect(accounts.changePassword('fay', change('old harbor password'))).resolves.toMatch(
      /^\$argon2id\$/,
    );
  });

  it('a disable() landing while a new password is hashed is kept: the change and the reset are refused', async () => {
    const { accounts, passwords, store } = setup();
    const currentHash = await passwords.hashSecret('old harbor password');
    const { token } = await accounts.requestPasswordReset('gil');
    // The hash is the slow step: an administrator disables the account meanwhile.
    const slowHash = (original: (p: string) => Promise<string>) => async (p: string) => {
      const out = await original(p);
      if (!(await accounts.state('gil')).disabled)
        await accounts.disable('gil', { by: ADMIN, reason: 'compromised' });
      return out;
    };
    passwords.hashSecret = slowHash(passwords.hashSecret.bind(passwords));
    passwords.hash = slowHash(passwords.hash.bind(passwords));
    await expect(
      accounts.changePassword('gil', {
        currentPassword: 'old harbor password',
        currentHash,
        newPassword: 'quiet violet lantern',
      }),
    ).rejects.toMatchObject({ code: ErrorCodes.ACCOUNT_DISABLED });
    expect(await store.get('gil')).toMatchObject({ disabled: true, disabledReason: 'compromised' });
    expect((await store.get('gil'))?.passwordChangedAt).toBeUndefined();

    await accounts.enable('gil', { by: ADMIN });
    const { token: again } = await accounts.requestPasswordReset('gil');
    expect(token).not.toBe(again);
    await expect(accounts.resetPassword(again, 'quiet harbor violet lantern')).rejects.toMatchObject({
      code: ErrorCodes.ACCOUNT_DISABLED,
    });
    expect(await store.get('gil')).toMatchObject({ disabled: true });
    expect((await store.get('gil'))?.passwordHistory).toEqual([]);
  });

  it('reset tokens: stored hashed, single use, short-lived, one error for every bad token', async () => {
    let now = Date.now();
    const { accounts, store, sessions, notes, events } = setup({ now: () => now });
    const cookie = await signIn(sessions, 'carol');
    const { token, expiresAt } = await accounts.requestPasswordReset('carol');
    expect(token).toMatch(/^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$/);
    expect(expiresAt - now).toBe(900_000);
    // The hook got the token to send; the store holds only its SHA-256.
    expect(notes.at(-1)).toMatchObject({ type: 'password-reset-requested', userId: 'carol', token });
    const stored = await store.getResetToken(token.split('.')[0]!);
    expect(JSON.stringify(stored)).not.toContain(token.split('.')[1]);
    expect(JSON.stringify(events)).not.toContain(token.split('.')[1]);

    const [id, secret] = token.split('.') as [string, string];
    const flipped = `${id}.${(secret[0] === 'A' ? 'B' : 'A') + secret.slice(1)}`;
    for (const bad of [flipped, 'nope', '', `${'A'.repeat(22)}.${secret}`]) {
      await expect(accounts.resetPassword(bad, 'quiet harbor violet lantern')).rejects.toMatchObject({
        code: ErrorCodes.ACCOUNT_RESET_TOKEN_INVALID,
      });
    }
    // A refused password does not use the link up.
    await expect(accounts.resetPassword(token, 'password')).rejects.toMatchObject({
      code: ErrorCodes.PASSWORD_POLICY,
    });
    const done = await accounts.resetPassword(token, 'quiet harbor violet lantern');
    expect(done.userId).toBe('carol');
    expect(done.hash).toMatch(/^\$argon2id\$/);
    expect((await open(sessions, cookie)).isNew).toBe(true); // every session ended
    await expect(accounts.resetPassword(token, 'another fine passphrase')).rejects.toMatchObject({
      code: ErrorCodes.ACCOUNT_RESET_TOKEN_INVALID,
    });

    const late = await accounts.requestPasswordReset('carol');
    now += 900_000;
    await expect(accounts.resetPassword(late.token, 'another fine passphrase')).rejects.toMatchObject({
      code: ErrorCodes.ACCOUNT_RESET_TOKEN_INVALID,
    });
    expect(
      events.filter((e) => e.action === AUTH_AUDIT_ACTIONS.passwordReset).map((e) => e.outcome),
    ).toContain('failure');
  });

  it('a new reset request replaces the previous token', async () => {
    const { accounts } = setup();
    const first = await accounts.requestPasswordReset('dave');
    await accounts.requestPasswordReset('dave');
    await expect(accounts.resetPassword(first.token, 'quiet harbor violet lantern')).rejects.toMatchObject({
      code: ErrorCodes.ACCOUNT_RESET_TOKEN_INVALID,
    });
  });

  it('turns a raw store failure into ERR_ACCOUNT_STORE, and a store missing methods into a config error', async () => {
    class Broken extends MemoryAccountStore {
      override async get(): Promise<undefined> {
        throw new Error('connection to db.internal:5432 refused');
      }
    }
    const accounts = new AccountLifecycle({ store: new Broken() });
    await expect(accounts.assertActive('alice')).rejects.toMatchObject({ code: ErrorCodes.ACCOUNT_STORE });
    expect(() => new AccountLifecycle({ store: {} as never })).toThrow(/accounts.store/);
  });

  it('validates its options at construction', () => {
    expect(() => new AccountLifecycle({ resetTokenTtlSec: 86_400 })).toThrow(/accounts.resetTokenTtlSec/);
    expect(() => new AccountLifecycle({ sessions: {} as never })).toThrow(/accounts.sessions/);
    expect(() => new AccountLifecycle({ notfy: () => {} } as never)).toThrow(/accounts.notfy/);
  });
});
