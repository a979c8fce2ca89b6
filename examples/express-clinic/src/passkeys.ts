import type { Bulwark, HttpPrincipal } from '@bulwark/core';
import { BulwarkHttpError } from '@bulwark/core';
import { WebAuthnFactor } from '@bulwark/core/webauthn';
import type { BulwarkMiddleware } from '@bulwark/express';
import { clientIp, requireRecentAuth } from '@bulwark/express';
import { TypeOrmWebAuthnStore } from '@bulwark/typeorm';
import { Router, type Request } from 'express';
import type { DataSource } from 'typeorm';
import { ClinicUser } from './entities/clinic-user';
import { invalidInput, notFound } from './errors';

/** Where doctors' passkeys are valid: the site's domain and the exact origins its pages are served from. */
export interface ClinicPasskeyOptions {
  /** Default `localhost`. */
  rpId?: string;
  /** Default `['http://localhost:3000']` (http is allowed for localhost only). */
  origins?: string[];
}

/** Routes that do not need a bearer token (the passkey is the credential). */
export const PASSKEY_PUBLIC_PATHS = ['/auth/passkeys/login/options', '/auth/passkeys/login/verify'];

export const PASSKEY_ENDPOINTS = [
  'POST   /auth/passkeys/registration/options   (doctor) -> WebAuthn creation options',
  'POST   /auth/passkeys/registration/verify    (doctor) { response, name? } -> passkey registered',
  'GET    /auth/passkeys                        (doctor) -> my passkeys',
  'DELETE /auth/passkeys/:id                    (doctor, signed in with a passkey < 5 min ago)',
  'POST   /auth/passkeys/login/options          -> WebAuthn request options (no user name needed)',
  'POST   /auth/passkeys/login/verify           { response } -> bearer token (amr hwk, auth_time)',
];

function doctorOnly(principal: HttpPrincipal | undefined): HttpPrincipal {
  if (principal === undefined || !principal.roles.includes('doctor')) {
    throw new BulwarkHttpError('ERR_CLINIC_PASSKEYS_DOCTORS_ONLY', 403, 'Passkeys are offered to doctors.');
  }
  return principal;
}

function responseOf(req: Request): never {
  const body = req.body as { response?: unknown } | undefined;
  if (body?.response === null || typeof body?.response !== 'object') {
    throw invalidInput('body.response', 'response must be the WebAuthn credential as JSON.');
  }
  return body.response as never;
}

/**
 * Passkeys for doctors (issue 18): registration while signed in, username-less sign-in that
 * issues the same bearer token as the password login plus `amr: ['hwk', 'user']` and `auth_time`
 * (RFC 8176 / OpenID Connect), which step-up checks read. Credentials and challenges live in the
 * clinic database (TypeOrmWebAuthnStore); failed assertions count on the kit's brute-force guard;
 * every ceremony appends an `auth.mfa` event.
 */
export function passkeyRoutes(deps: {
  kit: Bulwark;
  http: BulwarkMiddleware;
  dataSource: DataSource;
  options?: ClinicPasskeyOptions;
}): Router {
  const { kit, dataSource } = deps;
  const users = dataSource.getRepository(ClinicUser);
  const factor = new WebAuthnFactor({
    store: new TypeOrmWebAuthnStore(dataSource),
    rpId: deps.options?.rpId ?? 'localhost',
    rpName: 'Clinic',
    origins: deps.options?.origins ?? ['http://localhost:3000'],
    ...(kit.bruteForce !== undefined ? { guard: kit.bruteForce } : {}),
    ...(kit.auditLog !== undefined ? { audit: kit.auditLog } : {}),
  });
  const attempt = (req: Request) => {
    const ip = clientIp(req);
    return { ...(ip !== undefined ? { ip } : {}), ...(req.requestId ? { requestId: req.requestId } : {}) };
  };
  const router = Router();

  router.post('/auth/passkeys/registration/options', async (req, res) => {
    const me = doctorOnly(req.principal);
    const user = await users.findOneBy({ id: me.id });
    if (user === null) throw notFound('User');
    res.json(
      await factor.registrationOptions({ id: user.id, name: user.username, displayName: user.displayName }),
    );
  });

  router.post('/auth/passkeys/registration/verify', async (req, res) => {
    const me = doctorOnly(req.principal);
    const name = (req.body as { name?: unknown }).name;
    const registered = await factor.verifyRegistration(me.id, responseOf(req), attempt(req), {
      ...(typeof name === 'string' ? { name } : {}),
    });
    res.status(201).json({ id: registered.credentialId, deviceType: registered.deviceType });
  });

  router.get('/auth/passkeys', async (req, res) => {
    const me = doctorOnly(req.principal);
    res.json(
      (await factor.listCredentials(me.id)).map((c) => ({
        id: c.id,
        name: c.name ?? null,
        createdAt: c.createdAt,
        lastUsedAt: c.lastUsedAt ?? null,
      })),
    );
  });

  // Removing a passkey is a sensitive change: it needs a passkey sign-in of the last 5 minutes.
  router.delete(
    '/auth/passkeys/:id',
    requireRecentAuth({ maxAgeSec: 300, factors: ['webauthn'] }),
    async (req, res) => {
      const me = doctorOnly(req.principal);
      if (!(await factor.removeCredential(me.id, String(req.params.id)))) throw notFound('Passkey');
      res.status(204).end();
    },
  );

  router.post('/auth/passkeys/login/options', async (_req, res) => {
    res.json(await factor.authenticationOptions());
  });

  router.post('/auth/passkeys/login/verify', async (req, res) => {
    const verified = await factor.verifyAuthentication(responseOf(req), attempt(req));
    const user = await users.findOneBy({ id: verified.userId });
    if (user === null || user.role !== 'doctor') throw notFound('User');
    const token = await kit.tokens!.sign(
      {
        roles: [user.role],
        name: user.displayName,
        // RFC 8176: hardware-backed key, user verified (PIN / biometrics); the sign-in time for step-up.
        amr: verified.userVerified ? ['hwk', 'user'] : ['hwk'],
        auth_time: Math.floor(Date.parse(verified.at) / 1000),
      },
      { subject: user.id },
    );
    res.json({
      token,
      tokenType: 'Bearer',
      expiresIn: 900,
      user: { id: user.id, role: user.role, displayName: user.displayName },
    });
  });

  return router;
}
