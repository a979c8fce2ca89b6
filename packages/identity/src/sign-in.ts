import {
  AUTH_AUDIT_ACTIONS,
  BulwarkConfigError,
  BulwarkIdentityError,
  ErrorCodes,
  type AuditEvent,
  type HttpPrincipal,
  type PrincipalAuthentication,
  type SignInIdentity,
} from '@bulwark/core';

/** What a provisioning hook may return: the app's own user id, and roles / attributes it adds. */
export interface ProvisionedUser {
  /** The app's user id for this identity (becomes `principal.id`). */
  readonly id: string;
  /** Replaces the roles mapped from groups when given. */
  readonly roles?: readonly string[];
  /** Added to the principal (as ABAC subject attributes). */
  readonly attributes?: Readonly<Record<string, unknown>>;
}

/** Where sign-in events go: an `AuditLog` fits. */
export interface SignInAuditSink {
  append(event: AuditEvent): Promise<unknown>;
}

/** Request facts recorded with each sign-in event (never the credential). */
export interface SignInRequestContext {
  readonly ip?: string;
  readonly userAgent?: string;
  readonly requestId?: string;
}

export interface SignInMappingOptions {
  /**
   * Provider groups to Bulwark roles: a table (`{ 'cn=hr,ou=groups,dc=corp': ['hr'] }`, matched
   * exactly) or a function. Groups with no entry give no role; there is no pass-through of
   * provider group names as roles unless the function does it.
   */
  readonly roles?:
    Readonly<Record<string, readonly string[]>> | ((identity: SignInIdentity) => readonly string[]);
  /** Roles every signed-in user of this provider gets. Default none. */
  readonly defaultRoles?: readonly string[];
  /**
   * Just-in-time provisioning: called on every successful sign-in, returns the app's user for the
   * identity (creating it if needed), or `null` to refuse the sign-in (`ERR_SIGNIN_NOT_PROVISIONED`).
   * Without it, `principal.id` is `<provider>:<subject>`.
   */
  readonly provision?: (identity: SignInIdentity) => Promise<ProvisionedUser | null> | ProvisionedUser | null;
  /** Sign-in, failure, logout and mapping events are appended here. Strongly recommended. */
  readonly audit?: SignInAuditSink;
  /** Clock (epoch ms). Default `Date.now`. */
  readonly now?: () => number;
}

function uniq(values: Iterable<string>): readonly string[] {
  return Object.freeze([...new Set(values)]);
}

/**
 * Turns what a sign-in path learned (`SignInIdentity`) into the one principal shape the policy
 * engine and the adapters use, runs the app's provisioning hook, and appends `auth.*` events. Every
 * path (OIDC, SAML, LDAP) completes through one of these, so roles, audit and MFA facts look the
 * same whichever way the user came in.
 */
export class SignInMapper {
  readonly #options: SignInMappingOptions;
  readonly #now: () => number;

