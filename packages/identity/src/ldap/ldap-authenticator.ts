import { randomUUID } from 'node:crypto';
import {
  BulwarkConfigError,
  BulwarkIdentityError,
  ErrorCodes,
  type BruteForceGuard,
  type HttpPrincipal,
  type SignInIdentity,
} from '@bulwark/core';
import { lockedOut } from '@bulwark/core/http';
import { InvalidCredentialsError, type Client, type Entry } from 'ldapts';
import type { SignInMapper, SignInRequestContext } from '../sign-in';
import { bindRefusalReason, type LdapRefusalReason } from './bind-refusal';
import { LdapConnectionPool, type LdapConnectionOptions } from './connection-pool';
import { escapeFilterValue, fillTemplate } from './escape';
import { PasswordPolicyControl, PASSWORD_POLICY_ERRORS } from './password-policy-control';

/** LDAP_MATCHING_RULE_IN_CHAIN ([MS-ADTS] 3.1.1.3.4.4.4): the transitive closure of `member`. */
const IN_CHAIN = '1.2.840.113556.1.4.1941';

/** Groups a user belongs to, found by searching for groups that list the user (or a group of theirs). */
export interface LdapGroupSearch {
  /** Where groups live. Default: `searchBase`. */
  readonly base?: string;
  /** Filter for the groups `{{dn}}` is a direct member of. Default `(|(member={{dn}})(uniqueMember={{dn}}))`. */
  readonly filter?: string;
  /** Follow groups nested in groups (OpenLDAP has no in-chain rule). Default true; at most 8 levels. */
  readonly nested?: boolean;
}

export interface LdapAuthenticatorOptions extends LdapConnectionOptions {
  /** Provider name used in principals and audit events. Default `ldap`. */
  readonly provider?: string;
  /** Service account that searches for the user (search-then-bind). */
  readonly bindDn: string;
  readonly bindCredentials: string;
  /** Subtree the users are searched in. */
  readonly searchBase: string;
  /**
   * Filter finding the user; `{{username}}` is replaced by the RFC 4515-escaped input. Default
   * `(uid={{username}})`, or `(&(objectCategory=person)(sAMAccountName={{username}}))` with
   * `activeDirectory`.
   */
  readonly searchFilter?: string;
  /** Attributes read from the user's entry into `identity.attributes`. Default `cn`, `mail`, `displayName`. */
  readonly attributes?: readonly string[];
  /**
   * Active Directory: default filter on sAMAccountName, and nested groups through
   * LDAP_MATCHING_RULE_IN_CHAIN (one search under `groupSearch.base` or `searchBase`).
   */
  readonly activeDirectory?: boolean;
  /**
   * How groups are found when not `activeDirectory`: omitted, the user's `memberOf` attribute
   * (OpenLDAP's memberof overlay); given, a group search.
   */
  readonly groupSearch?: LdapGroupSearch;
  /** Maps the identity to a principal, provisions, audits. */
  readonly mapper: SignInMapper;
  /** Counts failed binds per IP and per account; refuses (429) while locked out. Recommended. */
  readonly bruteForce?: BruteForceGuard;
}

/** The authenticator's configuration as compliance evidence (no DNs of people, no secrets). */
export interface LdapAuthenticatorDescription {
  readonly method: 'ldap';
  readonly provider: string;
  /** `ldaps`, `starttls`, or `plaintext` (passwords cross the network in clear). */
  readonly transport: 'ldaps' | 'starttls' | 'plaintext';
  readonly bruteForceGuarded: boolean;
  readonly groups: 'memberOf' | 'in-chain' | 'search' | 'nested-search';
  readonly poolSize: number;
}

/** A sign-in attempt: what the user typed, and where it came from. */
export interface LdapCredentials {
  readonly username: string;
  readonly password: string;
}

const MAX_USERNAME = 256;
const MAX_PASSWORD = 1024;
const MAX_NESTING = 8;
const DEFAULT_GROUP_FILTER = '(|(member={{dn}})(uniqueMember={{dn}}))';

function required(value: unknown, path: string): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, `${path} must be a non-empty string`, { path });
  }
  return value;
}

function refused(provider: string, reason: LdapRefusalReason | 'invalid_request'): BulwarkIdentityError {
  return new BulwarkIdentityError(ErrorCodes.SIGNIN_FAILED, 'The directory refused the sign-in.', {
    provider,
    reason,
  });
}

function firstValue(entry: Entry, name: string): string | undefined {
  const value = entry[name];
  const first = Array.isArray(value) ? value[0] : value;
  return typeof first === 'string' ? first : undefined;
}

function values(entry: Entry, name: string): string[] {
  const value = entry[name];
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).filter((v): v is string => typeof v === 'string');
}

