import { SignInMapper } from '@bulwark/identity';
import { LdapAuthenticator } from '@bulwark/identity/ldap';
import type { LdapSignInOptions } from '@bulwark/nestjs';
import { TOKEN_TTL_SEC } from './auth.controller';
import type { EmployeeDirectory } from './employee-directory';
import type { HrKit } from './hr-kit';

/** Where the staff directory is (env LDAP_URL... in `npm start`; see the README). */
export interface HrLdapOptions {
  /** `ldap://127.0.0.1:3389` (examples/nestjs-hr/ldap/start-slapd.sh), or `ldaps://...`. */
  readonly url: string;
  /** Default the demo directory's read-only service account. */
  readonly bindDn?: string;
  readonly bindPassword?: string;
  /** Default `ou=people,dc=bulwark,dc=test`. */
  readonly searchBase?: string;
  /** Default `ou=groups,dc=bulwark,dc=test` (group DNs below map to the app's roles). */
  readonly groupBase?: string;
  /** Upgrade with StartTLS (`ca` of the directory's certificate). */
  readonly startTls?: { ca: string };
}

/**
 * Staff sign-in through LDAP: `POST /auth/ldap/login { username, password }`. The directory checks
 * the password (search-then-bind, brute-force guarded like the local login), its groups give the
 * role, and the provisioning hook admits only people the HR app knows (matched by e-mail, as the
 * employee id); the answer is the same bearer token as `POST /auth/login`.
 */
export function hrLdapSignIn(
  kit: HrKit,
  directory: () => EmployeeDirectory,
  options: HrLdapOptions,
): { authenticator: LdapAuthenticator; module: LdapSignInOptions } {
  const groups = options.groupBase ?? 'ou=groups,dc=bulwark,dc=test';
  const authenticator = new LdapAuthenticator({
    provider: 'staff-ldap',
    url: options.url,
    ...(options.startTls !== undefined ? { startTls: true, tls: { ca: options.startTls.ca } } : {}),
    bindDn: options.bindDn ?? 'cn=bulwark-reader,ou=services,dc=bulwark,dc=test',
    bindCredentials: options.bindPassword ?? 'reader-secret',
    searchBase: options.searchBase ?? 'ou=people,dc=bulwark,dc=test',
    bruteForce: kit.bruteForce!,
    mapper: new SignInMapper({
      roles: {
        [`cn=hr-admins,${groups}`]: ['hr-admin'],
        [`cn=managers,${groups}`]: ['manager'],
        [`cn=staff,${groups}`]: ['employee'],
      },
      audit: kit.auditLog!,
      // Only employees of this app sign in; the directory's e-mail finds them.
      provision: async (identity) => {
        const employee =
          identity.email === undefined ? undefined : await directory().findByEmail(identity.email);
        return employee === undefined ? null : { id: employee.id };
      },
    }),
  });
  return {
    authenticator,
    module: {
      ldap: authenticator,
      onSignIn: async (principal) => ({
        token: await kit.tokens!.sign(
          { roles: [...principal.roles] },
          { subject: principal.id, ttlSec: TOKEN_TTL_SEC },
        ),
        tokenType: 'Bearer',
        expiresIn: TOKEN_TTL_SEC,
        employeeId: principal.id,
        roles: principal.roles,
      }),
    },
  };
}