  constructor(options: SignInMappingOptions = {}) {
    const roles = options.roles;
    if (roles !== undefined && typeof roles !== 'function' && (typeof roles !== 'object' || roles === null)) {
      throw new BulwarkConfigError(
        ErrorCodes.CONFIG_INVALID,
        'signIn.roles must be a table of group -> roles or a function',
        { path: 'signIn.roles' },
      );
    }
    if (options.provision !== undefined && typeof options.provision !== 'function') {
      throw new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, 'signIn.provision must be a function', {
        path: 'signIn.provision',
      });
    }
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** The roles an identity maps to (default roles first, then by group). */
  rolesFor(identity: SignInIdentity): readonly string[] {
    const table = this.#options.roles;
    const mapped =
      typeof table === 'function'
        ? table(identity)
        : identity.groups.flatMap((group) =>
            table !== undefined && Object.hasOwn(table, group) ? table[group]! : [],
          );
    return uniq([...(this.#options.defaultRoles ?? []), ...mapped]);
  }

  /**
   * Completes a successful sign-in: maps roles, provisions, appends `auth.login` (success) and
   * returns the principal. A refused provisioning appends `auth.login` (denied) and throws
   * `BulwarkIdentityError` `ERR_SIGNIN_NOT_PROVISIONED`.
   */
  async complete(identity: SignInIdentity, request: SignInRequestContext = {}): Promise<HttpPrincipal> {
    let roles = this.rolesFor(identity);
    let id = `${identity.provider}:${identity.subject}`;
    let attributes: Readonly<Record<string, unknown>> = {};
    if (this.#options.provision !== undefined) {
      const user = await this.#options.provision(identity);
      if (user === null || user === undefined) {
        await this.#record(identity, request, 'denied', 'not_provisioned', undefined);
        throw new BulwarkIdentityError(
          ErrorCodes.SIGNIN_NOT_PROVISIONED,
          'The identity provider accepted this user, but the application did not provision them.',
          { provider: identity.provider },
        );
      }
      if (typeof user.id !== 'string' || user.id.length === 0) {
        throw new BulwarkConfigError(
          ErrorCodes.CONFIG_INVALID,
          'signIn.provision must return { id: non-empty string } or null',
          { path: 'signIn.provision' },
        );
      }
      id = user.id;
      if (user.roles !== undefined) roles = uniq(user.roles);
      attributes = user.attributes ?? {};
    }
    const at = this.#now();
    const authentication: PrincipalAuthentication = Object.freeze({
      method: identity.method,
      provider: identity.provider,
      at,
      factors: uniq(
        ['federated', ...identity.factors].filter((f) => identity.method !== 'ldap' || f !== 'federated'),
      ),
      ...(identity.mfaAt !== undefined ? { mfaAt: identity.mfaAt } : {}),
    });
    const principal: HttpPrincipal = Object.freeze({
      ...attributes,
      id,
      roles,
      type: 'user' as const,
      claims: Object.freeze({ sub: identity.subject }),
      authentication,
    });
    await this.#record(identity, request, 'success', undefined, id);
    return principal;
  }

  /**
   * Records a failed sign-in (`auth.login`, outcome failure) with a short machine reason such as
   * `invalid_state`, `bad_signature`, `invalid_credentials`. `account` is what the user typed (it
   * is recorded in the event's resource, which the audit redactor may hash).
   */
  async fail(
    provider: string,
    method: SignInIdentity['method'],
    reason: string,
    request: SignInRequestContext = {},
    account?: string,
  ): Promise<void> {
    await this.#append({
      actor: { id: 'anonymous', type: 'anonymous', ...(request.ip !== undefined ? { ip: request.ip } : {}) },
      action: AUTH_AUDIT_ACTIONS.login,
      outcome: 'failure',
      reason,
      ...(account !== undefined ? { resource: { type: 'account', id: account } } : {}),
      ...(request.requestId !== undefined ? { requestId: request.requestId } : {}),
      details: { method, provider },
    });
  }

  /** Records a logout of `principal` (`auth.logout`). */
  async logout(principal: HttpPrincipal, request: SignInRequestContext = {}, reason?: string): Promise<void> {
    await this.#append({
      actor: { type: 'user', id: principal.id, ...(request.ip !== undefined ? { ip: request.ip } : {}) },
      action: AUTH_AUDIT_ACTIONS.logout,
      outcome: 'success',
      ...(reason !== undefined ? { reason } : {}),
      ...(request.requestId !== undefined ? { requestId: request.requestId } : {}),
      details: {
        method: principal.authentication?.method ?? 'unknown',
        provider: principal.authentication?.provider ?? 'unknown',
      },
    });
  }

  async #record(
    identity: SignInIdentity,
    request: SignInRequestContext,
    outcome: 'success' | 'denied',
    reason: string | undefined,
    principalId: string | undefined,
  ): Promise<void> {
    await this.#append({
      actor: {
        id: principalId ?? 'anonymous',
        type: principalId !== undefined ? 'user' : 'anonymous',
        ...(request.ip !== undefined ? { ip: request.ip } : {}),
        ...(request.userAgent !== undefined ? { userAgent: request.userAgent } : {}),
      },
      action: AUTH_AUDIT_ACTIONS.login,
      outcome,
      ...(reason !== undefined ? { reason } : {}),
      resource: { type: 'account', id: principalId ?? `${identity.provider}:${identity.subject}` },
      ...(request.requestId !== undefined ? { requestId: request.requestId } : {}),
      details: { method: identity.method, provider: identity.provider, roles: [...this.rolesFor(identity)] },
    });
  }

  async #append(event: AuditEvent): Promise<void> {
    if (this.#options.audit !== undefined) await this.#options.audit.append(event);
  }
}
