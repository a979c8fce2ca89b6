import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { SignJWT, generateKeyPair } from 'jose';
import { normalizeAuditQuery } from '../../src/audit/audit-store';
import {
  BulwarkAuditError,
  BulwarkError,
  BulwarkIdentityError,
  BulwarkTokenError,
  ErrorCodes,
  type ErrorCode,
} from '../../src/errors';
import { BulwarkHttpError } from '../../src/http/bulwark-http-error';
import { problemFor, problemStatus, refusalReason } from '../../src/http/problem-details';
import { TokenService } from '../../src/tokens/token-service';

/**
 * Which error codes a client can cause, and why. A request from an unprivileged or anonymous
 * client can produce every one of these (bad input, bad or missing credentials, a refused action,
 * an action that conflicts with the current state), so none may answer 5xx: a 500 to client input
 * is an availability alarm, hides the client's mistake from the client, and lets an attacker fill
 * the error logs. Every other code is a failure of the server, its configuration or its stores.
 */
const CLIENT_TRIGGERABLE: Readonly<Partial<Record<ErrorCode, string>>> = {
  [ErrorCodes.TOKEN_MALFORMED]: 'any Authorization header',
  [ErrorCodes.TOKEN_EXPIRED]: 'an old token',
  [ErrorCodes.TOKEN_NOT_YET_VALID]: 'a token with nbf in the future',
  [ErrorCodes.TOKEN_ALGORITHM_NOT_ALLOWED]: 'a token with alg none / another algorithm',
  [ErrorCodes.TOKEN_SIGNATURE_INVALID]: 'a forged token',
  [ErrorCodes.TOKEN_CLAIM_INVALID]: 'a token of another issuer or audience',
  [ErrorCodes.TOKEN_KEY_NOT_FOUND]: 'a token with an unknown kid',
  [ErrorCodes.TOKEN_INVALID]: 'the public code of all the above',
  [ErrorCodes.TOKEN_REVOKED]: 'a token after logout / revokeAllFor',
  [ErrorCodes.AUDIT_INVALID_QUERY]: 'a malformed cursor or an empty filter on an audit query endpoint',
  [ErrorCodes.AUDIT_INVALID_ARGUMENT]: 'a proof index or tree size out of range',
  [ErrorCodes.AUDIT_LEGAL_HOLD]: 'redacting / erasing entries under a legal hold',
  [ErrorCodes.POLICY_DENIED]: 'any action the policy refuses',
  [ErrorCodes.POLICY_BREAK_GLASS_INVALID]: 'a break-glass request without a reason or with a bad scope',
  [ErrorCodes.POLICY_BREAK_GLASS_NOT_FOUND]: 'revoking an unknown grant id',
  [ErrorCodes.MFA_INVALID_CODE]: 'a wrong code',
  [ErrorCodes.MFA_REPLAY]: 'a code used twice',
  [ErrorCodes.MFA_NOT_ENROLLED]: 'verifying without enrolment',
  [ErrorCodes.MFA_ALREADY_ENROLLED]: 'enrolling twice',
  [ErrorCodes.MFA_RECOVERY_CODE_USED]: 'a used recovery code',
  [ErrorCodes.MFA_LOCKED]: 'too many wrong codes',
  [ErrorCodes.MFA_INVALID_ARGUMENT]: 'a code of the wrong type or shape',
  [ErrorCodes.THREAT_INVALID_ARGUMENT]: 'a login with a bad account name',
  [ErrorCodes.CONSENT_UNKNOWN_PURPOSE]: 'granting an unknown purpose',
  [ErrorCodes.CONSENT_REQUIRED]: 'an action without consent',
  [ErrorCodes.CONSENT_UNKNOWN_VERSION]: 'granting a text version that does not exist',
  [ErrorCodes.CONSENT_INVALID_ARGUMENT]: 'bad subject id / proof fields',
  [ErrorCodes.PRIVACY_INVALID_ARGUMENT]: 'a bad field in a privacy request',
  [ErrorCodes.PRIVACY_DUPLICATE_ID]: 'registering an id twice',
  [ErrorCodes.PRIVACY_CONFLICT]: 'two instances updating one record at once',
  [ErrorCodes.PRIVACY_NOT_FOUND]: 'an unknown request id',
  [ErrorCodes.DSR_INVALID_TRANSITION]: 'running a step twice / out of order',
  [ErrorCodes.DSR_IDENTITY_NOT_VERIFIED]: 'acting before identity verification',
  [ErrorCodes.DSR_EXTENSION_INVALID]: 'an extension without a reason or beyond the limit',
  [ErrorCodes.DSR_UNSUPPORTED]: 'asking for an operation no source supports',
  [ErrorCodes.DSR_RECEIPT_INVALID]: 'presenting a forged erasure receipt',
  [ErrorCodes.RETENTION_LEGAL_HOLD]: 'purging data under a legal hold',
  [ErrorCodes.CSRF_INVALID]: 'a cross-site request',
  [ErrorCodes.HTTP_AUTH_REQUIRED]: 'no credentials',
  [ErrorCodes.HTTP_AUTH_MALFORMED]: 'an Authorization header of an accepted scheme that is not a token68',
  [ErrorCodes.HTTP_BODY_TOO_LARGE]: 'a large body',
  [ErrorCodes.HTTP_MALFORMED_BODY]: 'broken JSON',
  [ErrorCodes.HTTP_UNSUPPORTED_MEDIA_TYPE]: 'an odd content type',
  [ErrorCodes.HTTP_INPUT_TOO_DEEP]: 'deep JSON',
  [ErrorCodes.HTTP_INPUT_FORBIDDEN_KEY]: '__proto__ keys',
  [ErrorCodes.HTTP_INPUT_NUL_BYTE]: 'NUL bytes',
  [ErrorCodes.HTTP_PATH_TRAVERSAL]: '../ in an id',
  [ErrorCodes.HTTP_TOO_MANY_REQUESTS]: 'guessing passwords',
  [ErrorCodes.HTTP_NOT_FOUND]: 'an unknown URL',
  [ErrorCodes.HTTP_HEADERS_TOO_LARGE]: 'huge headers',
  [ErrorCodes.HTTP_BAD_REQUEST]: 'a request Node cannot parse',
  [ErrorCodes.HTTP_UNKNOWN_FIELD]: 'a body field the route does not accept (mass assignment)',
  [ErrorCodes.HTTP_RATE_LIMITED]: 'too many requests',
  [ErrorCodes.HTTP_CORS_REFUSED]: 'a preflight from another origin',
  [ErrorCodes.HTTP_CROSS_SITE_REFUSED]: 'a cross-site fetch',
  [ErrorCodes.HTTP_DUPLICATE_PARAMETER]: 'a parameter sent twice',
  [ErrorCodes.COMPLIANCE_SNAPSHOT_INVALID]: 'an unsigned or forged evidence snapshot',
  [ErrorCodes.COMPLIANCE_SNAPSHOT_STALE]: 'an old evidence snapshot',
  [ErrorCodes.COMPLIANCE_REPORT_SIGNATURE_INVALID]: 'a report edited after signing',
  [ErrorCodes.SIGNIN_NOT_PROVISIONED]: 'a user the identity provider knows and the app does not',
  [ErrorCodes.SIGNIN_FAILED]: 'wrong credentials or a forged provider response',
  [ErrorCodes.MFA_WEBAUTHN_INVALID]: 'a forged, replayed or phished passkey response',
  [ErrorCodes.MFA_WEBAUTHN_COUNTER]: 'an assertion from a cloned authenticator',
  [ErrorCodes.MFA_STEP_UP_REQUIRED]: 'a sensitive action with a stale or weak sign-in',
  [ErrorCodes.SESSION_REVOKED]: 'a session revoked on another instance mid-request',
  [ErrorCodes.SESSION_INVALID_ARGUMENT]: 'oversized session data',
  [ErrorCodes.PASSWORD_POLICY]: 'a password on the breached-password list',
  [ErrorCodes.ACCOUNT_DISABLED]: 'signing in to a disabled account',
  [ErrorCodes.ACCOUNT_RESET_TOKEN_INVALID]: 'a used or guessed reset link',
  [ErrorCodes.ACCOUNT_INVALID_ARGUMENT]: 'an empty user id',
  [ErrorCodes.ALERT_WEBHOOK_INVALID]: 'a forged or replayed webhook to a receiver using verifyWebhook',
  [ErrorCodes.ACCOUNT_CURRENT_PASSWORD_INVALID]: 'a password change with a wrong current password',
  [ErrorCodes.ACCOUNT_LOCKED]: 'too many wrong current passwords',
};

