import { AccountLifecycle, type AccountLifecycleOptions } from '../account/account-lifecycle';
import type { AuditLog } from '../audit/audit-log';
import type { PasswordHasher } from '../crypto/password-hasher';
import { SessionEngine, type SessionEngineOptions } from '../session/session-engine';
import type { BruteForceGuard } from '../threat/brute-force-guard';
import { invalid, isPlainObject } from '../util/options';
import type { Opened } from './opened';

/** `sessions` in createBulwark: the engine's options; its audit log and clock are the kit's. */
export type SessionsConfig = Omit<SessionEngineOptions, 'audit' | 'now' | 'configPath'>;

/** `accounts` in createBulwark: the lifecycle's options; passwords, sessions, guard, audit, clock are the kit's. */
export type AccountsConfig = Omit<
  AccountLifecycleOptions,
  'passwords' | 'sessions' | 'bruteForce' | 'audit' | 'now'
>;

const msClock = (clock: (() => Date) | undefined): { now?: () => number } =>
  clock === undefined ? {} : { now: () => clock().getTime() };

/** Checks both sections now (the constructors validate); nothing is opened. */
export function planSessions(
  sessions: unknown,
  accounts: unknown,
): { sessions?: SessionsConfig; accounts?: AccountsConfig } {
  if (sessions !== undefined) {
    if (!isPlainObject(sessions)) throw invalid('sessions', 'an object', sessions);
    new SessionEngine({ ...(sessions as unknown as SessionsConfig), configPath: 'sessions' });
  }
  if (accounts !== undefined) {
    if (!isPlainObject(accounts)) throw invalid('accounts', 'an object', accounts);
    new AccountLifecycle(accounts as AccountsConfig);
  }
  return {
    ...(sessions !== undefined ? { sessions: sessions as unknown as SessionsConfig } : {}),
    ...(accounts !== undefined ? { accounts: accounts as AccountsConfig } : {}),
  };
}

/** The session engine and the account lifecycle, wired to the kit's audit log, hasher, guard and clock. */
export function openSessions(
  plan: { sessions?: SessionsConfig; accounts?: AccountsConfig },
  services: {
    auditLog?: AuditLog;
    passwords: PasswordHasher;
    bruteForce?: BruteForceGuard;
    clock?: () => Date;
  },
  opened: Opened[],
): { sessions?: SessionEngine; accounts?: AccountLifecycle } {
  const { auditLog, passwords, bruteForce, clock } = services;
  const sessions =
    plan.sessions === undefined
      ? undefined
      : new SessionEngine({
          ...plan.sessions,
          configPath: 'sessions',
          ...(auditLog !== undefined ? { audit: auditLog } : {}),
          ...msClock(clock),
        });
  const store = plan.sessions?.store;
  if (store?.close !== undefined) opened.push({ name: 'sessions.store', close: () => store.close!() });
  const accounts =
    plan.accounts === undefined
      ? undefined
      : new AccountLifecycle({
          ...plan.accounts,
          passwords,
          ...(sessions !== undefined ? { sessions } : {}),
          ...(bruteForce !== undefined ? { bruteForce } : {}),
          ...(auditLog !== undefined ? { audit: auditLog } : {}),
          ...msClock(clock),
        });
  return {
    ...(sessions !== undefined ? { sessions } : {}),
    ...(accounts !== undefined ? { accounts } : {}),
  };
}