/**
 * LDAP / Active Directory sign-in: the service account finds the user's entry with an escaped
 * filter, the user's password is checked by a bind as that entry (with the password policy
 * control), groups are read (memberOf, an in-chain search on AD, or a nested group search), and
 * the result goes through the `SignInMapper` (roles, provisioning, `auth.login` events). Each
 * attempt is reserved on the brute-force guard before anything reaches the directory.
 */
export class LdapAuthenticator {
  readonly #options: LdapAuthenticatorOptions;
  readonly #provider: string;
  readonly #filter: string;
  readonly #attributes: readonly string[];
  readonly #service: LdapConnectionPool;
  readonly #binds: LdapConnectionPool;
  /** A DN no entry has: unknown usernames bind against it, so they cost what a wrong password costs. */
  readonly #absentDn: string;

  constructor(options: LdapAuthenticatorOptions) {
    const url = required(options?.url, 'ldap.url');
    if (!/^ldaps?:\/\//i.test(url)) {
      throw new BulwarkConfigError(
        ErrorCodes.CONFIG_INVALID,
        'ldap.url must start with ldap:// or ldaps://',
        {
          path: 'ldap.url',
        },
      );
    }
    if (options.startTls === true && /^ldaps:/i.test(url)) {
      throw new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, 'ldap.startTls applies to ldap:// URLs only', {
        path: 'ldap.startTls',
      });
    }
    required(options.bindDn, 'ldap.bindDn');
    required(options.bindCredentials, 'ldap.bindCredentials');
    required(options.searchBase, 'ldap.searchBase');
    if (options.mapper === undefined) {
      throw new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, 'ldap.mapper must be a SignInMapper', {
        path: 'ldap.mapper',
      });
    }
    const size = options.poolSize ?? 4;
    if (!Number.isInteger(size) || size < 1) {
      throw new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, 'ldap.poolSize must be a positive integer', {
        path: 'ldap.poolSize',
      });
    }
    this.#options = options;
    this.#provider = options.provider ?? 'ldap';
    this.#filter =
      options.searchFilter ??
      (options.activeDirectory === true
        ? '(&(objectCategory=person)(sAMAccountName={{username}}))'
        : '(uid={{username}})');
    if (!this.#filter.includes('{{username}}')) {
      throw new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, 'ldap.searchFilter must contain {{username}}', {
        path: 'ldap.searchFilter',
      });
    }
    this.#attributes = options.attributes ?? ['cn', 'mail', 'displayName'];
    this.#absentDn = `cn=bulwark-absent-${randomUUID()},${options.searchBase}`;
    this.#service = new LdapConnectionPool(options, (client) =>
      client.bind(options.bindDn, options.bindCredentials),
    );
    this.#binds = new LdapConnectionPool(options);
  }

  /**
   * Checks the credentials and returns the principal. Refusals throw `BulwarkIdentityError`
   * `ERR_SIGNIN_FAILED` with `details.reason` (`invalid_credentials`, `account_disabled`,
   * `account_locked`, `account_expired`, `account_restricted`, `password_expired`,
   * `password_must_change`, `invalid_request`); a lockout throws the 429 `ERR_HTTP_TOO_MANY_REQUESTS`.
   */
  async authenticate(
    credentials: LdapCredentials,
    request: SignInRequestContext = {},
  ): Promise<HttpPrincipal> {
    const { username, password } = credentials ?? {};
    // RFC 4513 §5.1.2: a bind with a DN and an empty password is an unauthenticated bind, which
    // servers answer with success. It must never reach the directory.
    if (
      typeof username !== 'string' ||
      typeof password !== 'string' ||
      username.length === 0 ||
      password.length === 0 ||
      username.length > MAX_USERNAME ||
      password.length > MAX_PASSWORD
    ) {
      await this.#options.mapper.fail(this.#provider, 'ldap', 'invalid_request', request);
      throw refused(this.#provider, 'invalid_request');
    }
    const guard = this.#options.bruteForce;
    const reserved =
      guard === undefined ? undefined : await guard.reserve({ ip: request.ip, account: username });
    if (reserved !== undefined && !reserved.allowed) {
      await this.#options.mapper.fail(this.#provider, 'ldap', 'locked_out', request, username);
      throw lockedOut(reserved);
    }
    const reservation = reserved?.reservation;
    const progress = { passwordSent: false };
    let identity: SignInIdentity;
    try {
      identity = await this.#verify(username, password, progress);
    } catch (error) {
      if (!(error instanceof BulwarkIdentityError)) {
        // Once the password went to the directory the attempt counts, whatever the answer.
        await (progress.passwordSent ? reservation?.fail() : reservation?.release());
        await this.#options.mapper.fail(this.#provider, 'ldap', 'provider_unavailable', request, username);
        // The directory's own message can name servers and DNs: it stays out of the error.
        throw new BulwarkIdentityError(
          ErrorCodes.SIGNIN_UNAVAILABLE,
          'The directory could not be reached or did not answer in time.',
          { provider: this.#provider },
        );
      }
      await reservation?.fail();
      await this.#options.mapper.fail(
        this.#provider,
        'ldap',
        String(error.details?.reason),
        request,
        username,
      );
      throw error;
    }
    await reservation?.succeed();
    return this.#options.mapper.complete(identity, request);
  }

  /** What is configured, for compliance evidence and start-up logs. */
  describe(): LdapAuthenticatorDescription {
    const o = this.#options;
    return {
      method: 'ldap',
      provider: this.#provider,
      transport: /^ldaps:/i.test(o.url) ? 'ldaps' : o.startTls === true ? 'starttls' : 'plaintext',
      bruteForceGuarded: o.bruteForce !== undefined,
      groups:
        o.activeDirectory === true
          ? 'in-chain'
          : o.groupSearch === undefined
            ? 'memberOf'
            : o.groupSearch.nested === false
              ? 'search'
              : 'nested-search',
      poolSize: o.poolSize ?? 4,
    };
  }

  /** Closes the pooled connections. */
  async close(): Promise<void> {
    await Promise.all([this.#service.close(), this.#binds.close()]);
  }

  async #verify(
    username: string,
    password: string,
    progress: { passwordSent: boolean },
  ): Promise<SignInIdentity> {
    const filter = fillTemplate(this.#filter, { username }, escapeFilterValue);
    const wanted = [...new Set([...this.#attributes, 'memberOf', 'pwdAccountLockedTime'])];
    const entries = await this.#service.use(async (client) => {
      const result = await client.search(this.#options.searchBase, {
        scope: 'sub',
        filter,
        attributes: wanted,
        sizeLimit: 2,
      });
      return result.searchEntries;
    });
    // Zero or several entries: the same refusal as a wrong password, after the same work (a bind
    // the directory refuses), so neither the answer nor its timing tells which usernames exist.
    if (entries.length !== 1) {
      progress.passwordSent = true;
      await this.#binds.use((client) => client.bind(this.#absentDn, password)).catch(() => undefined);
      throw refused(this.#provider, 'invalid_credentials');
    }
    const entry = entries[0]!;
    progress.passwordSent = true;
    await this.#bindAsUser(entry, password);
    const groups = await this.#groupsOf(entry);
    const attributes: Record<string, unknown> = {};
    for (const name of this.#attributes) {
      const found = values(entry, name);
      if (found.length > 0) attributes[name] = found.length === 1 ? found[0] : found;
    }
    const email = firstValue(entry, 'mail');
    const name = firstValue(entry, 'displayName') ?? firstValue(entry, 'cn');
    return {
      method: 'ldap',
      provider: this.#provider,
      subject: entry.dn,
      ...(email !== undefined ? { email } : {}),
      ...(name !== undefined ? { name } : {}),
      groups,
      attributes,
      factors: ['ldap-bind'],
    };
  }

  async #bindAsUser(entry: Entry, password: string): Promise<void> {
    const policy = new PasswordPolicyControl();
    await this.#binds.use(async (client) => {
      try {
        await client.bind(entry.dn, password, policy);
      } catch (error) {
        if (!(error instanceof InvalidCredentialsError)) throw error;
        throw refused(
          this.#provider,
          bindRefusalReason(error.message, policy, firstValue(entry, 'pwdAccountLockedTime')),
        );
      }
    });
    // ppolicy lets a reset password bind, but only to change it: not a sign-in.
    if (policy.error === PASSWORD_POLICY_ERRORS.changeAfterReset) {
      throw refused(this.#provider, 'password_must_change');
    }
  }

  async #groupsOf(entry: Entry): Promise<string[]> {
    const o = this.#options;
    if (o.activeDirectory === true) {
      const filter = `(member:${IN_CHAIN}:=${escapeFilterValue(entry.dn)})`;
      return this.#searchDns(o.groupSearch?.base ?? o.searchBase, filter);
    }
    if (o.groupSearch === undefined) return values(entry, 'memberOf');
    const base = o.groupSearch.base ?? o.searchBase;
    const template = o.groupSearch.filter ?? DEFAULT_GROUP_FILTER;
    const found = new Set<string>();
    let frontier = [entry.dn];
    for (let depth = 0; depth < MAX_NESTING && frontier.length > 0; depth++) {
      const next: string[] = [];
      for (const dn of frontier) {
        for (const group of await this.#searchDns(base, fillTemplate(template, { dn }, escapeFilterValue))) {
          if (!found.has(group)) {
            found.add(group);
            next.push(group);
          }
        }
      }
      if (o.groupSearch.nested === false) break;
      frontier = next;
    }
    return [...found];
  }

  #searchDns(base: string, filter: string): Promise<string[]> {
    return this.#service.use(async (client: Client) => {
      const result = await client.search(base, { scope: 'sub', filter, attributes: ['dn'] });
      return result.searchEntries.map((e) => e.dn);
    });
  }
}