/** Server-side failures that answer 503 (a dependency down, locked or closing: retry later). */
const UNAVAILABLE: readonly ErrorCode[] = [
  ErrorCodes.TOKEN_JWKS_UNAVAILABLE,
  ErrorCodes.TOKEN_REVOCATION_STORE,
  ErrorCodes.THREAT_STORE,
  ErrorCodes.CRYPTO_CLOSED,
  ErrorCodes.AUDIT_CLOSED,
  ErrorCodes.AUDIT_STORE_LOCKED,
  ErrorCodes.AUDIT_STORE_UNAVAILABLE,
  ErrorCodes.AUDIT_OUTCOME_UNKNOWN,
  ErrorCodes.AUDIT_UNAVAILABLE,
  ErrorCodes.POLICY_AUDIT_FAILED,
  ErrorCodes.MFA_STORE,
  ErrorCodes.CONSENT_STORE,
  ErrorCodes.POLICY_BREAK_GLASS_STORE,
  ErrorCodes.PRIVACY_STORE,
  ErrorCodes.CRYPTO_KMS_UNAVAILABLE,
  ErrorCodes.SIGNIN_UNAVAILABLE,
  ErrorCodes.MFA_DELIVERY,
  ErrorCodes.SESSION_STORE,
  ErrorCodes.ACCOUNT_STORE,
  ErrorCodes.ALERT_DELIVERY_FAILED,
];

