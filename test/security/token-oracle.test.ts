/**
 * Issue 12, defect 4: token refusals were an oracle. Each example answered a distinct problem
 * `type` and `code` per failed check (signature, algorithm, issuer, audience, not-yet-valid,
 * malformed), which tells a forger how far a forgery got. Now every invalid token answers one
 * problem (ERR_TOKEN_INVALID) and only an expired token has its own (clients must refresh); the
 * precise reason is kept in the audit trail.
 *
 * The forgeries use the app's real key where the attack needs one (wrong audience with a genuine
 * signature), read from the example's data folder: only the failing check differs between them.
 */
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { SignJWT } from 'jose';
import { auditEntriesOf } from './support/audit-trail';
import { describeWithService } from '../support/services';
import { startExample, type ExampleName, type ExampleProcess } from './support/example-process';

jest.setTimeout(120_000);

interface TokenSetup {
  /** A route that needs a bearer token (and, for nestjs-hr, is @Audited: its refusals are audited). */
  route: string;
  alg: 'EdDSA' | 'HS256';
  issuer: string;
  audience: string;
  key(app: ExampleProcess): Promise<KeyObject | Uint8Array>;
  /** The verification key's public form, for the HS256-with-the-public-key confusion (asymmetric apps only). */
  publicPem?(app: ExampleProcess): Promise<string>;
}

async function demoJwtSecret(app: ExampleProcess): Promise<Uint8Array> {
  const stored = JSON.parse(await fs.readFile(path.join(app.dataDir, 'demo-secrets.json'), 'utf8')) as {
    jwtSecret: string;
  };
  return Buffer.from(stored.jwtSecret, 'base64url');
}

async function clinicKey(app: ExampleProcess): Promise<KeyObject> {
  return createPrivateKey(await fs.readFile(path.join(app.dataDir, 'jwt-signing-key.pem'), 'utf8'));
}

const SETUPS: Record<ExampleName, TokenSetup> = {
  'express-clinic': {
    route: '/me',
    alg: 'EdDSA',
    issuer: 'urn:bulwark:express-clinic',
    audience: 'clinic-api',
    key: clinicKey,
    publicPem: async (app) =>
      createPublicKey(await clinicKey(app))
        .export({ type: 'spki', format: 'pem' })
        .toString(),
  },
  'koa-shop': {
    route: '/api/me',
    alg: 'HS256',
    issuer: 'bulwark-koa-shop',
    audience: 'bulwark-koa-shop',
    key: demoJwtSecret,
  },
  'nestjs-hr': {
    route: '/audit/verify',
    alg: 'HS256',
    issuer: 'bulwark-nestjs-hr',
    audience: 'bulwark-nestjs-hr',
    key: demoJwtSecret,
  },
};

const b64 = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');

interface Forgery {
  name: string;
  token: string;
  /** What the audit trail must say failed. */
  errorCode: string;
  errorReason?: string;
}

async function forgeries(
  setup: TokenSetup,
  app: ExampleProcess,
): Promise<{ genuine: string; forged: Forgery[]; expired: string }> {
  const key = await setup.key(app);
  const now = Math.floor(Date.now() / 1000);
  const claims = (alg: string = setup.alg): SignJWT =>
    new SignJWT({ roles: ['hr-admin', 'auditor', 'staff', 'doctor'] })
      .setProtectedHeader({ alg })
      .setSubject('mallory')
      .setIssuer(setup.issuer)
      .setAudience(setup.audience)
      .setIssuedAt(now - 10)
      .setExpirationTime(now + 600);
  const otherKey = setup.alg === 'HS256' ? randomBytes(32) : generateKeyPairSync('ed25519').privateKey;
  const es256 = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;

  const forged: Forgery[] = [
    {
      name: 'signed with another key',
      token: await claims().sign(otherKey),
      errorCode: 'ERR_TOKEN_SIGNATURE_INVALID',
    },
    {
      name: 'for another audience',
      token: await claims().setAudience('some-other-api').sign(key),
      errorCode: 'ERR_TOKEN_CLAIM_INVALID',
      errorReason: 'aud.check_failed',
    },
    {
      name: 'from another issuer',
      token: await claims().setIssuer('https://evil.test').sign(key),
      errorCode: 'ERR_TOKEN_CLAIM_INVALID',
      errorReason: 'iss.check_failed',
    },
    {
      name: 'without a subject',
      token: await new SignJWT({ roles: ['hr-admin'] })
        .setProtectedHeader({ alg: setup.alg })
        .setIssuer(setup.issuer)
        .setAudience(setup.audience)
        .setIssuedAt(now - 10)
        .setExpirationTime(now + 600)
        .sign(key),
      errorCode: 'ERR_TOKEN_CLAIM_INVALID',
      errorReason: 'sub.missing',
    },
    {
      name: 'with alg none',
      token: `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'mallory', roles: ['hr-admin'], iss: setup.issuer, aud: setup.audience, iat: now, exp: now + 600 })}.`,
      errorCode: 'ERR_TOKEN_ALGORITHM_NOT_ALLOWED',
    },
    {
      name: 'with an algorithm outside the allow-list (ES256)',
      token: await claims('ES256').sign(es256),
      errorCode: 'ERR_TOKEN_ALGORITHM_NOT_ALLOWED',
    },
    {
      name: 'valid only in an hour (nbf)',
      token: await claims()
        .setNotBefore(now + 3600)
        .sign(key),
      errorCode: 'ERR_TOKEN_NOT_YET_VALID',
    },
    { name: 'malformed', token: 'not.a.jwt', errorCode: 'ERR_TOKEN_MALFORMED' },
  ];
  if (setup.publicPem !== undefined) {
    // The classic confusion: HMAC keyed with the public key a verifier might accept for HS256.
    forged.push({
      name: 'signed HS256 with the public key',
      token: await claims('HS256').sign(new TextEncoder().encode(await setup.publicPem(app))),
      errorCode: 'ERR_TOKEN_ALGORITHM_NOT_ALLOWED',
    });
  }
  return {
    genuine: await claims().sign(key),
    forged,
    expired: await claims()
      .setIssuedAt(now - 7200)
      .setExpirationTime(now - 3600)
      .sign(key),
  };
}

