import fc from 'fast-check';
import { ErrorCodes, BulwarkConfigError, BulwarkTokenError } from '../../src/errors';
import { BearerAuthenticator } from '../../src/http/bearer-authenticator';
import { problemFor } from '../../src/http/problem-details';
import type { TokenClaims } from '../../src/tokens/token-service';

/** A verifier that accepts exactly the token `good` (signature checks are the token service's tests). */
function verifier(seen: string[] = []) {
  return {
    verify: async (token: string) => {
      seen.push(token);
      if (token !== 'good') throw new BulwarkTokenError(ErrorCodes.TOKEN_SIGNATURE_INVALID, 'bad');
      return { payload: { sub: 'u1', roles: ['staff'] } as TokenClaims, protectedHeader: { alg: 'HS256' } };
    },
  } as unknown as ConstructorParameters<typeof BearerAuthenticator>[0]['tokens'];
}

async function refusal(promise: Promise<unknown>): Promise<{ code?: string; status?: number }> {
  try {
    await promise;
  } catch (err) {
    return err as { code?: string; status?: number };
  }
  throw new Error('expected a refusal');
}

describe('BearerAuthenticator schemes', () => {
  it('accepts Bearer only by default, case-insensitively', async () => {
    const auth = new BearerAuthenticator({ tokens: verifier(), cacheTtlSec: 0 });
    expect(auth.schemes).toEqual(['Bearer']);
    expect(auth.challengeScheme).toBe('Bearer');
    expect((await auth.authenticate('Bearer good'))?.id).toBe('u1');
    expect((await auth.authenticate('bEARER good'))?.id).toBe('u1');
    // `Token` is another scheme: no credential of ours, so the plain 401 challenge (RFC 6750 §3).
    expect(await refusal(auth.authenticate('Token good'))).toMatchObject({
      code: ErrorCodes.HTTP_AUTH_REQUIRED,
      status: 401,
    });
  });

  it('accepts every configured scheme and names the first in the challenge', async () => {
    const seen: string[] = [];
    const auth = new BearerAuthenticator({
      tokens: verifier(seen),
      schemes: ['Token', 'Bearer'],
      cacheTtlSec: 0,
    });
    expect(auth.challengeScheme).toBe('Token');
    expect((await auth.authenticate('Token good'))?.id).toBe('u1');
    expect((await auth.authenticate('token good'))?.id).toBe('u1');
    expect((await auth.authenticate('Bearer good'))?.id).toBe('u1');
    expect(await refusal(auth.authenticate('Basic dXNlcjpwYXNz'))).toMatchObject({
      code: ErrorCodes.HTTP_AUTH_REQUIRED,
    });
    // A bad token of an accepted scheme is verified and refused, never taken for anonymous.
    expect(await refusal(auth.authenticate('Token forged'))).toMatchObject({
      code: ErrorCodes.TOKEN_SIGNATURE_INVALID,
    });
    expect(seen).toEqual(['good', 'good', 'good', 'forged']);
    const problem = problemFor(await refusal(auth.authenticate(undefined)), {
      realm: 'api',
      scheme: auth.challengeScheme,
    });
    expect(problem.status).toBe(401);
    expect(problem.headers['www-authenticate']).toBe('Token realm="api"');
  });

  it.each([
    ['a scheme without a credential', 'Bearer'],
    ['two tokens', 'Bearer a b'],
    ['a comma list', 'Bearer a, Basic b'],
    ['auth-params instead of a token68', 'Bearer realm="x"'],
    ['a padding in the middle', 'Bearer ab=cd'],
  ])('answers %s with 400 invalid_request, never verifying it', async (_name, header) => {
    const seen: string[] = [];
    const auth = new BearerAuthenticator({ tokens: verifier(seen) });
    const error = await refusal(auth.authenticate(header));
    expect(error).toMatchObject({ code: ErrorCodes.HTTP_AUTH_MALFORMED, status: 400 });
    const problem = problemFor(error, { realm: 'api' });
    expect(problem.status).toBe(400);
    expect(problem.headers['www-authenticate']).toBe('Bearer realm="api", error="invalid_request"');
    expect(problem.body.code).toBe(ErrorCodes.HTTP_AUTH_MALFORMED);
    expect(JSON.stringify(problem.body)).not.toContain(header.slice(7) || 'Bearer ');
    expect(seen).toEqual([]);
  });

  it('on an optional (public) route, ignores headers it does not need but refuses a bad token', async () => {
    const auth = new BearerAuthenticator({ tokens: verifier(), cacheTtlSec: 0 });
    expect(await auth.authenticate(undefined, true)).toBeUndefined();
    expect(await auth.authenticate('Token good', true)).toBeUndefined();
    expect(await auth.authenticate('Bearer a b', true)).toBeUndefined();
    expect(await auth.authenticate('not a credential at all \u0001', true)).toBeUndefined();
    expect((await auth.authenticate('Bearer good', true))?.id).toBe('u1');
    expect(await refusal(auth.authenticate('Bearer forged', true))).toMatchObject({
      code: ErrorCodes.TOKEN_SIGNATURE_INVALID,
    });
  });

  it.each([
    [[]],
    [['Bearer', 'bearer']],
    [['Bear er']],
    [['Bearer"']],
    [['x'.repeat(33)]],
    ['Bearer'],
    [[42]],
  ])('refuses schemes %j at construction', (schemes) => {
    expect(
      () =>
        new BearerAuthenticator({
          tokens: verifier(),
          schemes: schemes as unknown as string[],
          configPath: 'authenticate',
        }),
    ).toThrow(BulwarkConfigError);
    expect(
      () => new BearerAuthenticator({ tokens: verifier(), schemes: schemes as unknown as string[] }),
    ).toThrow(/authenticate\.schemes/);
  });

  it('never writes a scheme that is not a token into the challenge', async () => {
    const auth = new BearerAuthenticator({ tokens: verifier() });
    const problem = problemFor(await refusal(auth.authenticate(undefined)), {
      scheme: 'Token", error="x',
    });
    expect(problem.headers['www-authenticate']).toBe('Bearer realm="bulwark"');
  });
});

