import { spawnSync } from 'node:child_process';
import type { KeyProvider } from '@bulwark/core';
import { expectTypeOf } from 'expect-type';
import * as Aws from '../src/aws';
import * as Azure from '../src/azure';
import * as Gcp from '../src/gcp';
import * as Pkcs11 from '../src/pkcs11';
import * as Vault from '../src/vault';

/** The decided value exports of each subpath (types are checked below). */
const SURFACE = {
  pkcs11: ['Pkcs11KeyProvider', 'createPkcs11MasterKey'],
  aws: ['AwsKmsKeyProvider'],
  gcp: ['GcpKmsKeyProvider'],
  azure: ['AzureKeyVaultKeyProvider'],
  vault: ['VaultTransitKeyProvider', 'rewrapTransitKeys'],
} as const;
const SDKS = ['@aws-sdk/client-kms', '@google-cloud/kms', '@azure/keyvault-keys', 'pkcs11js'];

// Compile time: each subpath exports exactly its decided values, and every provider is a KeyProvider.
expectTypeOf<keyof typeof Pkcs11>().toEqualTypeOf<(typeof SURFACE.pkcs11)[number]>();
expectTypeOf<keyof typeof Aws>().toEqualTypeOf<(typeof SURFACE.aws)[number]>();
expectTypeOf<keyof typeof Gcp>().toEqualTypeOf<(typeof SURFACE.gcp)[number]>();
expectTypeOf<keyof typeof Azure>().toEqualTypeOf<(typeof SURFACE.azure)[number]>();
expectTypeOf<keyof typeof Vault>().toEqualTypeOf<(typeof SURFACE.vault)[number]>();
expectTypeOf<Pkcs11.Pkcs11KeyProvider>().toMatchTypeOf<Required<KeyProvider>>();
expectTypeOf<Aws.AwsKmsKeyProvider>().toMatchTypeOf<Required<KeyProvider>>();
expectTypeOf<Gcp.GcpKmsKeyProvider>().toMatchTypeOf<Required<KeyProvider>>();
expectTypeOf<Azure.AzureKeyVaultKeyProvider>().toMatchTypeOf<Required<KeyProvider>>();
expectTypeOf<Vault.VaultTransitKeyProvider>().toMatchTypeOf<Required<KeyProvider>>();

describe('@bulwark/kms public surface', () => {
  it('serves each provider from its own subpath of the built package, loading only that SDK', () => {
    // A plain Node process resolves the exports map of the built package, as an application does.
    const script = `
      const out = {};
      for (const sub of ${JSON.stringify(Object.keys(SURFACE))}) {
        const before = new Set(Object.keys(require.cache));
        out[sub] = {
          names: Object.keys(require('@bulwark/kms/' + sub)).sort(),
          sdks: Object.keys(require.cache)
            .filter((f) => !before.has(f))
            .map((f) => (/node_modules\\/((@[^/]+\\/)?[^/]+)/.exec(f) || [])[1])
            .filter((n) => ${JSON.stringify(SDKS)}.includes(n)),
        };
      }
      out.main = Object.keys(require('@bulwark/kms'));
      process.stdout.write(JSON.stringify(out));
    `;
    const run = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', cwd: __dirname });
    expect(run.stderr).toBe('');
    const out = JSON.parse(run.stdout);
    for (const [sub, names] of Object.entries(SURFACE)) expect(out[sub].names).toEqual([...names].sort());
    expect(out.main).toEqual([]); // types only: the main entry loads no SDK
    expect(new Set(out.aws.sdks)).toEqual(new Set(['@aws-sdk/client-kms']));
    expect(new Set(out.gcp.sdks)).toEqual(new Set(['@google-cloud/kms']));
    expect(new Set(out.azure.sdks)).toEqual(new Set(['@azure/keyvault-keys']));
    expect(out.vault.sdks).toEqual([]);
    expect(out.pkcs11.sdks).toEqual([]); // pkcs11js loads on first use (a native module)
  });
});
