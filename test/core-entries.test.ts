/**
 * @bulwark/core's entries as an application loads them: the BUILT package (`npm test` builds
 * first), through its package.json `exports`, in a fresh Node process so that nothing a test
 * runner preloads can hide what an import loads.
 */
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { promisify } from 'node:util';
import * as ts from 'typescript';
import {
  HTTP_VALUES,
  INVERSIFY_VALUES,
  MAIN_VALUES,
  STORE_VALUES,
  WEBAUTHN_VALUES,
} from '../packages/core/test/surface/public-surface';

const root = path.resolve(__dirname, '..');

/** Runs `code` in a new Node process at the repository root and returns what it printed as JSON. */
async function run(code: string, esm = false): Promise<Record<string, unknown>> {
  const args = esm ? ['--input-type=module', '-e', code] : ['-e', code];
  const { stdout } = await promisify(execFile)(process.execPath, args, { cwd: root, timeout: 30_000 });
  return JSON.parse(stdout);
}

/** What a process has loaded of the heavy dependencies, by package name. */
const LOADED = `
  const heavy = (k) => (k.match(/node_modules[\\\\/](argon2|reflect-metadata|inversify|@inversifyjs|yaml|rate-limiter-flexible|jose|@zxcvbn-ts)[\\\\/]/) || [])[1];
  const loaded = () => [...new Set(Object.keys(require.cache).map(heavy).filter(Boolean))].sort();
  const reflect = () => typeof Reflect.getMetadata === 'function';
`;

