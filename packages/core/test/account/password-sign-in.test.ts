import {
  AUTH_AUDIT_ACTIONS,
  BulwarkConfigError,
  PasswordHasher,
  PasswordSignIn,
  type AuditEvent,
} from '../../src';

const FAST = { memoryCost: 1024, timeCost: 1, allowWeakParameters: true } as const;

describe('PasswordSignIn', () => {
  const passwords = new PasswordHasher(FAST);
  let events: AuditEvent[];
  let signIn: PasswordSignIn;
  beforeEach(() => {
    events = [];
    signIn = new PasswordSignIn({ passwords, audit: { append: async (e) => void events.push(e) } });
  });

  it('audits success and failure as auth.login with method password, never the password', async () => {
    const hash = await passwords.hashSecret('correct horse battery');
    const base = { account: 'alice@example.org', userId: 'u-1', ip: '192.0.2.1', requestId: 'r-1' };
    expect(await signIn.verify({ ...base, hash, password: 'correct horse battery' })).toEqual({
      valid: true,
      needsRehash: false,
    });
    expect(await signIn.verify({ ...base, hash, password: 'wrong horse' })).toEqual({
      valid: false,
      needsRehash: false,
    });
    expect(events).toEqual([
      {
        actor: { id: 'u-1', type: 'user', ip: '192.0.2.1' },
        action: AUTH_AUDIT_ACTIONS.login,
        outcome: 'success',
        resource: { type: 'account', id: 'alice@example.org' },
        requestId: 'r-1',
        details: { method: 'password', factors: ['password'] },
      },
      {
        actor: { id: 'anonymous', type: 'anonymous', ip: '192.0.2.1' },
        action: AUTH_AUDIT_ACTIONS.login,
        outcome: 'failure',
        reason: 'invalid_credentials',
        resource: { type: 'account', id: 'alice@example.org' },
        requestId: 'r-1',
        details: { method: 'password', factors: ['password'] },
      },
    ]);
    expect(JSON.stringify(events)).not.toMatch(/horse/);
  });

  it('refuses an unknown account and an unusable password (not a string, empty, huge) alike (a dummy hash is verified)', async () => {
    const hash = await passwords.hashSecret('correct horse battery');
    expect((await signIn.verify({ account: 'nobody', hash: undefined, password: 'x' })).valid).toBe(false);
    expect((await signIn.verify({ account: 'alice', hash, password: 42 as never })).valid).toBe(false);
    expect((await signIn.verify({ account: 'alice', hash, password: '' })).valid).toBe(false);
    expect((await signIn.verify({ account: 'alice', hash, password: 'x'.repeat(100_000) })).valid).toBe(
      false,
    );
    expect(events.map((e) => [e.outcome, e.reason])).toEqual(
      Array(4).fill(['failure', 'invalid_credentials']),
    );
  });

  it('says when a hash made with weaker parameters should be replaced', async () => {
    const weak = await new PasswordHasher({ ...FAST, memoryCost: 512 }).hashSecret('correct horse battery');
    const stronger = new PasswordSignIn({ passwords, audit: { append: async () => undefined } });
    expect(await stronger.verify({ account: 'a', hash: weak, password: 'correct horse battery' })).toEqual({
      valid: true,
      needsRehash: true,
    });
  });

  it('needs a hasher and an audit log', () => {
    expect(() => new PasswordSignIn({ passwords } as never)).toThrow(BulwarkConfigError);
    expect(() => new PasswordSignIn({ audit: { append: async () => 1 } } as never)).toThrow(/passwords/);
  });
});
