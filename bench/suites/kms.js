'use strict';

/**
 * Master keys in an HSM: what a PKCS#11-held master key costs field encryption.
 *
 * - `envelope 1 KiB`: one operation = KeyRing.encrypt + decryptString of a 1 KiB value (as in the
 *   crypto suite). The data key is unwrapped once when the ring opens and cached, so the master
 *   key's home should not matter here: target <= 1.1x the env-key ring.
 * - `open ring (unwrap 2 keys)`: one operation = KeyRing.open on a store holding the ring secret
 *   and one data key, i.e. two unwraps by the master key (in the token for PKCS#11). Where the
 *   HSM's cost actually lands; informative, no target.
 *
 * Implementations: `env key` (EnvKeyProvider, master key in process memory) and `pkcs11`
 * (Pkcs11KeyProvider on a SoftHSM2 token this suite initialises in a temporary directory).
 * Without SoftHSM2 the pkcs11 rows are skipped with the reason printed; with CI=true that is a
 * failure (.ci/run installs softhsm2).
 */

const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { randomUtf8 } = require('../lib/random-utf8');
const { costAtMost } = require('../lib/targets');

const AAD = 'users.email';
const LIBRARIES = [
  process.env.BULWARK_SOFTHSM2_LIBRARY,
  '/usr/lib/softhsm/libsofthsm2.so',
  '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so',
  '/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so',
];

function load(name) {
  try {
    return require(name);
  } catch (err) {
    throw new Error(`cannot load ${name} (run \`npm run build\` first): ${err.message}`, { cause: err });
  }
}

/**
 * A SoftHSM2 token with a master key, in a temporary directory, or the reason there is none.
 * SOFTHSM2_CONF is read when this process first initialises the library, so it is set here,
 * before any provider opens.
 */
async function softHsmToken(kms) {
  const library = LIBRARIES.find((p) => p !== undefined && fs.existsSync(p));
  if (library === undefined) return { skip: 'SoftHSM2 is not installed (apt-get install softhsm2)' };
  if (spawnSync('softhsm2-util', ['--version']).status !== 0) return { skip: 'softhsm2-util is not on PATH' };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bulwark-bench-softhsm-'));
  fs.mkdirSync(path.join(dir, 'tokens'));
  const conf = path.join(dir, 'softhsm2.conf');
  fs.writeFileSync(
    conf,
    `directories.tokendir = ${path.join(dir, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\n`,
  );
  process.env.SOFTHSM2_CONF = conf;
  const options = {
    library,
    tokenLabel: 'bulwark-bench',
    keyLabel: 'bench-master-v1',
    pin: 'bench-pin-0000',
  };
  execFileSync(
    'softhsm2-util',
    ['--init-token', '--free', '--label', options.tokenLabel, '--so-pin', 'so-0000', '--pin', options.pin],
    {
      stdio: 'ignore',
    },
  );
  await kms.createPkcs11MasterKey(options);
  return { options, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** Why the pkcs11 rows did not run (the target reports it rather than "not measured"). */
let skipped;
const withinTenPercent = costAtMost({
  impl: 'pkcs11',
  baseline: 'env key',
  max: 1.1,
  cases: ['envelope 1 KiB'],
});

module.exports = {
  name: 'kms',
  title: 'field encryption with the master key in an HSM (PKCS#11 on SoftHSM2) vs in the environment',
  baseline: 'env key',
  settings: { rounds: 30, roundMs: 50, warmupMs: 300 },
  targets: [
    {
      description: withinTenPercent.description,
      evaluate: (rows) =>
        skipped === undefined
          ? withinTenPercent.evaluate(rows)
          : { met: false, detail: `pkcs11 skipped: ${skipped}` },
    },
  ],

  async setup({ log }) {
    const { KeyRing, EnvKeyProvider, MemoryKeyStore, generateMasterKey } = load('@bulwark/core');
    const kms = load('@bulwark/kms/pkcs11');
    const cleanups = [];
    const close = async () => {
      for (const fn of cleanups.reverse()) await fn();
    };

    const masterKey = generateMasterKey();
    const providers = { 'env key': () => new EnvKeyProvider({ env: { BULWARK_MASTER_KEY: masterKey } }) };
    let token;
    try {
      token = await softHsmToken(kms);
    } catch (err) {
      token = { skip: `SoftHSM2 token set-up failed (${err.message})` };
    }
    if (token.skip !== undefined) {
      if (process.env.CI === 'true') throw new Error(`kms: the PKCS#11 rows cannot run in CI: ${token.skip}`);
      skipped = token.skip;
      log(`  kms: SKIPPED pkcs11: ${token.skip}`);
      console.log(`kms: pkcs11 rows skipped: ${token.skip}`);
    } else {
      cleanups.push(token.remove);
      providers.pkcs11 = () => new kms.Pkcs11KeyProvider(token.options);
    }

    const plaintext = randomUtf8(1024, 1024);
    const envelope = {
      name: 'envelope 1 KiB',
      check: (out) => out === plaintext || fail('round trip lost the text'),
      impls: [],
    };
    const open = {
      name: 'open ring (unwrap 2 keys)',
      check: (out) => out === true || fail('the ring did not open'),
      impls: [],
    };
    try {
      for (const [impl, provider] of Object.entries(providers)) {
        const store = new MemoryKeyStore();
        const ring = await KeyRing.open({ provider: provider(), store });
        cleanups.push(() => ring.close());
        await ring.createKey('bench');
        envelope.impls.push({
          impl,
          run: () => ring.decryptString(ring.encrypt('bench', plaintext, { aad: AAD }), { aad: AAD }),
          verify: async () => {
            const [key] = await store.loadKeys();
            const wrapped = key.versions[0].wrappedKey;
            if (impl === 'pkcs11' && !/^mk1\.p11:bench-master-v1:[^.]+\.p11g1\./.test(wrapped)) {
              fail('the data key is not wrapped by the token');
            }
          },
        });
        const reopenProvider = provider();
        cleanups.push(() => reopenProvider.close());
        open.impls.push({
          impl,
          // ring.close() closes its provider; each open gets a view of the long-lived one without
          // close, so the token's session pool stays warm as in a running application.
          run: async () => {
            const view = {
              name: reopenProvider.name,
              wrapKey: (key, context) => reopenProvider.wrapKey(key, context),
              unwrapKey: (wrapped, context) => reopenProvider.unwrapKey(wrapped, context),
              masterKeyId: () => reopenProvider.masterKeyId(),
            };
            const again = await KeyRing.open({ provider: view, store, refreshIntervalMs: 0 });
            const ok = again.decryptString(again.encrypt('bench', 'x', { aad: AAD }), { aad: AAD }) === 'x';
            await again.close();
            return ok;
          },
        });
      }
    } catch (err) {
      await close();
      throw err;
    }
    return { cases: [envelope, open], close };
  },
};

function fail(message) {
  throw new Error(message);
}