describe('@bulwark/core entries, built, in a fresh process', () => {
  it('loads neither argon2 (native) nor reflect-metadata, inversify, yaml, rate-limiter-flexible or jose on require of the main entry', async () => {
    const out = await run(`${LOADED}
      const core = require('@bulwark/core');
      const before = { loaded: loaded(), reflect: reflect() };
      const hasher = new core.PasswordHasher();
      const stillLazy = loaded();
      hasher.hash('correct horse battery staple').then(async (hash) => {
        const ok = await hasher.verify(hash, 'correct horse battery staple');
        const afterHash = loaded();
        new core.BruteForceGuard({});
        const policy = core.parsePolicyText('version: 1\\npolicies: []');
        console.log(JSON.stringify({ before, stillLazy, after: afterHash, ok, reflect: reflect(),
          onUse: loaded(), policies: policy.policies.length }));
      });`);
    expect(out.before).toEqual({ loaded: [], reflect: false });
    // Constructing the hasher (what createBulwark always does) does not load it either ...
    expect(out.stillLazy).toEqual([]);
    // ... the first hash does, and hashing works.
    expect(out.after).toEqual(['argon2']);
    expect(out.ok).toBe(true);
    expect(out.reflect).toBe(false);
    // Likewise the brute-force counters and the YAML parser, with the engine that needs them.
    expect(out.onUse).toEqual(['argon2', 'rate-limiter-flexible', 'yaml']);
    expect(out.policies).toBe(0);
  });

  it('loads jose with the first token operation, not with a token service built from one key', async () => {
    const out = await run(`${LOADED}
      const core = require('@bulwark/core');
      const before = loaded();
      const tokens = new core.TokenService({ algorithms: ['HS256'], signingKey: { key: Buffer.alloc(32, 7) } });
      const constructed = loaded();
      tokens.sign({}, { subject: 'user-1' }).then(async (token) => {
        const signed = loaded();
        const verified = await tokens.verify(token);
        const at = token.lastIndexOf('.') + 1;
        const forged = token.slice(0, at) + (token[at] === 'A' ? 'B' : 'A') + token.slice(at + 1);
        const refused = await tokens.verify(forged).catch((e) => e.code);
        console.log(JSON.stringify({ before, constructed, signed, sub: verified.payload.sub, refused }));
      });`);
    expect(out.before).toEqual([]);
    expect(out.constructed).toEqual([]);
    expect(out.signed).toEqual(['jose']);
    // The lazily loaded jose verifies and its errors still map to Bulwark's codes.
    expect(out.sub).toBe('user-1');
    expect(out.refused).toBe('ERR_TOKEN_SIGNATURE_INVALID');
  });

  it('loads jose with the first checkpoint or erasure-receipt key, not on import', async () => {
    const out = await run(`${LOADED}
      const core = require('@bulwark/core');
      const before = loaded();
      core.CheckpointSigner.generate().then(async (signer) => {
        const generated = loaded();
        const head = { treeSize: 0, rootHash: '0'.repeat(64), time: new Date().toISOString() };
        const checkpoint = await signer.sign(head);
        const verified = await core.verifyCheckpoint(checkpoint, await signer.exportPublicJwk());
        console.log(JSON.stringify({ before, generated, treeSize: verified.treeSize }));
      });`);
    expect(out.before).toEqual([]);
    expect(out.generated).toEqual(['jose']);
    expect(out.treeSize).toBe(0);
  });

  it('loads zxcvbn-ts (about 2 MB of dictionaries) with the first password check, not on import or construction', async () => {
    const out = await run(`${LOADED}
      const core = require('@bulwark/core');
      const before = loaded();
      const hasher = new core.PasswordHasher({ policy: { contextWords: ['Acme'] } });
      const constructed = loaded();
      hasher.check('lantern marble oyster').then((result) => {
        console.log(JSON.stringify({ before, constructed, checked: loaded(), ok: result.ok }));
      });`);
    expect(out.before).toEqual([]);
    expect(out.constructed).toEqual([]);
    expect(out.checked).toEqual(['@zxcvbn-ts']);
    expect(out.ok).toBe(true);
  });

  it('serves each subpath from CommonJS with exactly its listed values, and the same classes', async () => {
    const out = await run(`${LOADED}
      const names = (m) => Object.keys(m).sort();
      const main = require('@bulwark/core');
      const http = require('@bulwark/core/http');
      const store = require('@bulwark/core/store');
      const beforeInversify = loaded();
      const inversify = require('@bulwark/core/inversify');
      console.log(JSON.stringify({
        main: names(main), http: names(http), store: names(store), inversify: names(inversify),
        beforeInversify, afterInversify: loaded(), reflect: reflect(),
        sameHttpError: main.BulwarkHttpError === http.BulwarkHttpError,
        sameTrustProxy: main.trustProxyFromEnv === http.trustProxyFromEnv,
      }));`);
    const sorted = (list: readonly string[]) => [...list].sort();
    expect(out.main).toEqual(sorted(MAIN_VALUES));
    expect(out.http).toEqual(sorted(HTTP_VALUES));
    expect(out.store).toEqual(sorted(STORE_VALUES));
    expect(out.inversify).toEqual(sorted(INVERSIFY_VALUES));
    expect(out.beforeInversify).toEqual([]);
    // Only the inversify entry loads inversify, with reflect-metadata first.
    expect(out.afterInversify).toEqual(expect.arrayContaining(['inversify', 'reflect-metadata']));
    expect(out.reflect).toBe(true);
    expect(out.sameHttpError).toBe(true);
    expect(out.sameTrustProxy).toBe(true);
  });

  it('loads @simplewebauthn/server (optional peer) only through @bulwark/core/webauthn, nodemailer never', async () => {
    const out = await run(`
      const peers = () => [...new Set(Object.keys(require.cache)
        .map((k) => (k.match(/node_modules[\\\\/](@simplewebauthn[\\\\/]server|nodemailer)[\\\\/]/) || [])[1])
        .filter(Boolean))].sort();
      const main = require('@bulwark/core');
      require('@bulwark/core/http');
      require('@bulwark/core/store');
      const beforeWebAuthn = peers();
      const webauthn = require('@bulwark/core/webauthn');
      console.log(JSON.stringify({ beforeWebAuthn, after: peers(), names: Object.keys(webauthn).sort(),
        otp: typeof main.OtpFactor }));`);
    expect(out.beforeWebAuthn).toEqual([]);
    expect(out.after).toEqual(['@simplewebauthn/server']);
    expect(out.names).toEqual([...WEBAUTHN_VALUES].sort());
    // The nodemailer transport is duck-typed: core never requires nodemailer.
    expect(out.otp).toBe('function');
  });

  it('serves named imports from ESM, and keeps the build output private', async () => {
    const out = await run(
      `import { KeyRing } from '@bulwark/core';
      import { planBulwarkBundle, problemFor } from '@bulwark/core/http';
      import { normalizeAuditQuery } from '@bulwark/core/store';
      import { createRequire } from 'node:module';
      const require = createRequire(process.cwd() + '/');
      let deep;
      try { require('@bulwark/core/dist/http/index.js'); deep = 'loaded'; } catch (e) { deep = e.code; }
      console.log(JSON.stringify({
        types: [typeof KeyRing, typeof planBulwarkBundle, typeof problemFor, typeof normalizeAuditQuery],
        deep,
      }));`,
      true,
    );
    expect(out.types).toEqual(['function', 'function', 'function', 'function']);
    expect(out.deep).toBe('ERR_PACKAGE_PATH_NOT_EXPORTED');
  });

  it.each([
    ['node10', ts.ModuleResolutionKind.Node10, ts.ModuleKind.CommonJS],
    ['node16', ts.ModuleResolutionKind.Node16, ts.ModuleKind.Node16],
    ['nodenext', ts.ModuleResolutionKind.NodeNext, ts.ModuleKind.NodeNext],
    ['bundler', ts.ModuleResolutionKind.Bundler, ts.ModuleKind.ESNext],
  ])(
    'gives TypeScript the types of every entry under moduleResolution %s',
    (_name, moduleResolution, module) => {
      // node10 does not read "exports": the package's typesVersions serves the subpaths there.
      const from = path.join(root, 'test', 'consumer.ts');
      const resolved = Object.fromEntries(
        ['', '/http', '/store', '/inversify'].map((sub) => {
          const result = ts.resolveModuleName(
            `@bulwark/core${sub}`,
            from,
            { moduleResolution, module },
            ts.sys,
          );
          const file = result.resolvedModule?.resolvedFileName;
          return [sub || '.', file === undefined ? undefined : path.relative(root, file)];
        }),
      );
      expect(resolved).toEqual({
        '.': 'packages/core/dist/index.d.ts',
        '/http': 'packages/core/dist/http/index.d.ts',
        '/store': 'packages/core/dist/store.d.ts',
        '/inversify': 'packages/core/dist/inversify.d.ts',
      });
    },
  );
});
