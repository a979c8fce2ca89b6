/**
 * Step-up (ASVS 5.0 V6.3.3, V7.5.1) over real HTTP, the same scenarios for Express, Koa and
 * NestJS: bearer tokens whose `auth_time` / `amr` claims say how and when the user authenticated,
 * routes that need a recent sign-in, a given factor, or a second factor by the MFA policy.
 */
import { randomBytes } from 'node:crypto';
import { MfaPolicy, PolicyEngine, TokenService, type PolicyDocument } from '@bulwark/core';

/** Roles: `clerk` needs no second factor, `admin` does (MfaPolicy), doctors sign prescriptions with a passkey. */
export const stepUpPolicy: PolicyDocument = {
  version: 1,
  roles: { clerk: {}, admin: {}, doctor: {} },
  policies: [
    {
      id: 'app',
      rules: [
        {
          id: 'settings',
          effect: 'allow',
          roles: ['clerk', 'admin'],
          actions: ['read'],
          resources: ['settings'],
        },
        {
          id: 'sign-needs-passkey',
          effect: 'deny',
          roles: ['doctor'],
          actions: ['sign'],
          resources: ['prescriptions'],
          when: { not: { factor: 'webauthn' } },
          reasonId: 'step_up_required',
        },
        { id: 'sign', effect: 'allow', roles: ['doctor'], actions: ['sign'], resources: ['prescriptions'] },
      ],
    },
  ],
};

/** Routes every adapter mounts (GET, answering `{ ok: true }`). */
export const ROUTES = {
  /** requireRecentAuth(300) */
  recent: '/account/email',
  /** requireRecentAuth({ factors: ['webauthn'] }) */
  passkey: '/account/passkey-only',
  /** authorize('read', 'settings') with the MfaPolicy (admins need a second factor) */
  settings: '/settings',
  /** authorize('sign', 'prescriptions'): the policy's deny rule answers step_up_required */
  sign: '/prescriptions/sign',
} as const;

export function stepUpKit() {
  const tokens = new TokenService({
    algorithms: ['HS256'],
    signingKey: { key: randomBytes(32) },
    issuer: 'bulwark-step-up-test',
  });
  const authorizer = new PolicyEngine({ policy: stepUpPolicy });
  const mfaPolicy = new MfaPolicy({ requiredFor: ['admin'], maxAgeSec: 900 });
  const now = () => Math.floor(Date.now() / 1000);
  /** A token for a user who authenticated `agoSec` seconds ago with these RFC 8176 `amr` values. */
  const token = (roles: string[], amr?: string[], agoSec?: number) =>
    tokens.sign(
      {
        roles,
        ...(amr !== undefined ? { amr } : {}),
        ...(agoSec !== undefined ? { auth_time: now() - agoSec } : {}),
      },
      { subject: 'u1' },
    );
  return { tokens, authorizer, mfaPolicy, token };
}

export interface StepUpCase {
  name: string;
  route: string;
  roles: string[];
  amr?: string[];
  agoSec?: number;
  status: 200 | 401;
  /** `max_age` expected in the RFC 9470 challenge. */
  maxAge?: number;
  reasonId?: string;
}

export const STEP_UP_CASES: StepUpCase[] = [
  {
    name: 'recent sign-in passes',
    route: ROUTES.recent,
    roles: ['clerk'],
    amr: ['pwd'],
    agoSec: 60,
    status: 200,
  },
  {
    name: 'a sign-in 10 minutes ago must step up',
    route: ROUTES.recent,
    roles: ['clerk'],
    amr: ['pwd'],
    agoSec: 600,
    status: 401,
    maxAge: 300,
    reasonId: 'recent_auth_required',
  },
  {
    name: 'an auth_time in the future is not trusted',
    route: ROUTES.recent,
    roles: ['clerk'],
    amr: ['pwd'],
    agoSec: -3600,
    status: 401,
    maxAge: 300,
  },
  {
    name: 'a token without auth_time never counts as recent',
    route: ROUTES.recent,
    roles: ['clerk'],
    amr: ['pwd'],
    status: 401,
    maxAge: 300,
  },
  {
    name: 'a passkey (amr hwk) passes the factor route',
    route: ROUTES.passkey,
    roles: ['clerk'],
    amr: ['hwk', 'user'],
    agoSec: 60,
    status: 200,
  },
  {
    name: 'a TOTP is not a passkey',
    route: ROUTES.passkey,
    roles: ['clerk'],
    amr: ['pwd', 'otp'],
    agoSec: 60,
    status: 401,
    reasonId: 'factor_required',
  },
  {
    name: 'a clerk needs no second factor',
    route: ROUTES.settings,
    roles: ['clerk'],
    amr: ['pwd'],
    agoSec: 60,
    status: 200,
  },
  {
    name: 'an admin with a password only must step up (MfaPolicy)',
    route: ROUTES.settings,
    roles: ['admin'],
    amr: ['pwd'],
    agoSec: 60,
    status: 401,
    reasonId: 'mfa_missing',
  },
  {
    name: 'an admin whose second factor is older than the policy allows must step up',
    route: ROUTES.settings,
    roles: ['admin'],
    amr: ['pwd', 'otp'],
    agoSec: 1000,
    status: 401,
    reasonId: 'mfa_expired',
  },
  {
    name: 'an admin with a recent TOTP passes',
    route: ROUTES.settings,
    roles: ['admin'],
    amr: ['pwd', 'otp'],
    agoSec: 60,
    status: 200,
  },
  {
    name: 'a policy deny rule step_up_required answers 401, not 403',
    route: ROUTES.sign,
    roles: ['doctor'],
    amr: ['pwd'],
    agoSec: 60,
    status: 401,
    reasonId: 'step_up_required',
  },
  {
    name: 'a doctor with a passkey signs',
    route: ROUTES.sign,
    roles: ['doctor'],
    amr: ['pwd', 'swk'],
    agoSec: 60,
    status: 200,
  },
];

/** The assertions on one answer (supertest response shape). */
export function expectStepUpAnswer(
  c: StepUpCase,
  res: {
    status: number;
    headers: Record<string, string | string[] | undefined>;
    body: Record<string, unknown>;
  },
): void {
  expect(res.status).toBe(c.status);
  if (c.status === 200) {
    expect(res.body).toEqual({ ok: true });
    return;
  }
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.body).toMatchObject({
    status: 401,
    code: 'ERR_MFA_STEP_UP_REQUIRED',
    type: 'https://bulwark.dev/problems/mfa-step-up-required',
  });
  if (c.reasonId !== undefined) expect(res.body.reasonId).toBe(c.reasonId);
  const challenge = String(res.headers['www-authenticate']);
  expect(challenge).toMatch(/^Bearer realm="[^"]+", error="insufficient_user_authentication"/);
  if (c.maxAge !== undefined) {
    expect(challenge).toContain(`max_age="${c.maxAge}"`);
    expect(res.body.maxAgeSec).toBe(c.maxAge);
  }
}