describe('BearerAuthenticator.forStep (the adapters’ authenticate() settings)', () => {
  it('defaults to required, no-store, and the first scheme as the challenge', () => {
    const step = BearerAuthenticator.forStep({ tokens: verifier(), schemes: ['Token', 'Bearer'] });
    expect(step).toMatchObject({ optional: false, noStore: true, scheme: 'Token' });
    expect(step.authenticator).toBeInstanceOf(BearerAuthenticator);
    expect(BearerAuthenticator.forStep({ tokens: verifier(), optional: true, noStore: false })).toMatchObject(
      {
        optional: true,
        noStore: false,
        scheme: 'Bearer',
      },
    );
  });

  it('refuses a noStore that is not a boolean', () => {
    const bad = { tokens: verifier(), noStore: 'no' } as unknown as Parameters<
      typeof BearerAuthenticator.forStep
    >[0];
    expect(() => BearerAuthenticator.forStep(bad)).toThrow(BulwarkConfigError);
    expect(() => BearerAuthenticator.forStep(bad)).toThrow('authenticate.noStore must be a boolean');
  });
});

describe('BearerAuthenticator.credential parses as RFC 9110 §11.4 and RFC 6750 §2.1 say', () => {
  /** The two-step grammar (credentials, then token68), written out here as the reference. */
  function reference(value: string, schemes: readonly string[]): string | undefined | 'malformed' {
    if (value.length === 0) return undefined;
    const match = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+)(?: +(.*))?$/.exec(value);
    if (match === null) return undefined;
    if (!schemes.some((s) => s.toLowerCase() === match[1]!.toLowerCase())) return undefined;
    const token = match[2] === undefined ? null : /^([A-Za-z0-9\-._~+/]+=*) *$/.exec(match[2]);
    return token === null ? 'malformed' : token[1];
  }
  function parsed(value: string, schemes: readonly string[]): string | undefined | 'malformed' {
    try {
      return BearerAuthenticator.credential(value, schemes);
    } catch (err) {
      expect((err as { code?: string }).code).toBe(ErrorCodes.HTTP_AUTH_MALFORMED);
      return 'malformed';
    }
  }

  it('gives what the two-step grammar gives, for any header built of its characters', () => {
    // Scheme names, the token68 alphabet, and what either grammar refuses (tab, comma, quote, '=' mid-token).
    const piece = fc.constantFrom(
      'Bearer',
      'bearer',
      'Token',
      'Basic',
      ' ',
      '  ',
      '\t',
      'a',
      'Z9',
      '-._~+/',
      '=',
      '==',
      ',',
      '"',
      'x=y',
      '!',
      'é',
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 8 }), fc.boolean(), (pieces, both) => {
        const value = pieces.join('');
        const schemes = both ? ['Bearer', 'Token'] : ['Bearer'];
        expect(parsed(value, schemes)).toEqual(reference(value, schemes));
      }),
      { numRuns: 3000 },
    );
  });

  it('takes the token after any number of spaces and leaves trailing spaces out', () => {
    expect(BearerAuthenticator.credential('Bearer    abc.def==  ')).toBe('abc.def==');
    expect(BearerAuthenticator.credential('BEARER x')).toBe('x');
    expect(() => BearerAuthenticator.credential('Bearer a=b')).toThrow();
    expect(() => BearerAuthenticator.credential('Bearer ')).toThrow();
    expect(BearerAuthenticator.credential('Bearer\tabc')).toBeUndefined();
  });
});