interface Answer {
  status: number;
  contentType: string | null;
  challenge: string | null;
  body: Record<string, unknown>;
}

async function ask(app: ExampleProcess, route: string, token: string): Promise<Answer> {
  const res = await fetch(`${app.url}${route}`, {
    headers: { authorization: `Bearer ${token}` },
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  return {
    status: res.status,
    contentType: res.headers.get('content-type'),
    challenge: res.headers.get('www-authenticate'),
    body: text.startsWith('{') ? (JSON.parse(text) as Record<string, unknown>) : { text },
  };
}

/** An answer without its per-request parts: what must be identical across forgeries. */
function comparable(answer: Answer): Omit<Answer, 'body'> & { body: Record<string, unknown> } {
  const { requestId: _requestId, instance: _instance, ...body } = answer.body;
  return { ...answer, body };
}

function tokenRefusals(name: ExampleName, database: 'sqlite' | 'postgres'): void {
  let app: ExampleProcess;
  const setup = SETUPS[name];

  beforeAll(async () => {
    app = await startExample(name, { database });
  });
  afterAll(async () => {
    await app?.stop();
  });

  it('answers every forged token the same problem, and an expired one its own code', async () => {
    const { genuine, forged, expired } = await forgeries(setup, app);

    // The forgeries are right but for the one check each fails: the same claims with the app's
    // key pass token verification (the app may still refuse an unknown subject, by its own code).
    const accepted = await ask(app, setup.route, genuine);
    expect(String(accepted.body.code ?? '')).not.toMatch(/^ERR_TOKEN_/);

    const answers = [];
    for (const forgery of forged)
      answers.push({ forgery, answer: await ask(app, setup.route, forgery.token) });
    const first = comparable(answers[0]!.answer);
    expect(first).toEqual({
      status: 401,
      contentType: expect.stringMatching(/^application\/problem\+json/),
      challenge: expect.stringMatching(/^Bearer realm="[^"]+", error="invalid_token"$/),
      body: {
        type: 'https://bulwark.dev/problems/token-invalid',
        title: 'Invalid token',
        status: 401,
        detail: 'The access token is invalid.',
        code: 'ERR_TOKEN_INVALID',
      },
    });
    for (const { forgery, answer } of answers) {
      expect({ forgery: forgery.name, ...comparable(answer) }).toEqual({ forgery: forgery.name, ...first });
      expect(typeof answer.body.requestId).toBe('string');
    }
    // Only the request id differs.
    expect(new Set(answers.map((a) => a.answer.body.requestId)).size).toBe(answers.length);

    const stale = await ask(app, setup.route, expired);
    expect(stale.status).toBe(401);
    expect(stale.body).toMatchObject({
      type: 'https://bulwark.dev/problems/token-expired',
      code: 'ERR_TOKEN_EXPIRED',
      title: 'Invalid token',
      status: 401,
    });
    expect(stale.body.type).not.toBe(first.body.type);

    // The precise reason is kept where the operator looks: the audit trail.
    for (const { forgery, answer } of answers) {
      const entries = await auditEntriesOf(app, answer.body.requestId as string);
      expect({ forgery: forgery.name, entries: entries.length }).toEqual({
        forgery: forgery.name,
        entries: 1,
      });
      expect({ forgery: forgery.name, outcome: entries[0]!.outcome, details: entries[0]!.details }).toEqual({
        forgery: forgery.name,
        outcome: 'denied',
        details: expect.objectContaining({
          status: 401,
          errorCode: forgery.errorCode,
          ...(forgery.errorReason !== undefined ? { errorReason: forgery.errorReason } : {}),
        }),
      });
    }
    const [staleEntry] = await auditEntriesOf(app, stale.body.requestId as string);
    expect(staleEntry?.details).toMatchObject({ errorCode: 'ERR_TOKEN_EXPIRED' });
    expect(app.alive()).toBe(true);
  });
}

describe.each(['express-clinic', 'koa-shop', 'nestjs-hr'] as const)('%s on SQLite: token refusals', (name) =>
  tokenRefusals(name, 'sqlite'),
);

// The refusal does not touch the app's database; this run checks the audit trail on PostgreSQL too.
describeWithService('postgres', 'express-clinic on PostgreSQL: token refusals', () =>
  tokenRefusals('express-clinic', 'postgres'),
);
