import { amrAuthentication } from '@bulwark/core';
import { amrShowsMultiFactor, factorsFromAmr } from '@bulwark/identity/oidc';

describe('amr (RFC 8176) to factors', () => {
  it('maps known values, keeps others by name, drops anything that is not a short token', () => {
    expect(factorsFromAmr(['pwd', 'otp', 'hwk', 'pwd'])).toEqual(['password', 'otp', 'webauthn']);
    expect(factorsFromAmr(['sms', 'x'.repeat(65), 42, 'a b', '<script>'])).toEqual(['sms']);
    // A provider cannot spell one of Bulwark's second factors and have it count.
    expect(factorsFromAmr(['totp', 'webauthn', 'sms-otp', 'federated-mfa', 'pwd'])).toEqual(['password']);
    expect(factorsFromAmr('pwd')).toEqual([]);
    expect(factorsFromAmr(Array.from({ length: 40 }, (_, i) => `f${i}`))).toHaveLength(16);
    expect(factorsFromAmr(['pwd', 'hwk'], { hwk: 'key' })).toEqual(['pwd', 'key']);
  });

  it('counts multi-factor only for mfa or two kinds of factor', () => {
    expect(amrShowsMultiFactor(['mfa'])).toBe(true);
    expect(amrShowsMultiFactor(['pwd', 'otp'])).toBe(true);
    expect(amrShowsMultiFactor(['hwk', 'fpt'])).toBe(true);
    expect(amrShowsMultiFactor(['pwd'])).toBe(false);
    expect(amrShowsMultiFactor(['pwd', 'kba', 'pin'])).toBe(false); // all knowledge
    expect(amrShowsMultiFactor(['pwd', 'made-up'])).toBe(false);
    expect(amrShowsMultiFactor('mfa')).toBe(false);
    expect(amrShowsMultiFactor(['otp'])).toBe(false);
    expect(amrShowsMultiFactor(['sms'])).toBe(false);
  });

  it('adds federated-mfa with mfaAt from auth_time only', () => {
    expect(amrAuthentication(['pwd', 'mfa'], 1_700_000_000)).toEqual({
      factors: ['password', 'mfa', 'federated-mfa'],
      mfaAt: 1_700_000_000_000,
    });
    expect(amrAuthentication(['pwd', 'mfa'], undefined)).toEqual({ factors: ['password', 'mfa'] });
    expect(amrAuthentication(['otp'], 1_700_000_000)).toEqual({ factors: ['otp'] });
    expect(amrAuthentication(['pwd', 'federated-mfa'], 1_700_000_000)).toEqual({ factors: ['password'] });
  });
});
