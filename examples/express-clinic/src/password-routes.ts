import { AUTH_AUDIT_ACTIONS, type AuditLog, type PasswordHasher } from '@bulwark/core';
import { clientIp } from '@bulwark/express';
import { Router, type Request } from 'express';
import type { Repository } from 'typeorm';
import type { ClinicUser } from './entities/clinic-user';
import { invalidCredentials, invalidInput } from './errors';

/**
 * The clinic's password policy (NIST SP 800-63B rev. 4 through Bulwark's PasswordPolicy): 15
 * characters, or 12 for accounts with a second factor (PCI DSS 8.3.6 asks 12 of every password),
 * no composition rules, no common or breached password, nothing of the clinic's name.
 */
export const CLINIC_PASSWORD_POLICY = Object.freeze({
  minLength: 15,
  minLengthWithMfa: 12,
  contextWords: ['Bulwark Clinic', 'express-clinic'],
});

function field(body: unknown, name: string, max: number): string {
  const value =
    typeof body === 'object' && body !== null ? (body as Record<string, unknown>)[name] : undefined;
  if (typeof value !== 'string' || value.length === 0 || value.length > max) {
    throw invalidInput(`body.${name}`, `${name} must be a non-empty string of at most ${max} characters.`);
  }
  return value;
}

/**
 * `POST /auth/password-check` (public: the sign-up and change forms ask it as the user types) and
 * `POST /auth/password` (the signed-in user changes their password). A refused password is a 422
 * problem with `code: ERR_PASSWORD_POLICY` and `reasons` (stable ids the form translates).
 */
export function passwordRoutes(deps: {
  passwords: PasswordHasher;
  users: Repository<ClinicUser>;
  auditLog: AuditLog;
}): Router {
  const { passwords, users, auditLog } = deps;
  const router = Router();

  router.post('/auth/password-check', async (req, res) => {
    const password = field(req.body, 'password', 1024);
    const username = typeof req.body?.username === 'string' ? req.body.username.slice(0, 64) : undefined;
    const result = await passwords.check(password, { userInputs: username ? [username] : [] });
    res.set('Cache-Control', 'no-store').json({
      ok: result.ok,
      reasons: result.reasons,
      score: result.score,
      minLength: result.minLength,
      feedback: result.feedback,
    });
  });

  router.post('/auth/password', async (req: Request, res) => {
    const me = req.principal!;
    const current = field(req.body, 'currentPassword', 1024);
    const next = field(req.body, 'newPassword', 1024);
    const user = await users.findOneBy({ id: me.id });
    if (user === null || !(await passwords.verify(user.passwordHash, current))) throw invalidCredentials();
    // The policy runs inside hash(): a refused password is never hashed or stored.
    user.passwordHash = await passwords.hash(next, { userInputs: [user.username, user.displayName] });
    await users.save(user);
    const ip = clientIp(req);
    await auditLog.append({
      actor: { id: user.id, type: 'user', ...(ip ? { ip } : {}) },
      action: AUTH_AUDIT_ACTIONS.passwordChanged,
      outcome: 'success',
      resource: { type: 'user', id: user.id },
      category: 'auth',
      ...(req.requestId ? { requestId: req.requestId } : {}),
    });
    res.status(204).end();
  });

  return router;
}
