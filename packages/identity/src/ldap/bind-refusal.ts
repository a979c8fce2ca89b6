import { PASSWORD_POLICY_ERRORS, type PasswordPolicyControl } from './password-policy-control';

/** Why a directory refused a user's bind (`details.reason` of `ERR_SIGNIN_FAILED`). */
export type LdapRefusalReason =
  | 'invalid_credentials'
  | 'account_disabled'
  | 'account_locked'
  | 'account_expired'
  | 'account_restricted'
  | 'password_expired'
  | 'password_must_change';

/**
 * Active Directory's sub-codes, the `data NNN` in the diagnostic message of an invalidCredentials
 * (49) bind result ([MS-ADTS] / Microsoft "LDAP error 49" table).
 */
const AD_DATA_CODES: Readonly<Record<string, LdapRefusalReason>> = {
  '525': 'invalid_credentials', // user not found
  '52e': 'invalid_credentials', // wrong password
  '530': 'account_restricted', // not permitted to log on at this time
  '531': 'account_restricted', // not permitted to log on at this workstation
  '532': 'password_expired',
  '533': 'account_disabled',
  '701': 'account_expired',
  '773': 'password_must_change',
  '775': 'account_locked',
};

/** OpenLDAP's ppolicy "administratively locked, never unlocks" value of pwdAccountLockedTime. */
const PERMANENT_LOCK = '000001010000Z';

/**
 * Maps a refused bind to a reason: AD's data code in the diagnostic message first, then the
 * password policy control, else `invalid_credentials`. `lockedTime` is the entry's
 * pwdAccountLockedTime (when readable): a permanent lock is a disabled account.
 */
export function bindRefusalReason(
  diagnostic: string,
  policy: PasswordPolicyControl | undefined,
  lockedTime?: string,
): LdapRefusalReason {
  const ad = /\bdata ([0-9a-f]{3,4})\b/i.exec(diagnostic);
  if (ad !== null) return AD_DATA_CODES[ad[1]!.toLowerCase()] ?? 'invalid_credentials';
  switch (policy?.error) {
    case PASSWORD_POLICY_ERRORS.passwordExpired:
      return 'password_expired';
    case PASSWORD_POLICY_ERRORS.accountLocked:
      return lockedTime === PERMANENT_LOCK ? 'account_disabled' : 'account_locked';
    case PASSWORD_POLICY_ERRORS.changeAfterReset:
      return 'password_must_change';
    default:
      return 'invalid_credentials';
  }
}
