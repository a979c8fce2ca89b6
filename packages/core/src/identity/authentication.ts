/**
 * How a principal authenticated: one shape for every sign-in path (local password, OpenID Connect,
 * SAML 2.0, LDAP / Active Directory, a bearer token, a server-side session), so the policy engine,
 * MFA enforcement, the audit log and the compliance evidence read the same fields whichever path
 * the caller took.
 */

/** The sign-in paths Bulwark knows. Apps may use their own names for others. */
export type SignInMethod = 'password' | 'oidc' | 'saml' | 'ldap' | 'bearer' | 'session' | (string & {});

/**
 * A factor the caller proved. `federated` means an identity provider authenticated the caller
 * (its own factors, when it reports them through `amr`, are listed as well).
 */
export type AuthenticationFactor =
  | 'password'
  | 'totp'
  | 'recovery-code'
  | 'webauthn'
  | 'email-otp'
  | 'sms-otp'
  | 'federated'
  | 'ldap-bind'
  | (string & {});

/** The authentication facts carried on a principal (`principal.authentication`). */
export interface PrincipalAuthentication {
  /** The path the caller signed in through. */
  readonly method: SignInMethod;
  /** Configured name of the provider (e.g. `corp-oidc`, `okta-saml`, `ad`), when there is one. */
  readonly provider?: string;
  /** Epoch milliseconds of the primary sign-in. */
  readonly at: number;
  /** Factors proved in this sign-in or session, in the order they were proved. */
  readonly factors: readonly AuthenticationFactor[];
  /** Epoch milliseconds of the most recent second-factor proof (step-up), if any. */
  readonly mfaAt?: number;
  /**
   * Epoch milliseconds at which each factor was last proved, when the path knows (sessions record
   * it at sign-in and on each step-up). A requirement on one factor is timed by that factor's
   * own entry, so a fresh factor of another kind does not refresh it (`factorProvedAt`).
   */
  readonly factorTimes?: Readonly<Partial<Record<AuthenticationFactor, number>>>;
  /** The server-side session this principal came from, if any (an opaque id, never the cookie). */
  readonly sessionId?: string;
}

/**
 * What a sign-in path learned about the user from its identity source, before mapping to a
 * principal. Adapters hand it to `SignInMapping` and to the app's provisioning hook.
 */
export interface SignInIdentity {
  readonly method: SignInMethod;
  /** Configured provider name. */
  readonly provider: string;
  /** Stable subject at the provider (`sub`, SAML NameID, LDAP DN or `objectGUID`). */
  readonly subject: string;
  readonly email?: string;
  readonly name?: string;
  /** Groups / roles as the provider reports them (OIDC claim, SAML attribute, LDAP memberOf). */
  readonly groups: readonly string[];
  /** Further attributes the mapping may use (never logged by Bulwark). */
  readonly attributes: Readonly<Record<string, unknown>>;
  /** Factors the provider reports (OIDC `amr`, SAML AuthnContextClassRef), mapped to Bulwark's names. */
  readonly factors: readonly AuthenticationFactor[];
  /**
   * Epoch ms of the provider's multi-factor authentication, when it reports one (OIDC `amr` with
   * `mfa` or factors of two kinds, at `auth_time`); becomes `principal.authentication.mfaAt`.
   */
  readonly mfaAt?: number;
}

/** Audit actions every sign-in path appends (outcome success / failure / denied on each). */
export const AUTH_AUDIT_ACTIONS = Object.freeze({
  login: 'auth.login',
  logout: 'auth.logout',
  mapping: 'auth.mapping',
  mfa: 'auth.mfa',
  lockout: 'auth.lockout',
  unlock: 'auth.unlock',
  sessionCreated: 'auth.session.created',
  sessionRotated: 'auth.session.rotated',
  sessionExpired: 'auth.session.expired',
  sessionRevoked: 'auth.session.revoked',
  tokenRevoked: 'auth.token.revoked',
  passwordChanged: 'auth.password.changed',
  passwordReset: 'auth.password.reset',
  accountDisabled: 'auth.account.disabled',
  accountEnabled: 'auth.account.enabled',
  passwordChangeRequired: 'auth.password.change-required',
  passwordResetRequested: 'auth.password.reset-requested',
} as const);

export type AuthAuditAction = (typeof AUTH_AUDIT_ACTIONS)[keyof typeof AUTH_AUDIT_ACTIONS];
