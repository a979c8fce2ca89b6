// @bulwark/identity/ldap: LDAP / Active Directory sign-in on ldapts.
export {
  LdapAuthenticator,
  type LdapAuthenticatorDescription,
  type LdapAuthenticatorOptions,
  type LdapCredentials,
  type LdapGroupSearch,
} from './ldap-authenticator';
export type { LdapConnectionOptions } from './connection-pool';
export type { LdapRefusalReason } from './bind-refusal';
export { escapeDnValue, escapeFilterValue } from './escape';
