'use strict';
/*
 * One OS process of the FileKeyStore race test: loads core from its TypeScript SOURCE (transpiled
 * on the fly, so no build is needed), waits for the shared start signal, then races the other
 * workers: first open, ensureKey, rotate, first encryptForSubject. Prints the envelopes it made.
 */
const fs = require('node:fs');
const path = require('node:path');
const ts = require('typescript');

require.extensions['.ts'] = (module, filename) => {
  const out = ts.transpileModule(fs.readFileSync(filename, 'utf8'), {
    fileName: filename,
    compilerOptions: {
      module: ts.ModuleKind.CommonJS,
      target: ts.ScriptTarget.ES2022,
      esModuleInterop: true,
    },
  });
  module._compile(out.outputText, filename);
};

const src = path.join(__dirname, '..', '..', '..', 'src', 'crypto');
const { KeyRing } = require(path.join(src, 'key-ring.ts'));
const { FileKeyStore } = require(path.join(src, 'file-key-store.ts'));
const { EnvKeyProvider } = require(path.join(src, 'env-key-provider.ts'));

async function main() {
  const { file, masterKey, go, worker } = JSON.parse(process.argv[2]);
  // Start together: spin until the parent creates the go file (all workers are loaded by then).
  while (!fs.existsSync(go)) await new Promise((r) => setTimeout(r, 2));
  const ring = await KeyRing.open({
    provider: new EnvKeyProvider({ env: { BULWARK_MASTER_KEY: masterKey } }),
    store: new FileKeyStore({ path: file }),
    refreshIntervalMs: 0,
  });
  const out = [];
  await ring.ensureKey('pii');
  out.push({ envelope: ring.encrypt('pii', `w${worker}-v1`), text: `w${worker}-v1` });
  await ring.rotate('pii');
  out.push({ envelope: ring.encrypt('pii', `w${worker}-v2`), text: `w${worker}-v2` });
  const subject = await ring.encryptForSubject('alice', `w${worker}-s`);
  out.push({ envelope: subject, text: `w${worker}-s`, subject: true });
  out.push({ ref: ring.subjectRef('alice'), primary: ring.info('pii').primaryVersion });
  await ring.close();
  process.stdout.write(JSON.stringify(out));
}

main().catch((error) => {
  process.stderr.write(`${error && error.stack ? error.stack : String(error)}\n`);
  process.exit(1);
});
