'use strict';
// A new process that opens the token and the key store written by the test, and decrypts.
// Reads the built packages (npm run build), like any application would.
const { FileKeyStore, KeyRing } = require('@bulwark/core');
const { Pkcs11KeyProvider } = require('@bulwark/kms/pkcs11');

async function main() {
  const [storePath, library, tokenLabel, keyLabel, envelope] = process.argv.slice(2);
  const ring = await KeyRing.open({
    provider: new Pkcs11KeyProvider({ library, tokenLabel, keyLabel }), // PIN from BULWARK_PKCS11_PIN
    store: new FileKeyStore({ path: storePath }),
  });
  try {
    process.stdout.write(JSON.stringify({ plaintext: ring.decryptString(envelope, { aad: 'users.email' }) }));
  } finally {
    await ring.close();
  }
}

main().catch((error) => {
  process.stdout.write(JSON.stringify({ code: error.code ?? 'none' }));
  process.exitCode = 1;
});
