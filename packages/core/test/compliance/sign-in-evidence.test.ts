import { BruteForceGuard, ComplianceKit } from '../../src';

describe('sign-in methods as compliance evidence', () => {
  it('reads each registered method at report time and cites them with the brute-force control', async () => {
    const kit = new ComplianceKit().register({ bruteForceGuard: new BruteForceGuard() });
    let issuer = 'https://id.example';
    kit.registerSignIn({
      describe: () => ({
        method: 'oidc',
        provider: 'corp',
        summary: `OIDC sign-in configured (corp), issuer ${issuer}, authorization code with PKCE S256`,
        issuer,
        pkce: 'S256',
        bruteForce: true,
      }),
    });
    kit.registerSignIn({ describe: () => ({ method: 'ldap', provider: 'ad', bruteForce: false }) });
    issuer = 'https://login.example'; // read at report time, not at registration

    const bundle = await kit.collectEvidence();
    expect(bundle.signIn).toMatchObject({
      source: 'SignInMethods',
      provenance: 'live',
      data: {
        methods: [{ method: 'oidc', issuer: 'https://login.example', pkce: 'S256' }, { method: 'ldap' }],
      },
    });

    const report = await kit.report('all');
    const control = report.controls.find((c) => c.check === 'threat.brute-force' && c.status === 'pass')!;
    expect(control.summary).toContain(
      'Sign-in methods: OIDC sign-in configured (corp), issuer https://login.example, authorization code with PKCE S256, ldap sign-in (ad) (not counted by the guard).',
    );
    const cited = report.evidence.filter((e) => control.evidenceRefs.includes(e.id)).map((e) => e.source);
    expect(cited).toEqual(['BruteForceGuard', 'SignInMethods']);
  });

  it('records a method that cannot describe itself as an evidence error, and refuses a non-method', async () => {
    const kit = new ComplianceKit();
    kit.registerSignIn({
      describe: () => {
        throw new Error('provider not discovered');
      },
    });
    expect((await kit.collectEvidence()).errors.signIn).toMatch(
      /SignInMethods could not be read: provider not discovered/,
    );
    expect(() => kit.registerSignIn({} as never)).toThrow(/signIn must be a sign-in method/);
  });
});