const ALL_CODES = Object.values(ErrorCodes) as ErrorCode[];

describe('error code -> HTTP mapping', () => {
  it('maps every error code deliberately (run time twin of the satisfies Record<ErrorCode, Mapping> check)', () => {
    const unmapped = ALL_CODES.filter((code) => problemStatus(code) === undefined);
    expect(unmapped).toEqual([]);
    expect(problemStatus('ERR_SOMEONE_ELSES')).toBeUndefined();
    expect(problemStatus('constructor')).toBeUndefined();
  });

  it.each(Object.entries(CLIENT_TRIGGERABLE))('never answers 5xx to %s (%s)', (code) => {
    const p = problemFor(new BulwarkError(code, 'audit query cursor is not a cursor from a previous page'));
    expect(p.status).toBeGreaterThanOrEqual(400);
    expect(p.status).toBeLessThan(500);
    expect(problemStatus(code)).toBe(p.status);
    expect(p.body.type).not.toBe('https://bulwark.dev/problems/internal');
  });

  it('answers every server-side code with a generic 500 or 503 that names nothing', () => {
    const server = ALL_CODES.filter((code) => CLIENT_TRIGGERABLE[code] === undefined);
    expect(server.length).toBeGreaterThan(20);
    for (const code of server) {
      const p = problemFor(
        new BulwarkError(code, 'key pii v3 at /srv/keys.json', { keyId: 'pii', path: '/srv' }),
      );
      expect({ code, status: p.status }).toEqual({ code, status: UNAVAILABLE.includes(code) ? 503 : 500 });
      expect(JSON.stringify(p.body)).not.toMatch(/pii|srv|keys\.json/);
      // The precise code still reaches the audit event.
      expect(p.errorCode).toBe(code);
    }
    for (const code of UNAVAILABLE) expect(CLIENT_TRIGGERABLE[code]).toBeUndefined();
  });

  it('answers a malformed cursor and an empty filter 400 with the field, not the value', () => {
    for (const query of [{ cursor: 'bm90LWEtY3Vyc29y' }, { actorId: '' }, { cursor: '!'.repeat(41) }]) {
      let error: unknown;
      try {
        normalizeAuditQuery(query);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(BulwarkAuditError);
      const p = problemFor(error, { requestId: 'r' });
      expect(p.status).toBe(400);
      expect(p.body).toMatchObject({
        type: 'https://bulwark.dev/problems/audit-invalid-query',
        code: ErrorCodes.AUDIT_INVALID_QUERY,
        title: 'Invalid audit query',
      });
      expect(p.body.detail).toMatch(/^audit query (cursor|actorId) /);
      expect(p.body.detail).not.toContain('bm90LWEtY3Vyc29y');
    }
  });

  it('answers a replayed or used-up MFA code like a wrong one (either would confirm a guess)', () => {
    const bodies = [
      ErrorCodes.MFA_INVALID_CODE,
      ErrorCodes.MFA_REPLAY,
      ErrorCodes.MFA_RECOVERY_CODE_USED,
    ].map((code) => problemFor(new BulwarkError(code, code)).body);
    for (const body of bodies) expect(body).toEqual({ ...bodies[0], code: ErrorCodes.MFA_INVALID_CODE });
    expect(bodies[0]!.type).toBe('https://bulwark.dev/problems/mfa-invalid-code');
  });

  it('answers a cloned-authenticator refusal like any bad passkey response (the audit event keeps the code)', () => {
    const [invalid, counter] = [ErrorCodes.MFA_WEBAUTHN_INVALID, ErrorCodes.MFA_WEBAUTHN_COUNTER].map(
      (code) => problemFor(new BulwarkError(code, code)),
    );
    expect(counter!.body).toEqual(invalid!.body);
    expect(counter!.errorCode).toBe(ErrorCodes.MFA_WEBAUTHN_COUNTER);
  });

  it('answers a step-up refusal 401 with the RFC 9470 challenge and max_age', () => {
    const p = problemFor(
      new BulwarkError(ErrorCodes.MFA_STEP_UP_REQUIRED, 'step up', {
        reasonId: 'recent_auth_required',
        maxAgeSec: 300,
      }),
      { realm: 'clinic' },
    );
    expect(p.status).toBe(401);
    expect(p.headers['www-authenticate']).toBe(
      'Bearer realm="clinic", error="insufficient_user_authentication", ' +
        'error_description="A stronger or more recent authentication is required", max_age="300"',
    );
    expect(p.body).toMatchObject({
      code: ErrorCodes.MFA_STEP_UP_REQUIRED,
      reasonId: 'recent_auth_required',
      maxAgeSec: 300,
    });
  });

  it('keeps the own 4xx status of application codes, and answers an unknown Bulwark code 500', () => {
    expect(
      problemFor(new BulwarkHttpError('ERR_CLINIC_NOT_FOUND', 404, 'Patient not found.')).body,
    ).toMatchObject({
      status: 404,
      code: 'ERR_CLINIC_NOT_FOUND',
    });
    const unknown = problemFor(new BulwarkError('ERR_SOMEONE_ELSES', 'internal detail'));
    expect(unknown.status).toBe(500);
    expect(unknown.body.code).toBeUndefined();
    expect(unknown.errorCode).toBe('ERR_SOMEONE_ELSES');
  });

  it('declares every Bulwark code a package throws by string: core in ErrorCodes, an adapter in its own package', () => {
    // Codes written as literals (not ErrorCodes.X) escape the compile-time check: find them all.
    // Core knows no adapter, so an adapter's codes are declared in its own package, in an
    // `export const <Name>ErrorCodes = { ... } as const` object, prefixed with its name
    // (ERR_TYPEORM_*), and answer core's generic 500 (not in the mapping table: see below).
    const packagesDir = path.resolve(__dirname, '..', '..', '..');
    const core = new Set<string>(ALL_CODES);
    const DECLARATION = /export const (\w*)ErrorCodes = \{([\s\S]*?)\} as const/g;
    const LITERAL = /['"](ERR_[A-Z0-9_]+)['"]/g;
    const problems: string[] = [];
    const adapterCodes = new Map<string, string>();
    for (const pkg of readdirSync(packagesDir)) {
      const src = path.join(packagesDir, pkg, 'src');
      if (!existsSync(src)) continue;
      const files: string[] = [];
      const walk = (dir: string): void => {
        for (const name of readdirSync(dir)) {
          const file = path.join(dir, name);
          if (statSync(file).isDirectory()) walk(file);
          else if (file.endsWith('.ts')) files.push(file);
        }
      };
      walk(src);
      const own = new Set<string>();
      const bodies = new Map<string, string>();
      for (const file of files) {
        let text = readFileSync(file, 'utf8');
        if (pkg !== 'core') {
          for (const m of text.matchAll(DECLARATION)) {
            for (const c of m[2]!.matchAll(LITERAL)) {
              const code = c[1]!;
              const where = `${path.relative(packagesDir, file)}: ${code}`;
              if (!code.startsWith(`ERR_${pkg.toUpperCase()}_`))
                problems.push(`${where} is not prefixed ERR_${pkg.toUpperCase()}_`);
              if (core.has(code)) problems.push(`${where} is also a core code`);
              if (adapterCodes.has(code))
                problems.push(`${where} is also declared in ${adapterCodes.get(code)}`);
              adapterCodes.set(code, pkg);
              own.add(code);
            }
          }
          text = text.replace(DECLARATION, '');
        }
        bodies.set(file, text);
      }
      for (const [file, text] of bodies) {
        for (const m of text.matchAll(LITERAL)) {
          // jose's own codes, which mapJoseError translates
          if (/^ERR_(JWT|JWS|JWKS|JWE|JOSE)_/.test(m[1]!)) continue;
          if (!core.has(m[1]!) && !own.has(m[1]!))
            problems.push(`${path.relative(packagesDir, file)}: ${m[1]} is not declared`);
        }
      }
    }
    expect(problems).toEqual([]);
    // The adapter codes found are real (the scan would pass vacuously if it found none) ...
    expect([...adapterCodes.keys()]).toContain('ERR_TYPEORM_UNSUPPORTED_QUERY');
    // ... and none is in core's table: each answers the generic 500 deliberately, code kept for the audit.
    for (const code of adapterCodes.keys()) {
      expect(problemStatus(code)).toBeUndefined();
      const p = problemFor(new BulwarkError(code, 'users.email: raw value at row 7'));
      expect({ status: p.status, body: p.body, errorCode: p.errorCode }).toEqual({
        status: 500,
        body: {
          type: 'https://bulwark.dev/problems/internal',
          title: 'Internal Server Error',
          status: 500,
          detail: 'The server could not complete the request.',
        },
        errorCode: code,
      });
    }
  });
});

describe('token refusals over HTTP', () => {
  const SECRET = new TextEncoder().encode('k'.repeat(32));
  const ISS = 'https://issuer.test';
  const AUD = 'api';
  const service = new TokenService({
    algorithms: ['HS256'],
    signingKey: { key: SECRET },
    issuer: ISS,
    audience: AUD,
  });
  const now = Math.floor(Date.now() / 1000);
  const jwt = (claims: Record<string, unknown> = {}) =>
    new SignJWT({ roles: ['admin'], ...claims })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('mallory')
      .setIssuer(ISS)
      .setAudience(AUD)
      .setIssuedAt(now - 10)
      .setExpirationTime(now + 600);
  const b64 = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');

  async function refusal(token: string | Promise<string>): Promise<BulwarkTokenError> {
    try {
      await service.verify(await token);
    } catch (err) {
      expect(err).toBeInstanceOf(BulwarkTokenError);
      return err as BulwarkTokenError;
    }
    throw new Error('the token was accepted');
  }

  it('answers one problem for every failed check but expiry; library callers keep the precise code', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const forged = {
      signature: await refusal(jwt().sign(new TextEncoder().encode('o'.repeat(32)))),
      audience: await refusal(jwt().setAudience('other-api').sign(SECRET)),
      issuer: await refusal(jwt().setIssuer('https://evil.test').sign(SECRET)),
      algNone: await refusal(
        `${b64({ alg: 'none' })}.${b64({ sub: 'mallory', iss: ISS, aud: AUD, exp: now + 600 })}.`,
      ),
      otherAlgorithm: await refusal(
        new SignJWT({}).setProtectedHeader({ alg: 'ES256' }).setIssuer(ISS).setAudience(AUD).sign(privateKey),
      ),
      notYetValid: await refusal(
        jwt()
          .setNotBefore(now + 3600)
          .sign(SECRET),
      ),
      malformed: await refusal('a.b.c'),
    };
    const expired = await refusal(
      jwt()
        .setIssuedAt(now - 7200)
        .setExpirationTime(now - 3600)
        .sign(SECRET),
    );

    expect(Object.fromEntries(Object.entries(forged).map(([k, e]) => [k, e.code]))).toEqual({
      signature: ErrorCodes.TOKEN_SIGNATURE_INVALID,
      audience: ErrorCodes.TOKEN_CLAIM_INVALID,
      issuer: ErrorCodes.TOKEN_CLAIM_INVALID,
      algNone: ErrorCodes.TOKEN_ALGORITHM_NOT_ALLOWED,
      otherAlgorithm: ErrorCodes.TOKEN_ALGORITHM_NOT_ALLOWED,
      notYetValid: ErrorCodes.TOKEN_NOT_YET_VALID,
      malformed: ErrorCodes.TOKEN_MALFORMED,
    });
    expect(expired.code).toBe(ErrorCodes.TOKEN_EXPIRED);

    const answers = Object.values(forged).map((e) => problemFor(e, { requestId: 'r', realm: 'api' }));
    for (const answer of answers) {
      expect({ status: answer.status, headers: answer.headers, body: answer.body }).toEqual({
        status: 401,
        headers: { 'www-authenticate': 'Bearer realm="api", error="invalid_token"' },
        body: {
          type: 'https://bulwark.dev/problems/token-invalid',
          title: 'Invalid token',
          status: 401,
          detail: 'The access token is invalid.',
          requestId: 'r',
          code: ErrorCodes.TOKEN_INVALID,
        },
      });
    }
    // What failed stays server-side, for the audit event.
    expect(answers.map((a) => a.errorCode)).toEqual(Object.values(forged).map((e) => e.code));
    expect(refusalReason(forged.audience)).toBe('aud.check_failed');
    expect(refusalReason(forged.issuer)).toBe('iss.check_failed');
    // A refused sign-in's check goes to the audit event; the body stays the one problem.
    const signIn = new BulwarkIdentityError(ErrorCodes.SIGNIN_FAILED, 'refused', { reason: 'replayed' });
    expect(refusalReason(signIn)).toBe('replayed');
    expect(JSON.stringify(problemFor(signIn).body)).not.toContain('replayed');
    expect(problemFor(forged.audience).errorReason).toBe('aud.check_failed');

    // "Expired" is told only for a genuine token: a forged one that is also stale is just invalid.
    const forgedAndStale = await refusal(
      jwt()
        .setIssuedAt(now - 7200)
        .setExpirationTime(now - 3600)
        .sign(new TextEncoder().encode('o'.repeat(32))),
    );
    expect(problemFor(forgedAndStale).body.code).toBe(ErrorCodes.TOKEN_INVALID);

    const exp = problemFor(expired, { requestId: 'r' });
    expect(exp.status).toBe(401);
    expect(exp.body).toMatchObject({
      type: 'https://bulwark.dev/problems/token-expired',
      code: ErrorCodes.TOKEN_EXPIRED,
      detail: 'The access token has expired.',
    });
  });
});
