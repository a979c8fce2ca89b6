import { escapeDnValue, escapeFilterValue } from '@bulwark/identity/ldap';
import { bindRefusalReason } from '../../src/ldap/bind-refusal';
import { PasswordPolicyControl } from '../../src/ldap/password-policy-control';

describe('RFC 4515 filter escaping', () => {
  it.each([
    ['*', '\\2a'],
    [')(uid=*', '\\29\\28uid=\\2a'],
    ['a\0b', 'a\\00b'],
    ['back\\slash', 'back\\5cslash'],
    ['plain.name-1', 'plain.name-1'],
  ])('escapes %j', (input, expected) => {
    expect(escapeFilterValue(input)).toBe(expected);
  });
});

describe('RFC 4514 DN value escaping', () => {
  it.each([
    ['alice,ou=admins', 'alice\\,ou\\=admins'],
    ['a+b', 'a\\+b'],
    ['#start', '\\#start'],
    [' padded ', '\\ padded\\ '],
    ['q"<>;\\', 'q\\"\\<\\>\\;\\\\'],
    ['nul\0', 'nul\\00'],
    ['mid#dle', 'mid#dle'],
  ])('escapes %j', (input, expected) => {
    expect(escapeDnValue(input)).toBe(expected);
  });
});

describe('bind refusal reasons', () => {
  const ad = (code: string): string =>
    `80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data ${code}, v4563`;
  it.each([
    ['525', 'invalid_credentials'],
    ['52e', 'invalid_credentials'],
    ['530', 'account_restricted'],
    ['531', 'account_restricted'],
    ['532', 'password_expired'],
    ['533', 'account_disabled'],
    ['701', 'account_expired'],
    ['773', 'password_must_change'],
    ['775', 'account_locked'],
    ['999', 'invalid_credentials'],
  ])('maps Active Directory data %s', (code, reason) => {
    expect(bindRefusalReason(ad(code), undefined)).toBe(reason);
  });

  it('falls back to invalid_credentials without AD data or a policy answer', () => {
    expect(bindRefusalReason('Invalid credentials', new PasswordPolicyControl())).toBe('invalid_credentials');
  });
});
