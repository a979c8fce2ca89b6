import { amrShowsMultiFactor, factorsFromAmr } from '@bulwark/identity/oidc';

describe('amr (RFC 8176) to factors', () => {
  it('maps known values, keeps others by name, drops anything that is not a short token', () => {
    expect(factorsFromAmr(['pwd', 'otp', 'hwk', 'pwd'])).toEqual(['password', 'totp', 'hwk']);
    expect(factorsFromAmr(['sms', 'x'.repeat(65), 42, 'a b', '<script>'])).toEqual(['sms-otp']);
    expect(factorsFromAmr('pwd')).toEqual([]);
    expect(factorsFromAmr(Array.from({ length: 40 }, (_, i) => `f${i}`))).toHaveLength(16);
    expect(factorsFromAmr(['pwd', 'hwk'], { hwk: 'webauthn' })).toEqual(['pwd', 'webauthn']);
  });

  it('counts multi-factor only for mfa or two kinds of factor', () => {
    expect(amrShowsMultiFactor(['mfa'])).toBe(true);
    expect(amrShowsMultiFactor(['pwd', 'otp'])).toBe(true);
    expect(amrShowsMultiFactor(['hwk', 'fpt'])).toBe(true);
    expect(amrShowsMultiFactor(['pwd'])).toBe(false);
    expect(amrShowsMultiFactor(['pwd', 'kba', 'pin'])).toBe(false); // all knowledge
    expect(amrShowsMultiFactor(['pwd', 'made-up'])).toBe(false);
    expect(amrShowsMultiFactor('mfa')).toBe(false);
  });
});
