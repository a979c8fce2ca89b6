/**
 * The published shape of every public package, checked as a user meets it: `npm pack` each
 * packages/* that is not private into a folder OUTSIDE the monorepo (os.tmpdir(), so nothing
 * resolves through the workspace's node_modules), install the tarballs with their peers in a
 * scratch app, and run a CommonJS and an ESM consumer (plus `npx bulwark --help` when the CLI
 * package exists). Before installing, the tarball listings are checked: every source map points at
 * a shipped file, every relative README link resolves inside the tarball, `sideEffects` covers
 * every module that has one.
 *
 * Needs the built packages (`npm test` builds first) and the npm registry (or a warm npm cache):
 * outside CI an unreachable registry skips the suite with a one-line reason; with CI=true it fails.
 */
import { execFileSync, spawnSync, type ExecFileSyncOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.join(__dirname, '..');
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const NPX = process.platform === 'win32' ? 'npx.cmd' : 'npx';

interface Manifest {
  name: string;
  exports?: Record<string, unknown>;
  version: string;
  private?: boolean;
  main?: string;
  files?: string[];
  sideEffects?: boolean | string[];
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  bin?: string | Record<string, string>;
}

interface PublicPackage {
  dir: string;
  manifest: Manifest;
}

const publicPackages: PublicPackage[] = fs
  .readdirSync(path.join(ROOT, 'packages'))
  .map((name) => path.join(ROOT, 'packages', name))
  .filter((dir) => fs.existsSync(path.join(dir, 'package.json')))
  .map((dir) => ({
    dir,
    manifest: JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as Manifest,
  }))
  .filter((p) => p.manifest.private !== true);

/** Packages a program can import (a CLI-only package has a bin and no entry point). */
const libraryNames = publicPackages
  .filter((p) => p.manifest.main !== undefined || p.manifest.exports?.['.'] !== undefined)
  .map((p) => p.manifest.name);

function registryReachable(): { ok: true } | { ok: false; reason: string } {
  const result = spawnSync(NPM, ['ping'], { cwd: os.tmpdir(), encoding: 'utf8', timeout: 20_000 });
  if (result.status === 0) return { ok: true };
  const last = `${result.stderr ?? ''}`.trim().split('\n').pop() ?? '';
  return {
    ok: false,
    reason: `the npm registry is not reachable (npm ping: ${last || result.error?.message || 'timeout'})`,
  };
}

const registry = registryReachable();
const TITLE = 'published packages: pack, install outside the monorepo, consume from CommonJS and ESM';

if (!registry.ok && process.env.CI !== 'true') {
  console.warn(`skipped "${TITLE}": ${registry.reason} (set CI=true to make this a failure)`);
}

(registry.ok || process.env.CI === 'true' ? describe : describe.skip)(TITLE, () => {
  jest.setTimeout(240_000);

  let work: string;
  let app: string;
  const packed = new Map<string, { tarball: string; files: string[] }>();

  function run(cmd: string, args: string[], options: ExecFileSyncOptions = {}): string {
    try {
      return execFileSync(cmd, args, {
        encoding: 'utf8',
        stdio: 'pipe',
        timeout: 180_000,
        ...options,
      }) as string;
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; message: string };
      throw new Error(`${cmd} ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`, {
        cause: err,
      });
    }
  }

  beforeAll(() => {
    if (!registry.ok) throw new Error(`${registry.reason}; with CI=true this is a failure`);
    for (const p of publicPackages) {
      if (!fs.existsSync(path.join(p.dir, 'dist')))
        throw new Error(`${p.manifest.name} is not built: run npm run build`);
    }
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'bulwark-pack-'));
    expect(path.relative(ROOT, work).startsWith('..')).toBe(true);
    const out = run(
      NPM,
      ['pack', '--json', '--pack-destination', work, ...publicPackages.flatMap((p) => ['-w', p.dir])],
      {
        cwd: ROOT,
      },
    );
    const results = JSON.parse(out.slice(out.indexOf('['))) as Array<{
      name: string;
      filename: string;
      files: Array<{ path: string }>;
    }>;
    for (const r of results) {
      packed.set(r.name, { tarball: path.join(work, r.filename), files: r.files.map((f) => f.path) });
    }
  });

  afterAll(() => {
    if (work !== undefined && process.env.BULWARK_KEEP_PACK !== '1')
      fs.rmSync(work, { recursive: true, force: true });
  });

  it('packs every public package', () => {
    expect([...packed.keys()].sort()).toEqual(publicPackages.map((p) => p.manifest.name).sort());
  });

  describe.each(publicPackages.map((p) => [p.manifest.name, p] as const))('%s tarball', (name, pkg) => {
    const files = (): string[] => packed.get(name)!.files;

    it('ships its entry point, README and nothing from test/', () => {
      expect(files()).toEqual(
        expect.arrayContaining([
          'package.json',
          'README.md',
          ...[
            pkg.manifest.main,
            ...(typeof pkg.manifest.bin === 'string'
              ? [pkg.manifest.bin]
              : Object.values(pkg.manifest.bin ?? {})),
          ]
            .filter((f): f is string => typeof f === 'string')
            .map((f) => f.replace(/^\.\//, '')),
        ]),
      );
      expect(files().filter((f) => /(^|\/)(test|__tests__)\//.test(f) || /\.test\.[jt]s$/.test(f))).toEqual(
        [],
      );
      expect(files().filter((f) => f.endsWith('.tsbuildinfo'))).toEqual([]);
    });

    it('ships the file every source map points at', () => {
      const shipped = new Set(files());
      const maps = files().filter((f) => f.endsWith('.map'));
      const missing: string[] = [];
      for (const map of maps) {
        const { sources, sourceRoot } = JSON.parse(fs.readFileSync(path.join(pkg.dir, map), 'utf8')) as {
          sources: string[];
          sourceRoot?: string;
        };
        for (const source of sources) {
          const target = path.posix.normalize(
            path.posix.join(path.posix.dirname(map), sourceRoot ?? '', source),
          );
          if (!shipped.has(target)) missing.push(`${map} -> ${target}`);
        }
      }
      expect(missing).toEqual([]);
    });

    it('README links resolve on the registry page: shipped files or absolute URLs', () => {
      const broken: string[] = [];
      for (const doc of files().filter((f) => f.endsWith('.md'))) {
        const text = fs.readFileSync(path.join(pkg.dir, doc), 'utf8').replace(/```[\s\S]*?```/g, '');
        for (const m of text.matchAll(/\]\(([^)\s]+)\)|\]:\s*(\S+)|href="([^"]+)"/g)) {
          const target = (m[1] ?? m[2] ?? m[3]).split('#')[0];
          if (target === '' || /^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // anchor or absolute URL
          const resolved = path.posix.normalize(path.posix.join(path.posix.dirname(doc), target));
          if (!files().some((f) => f === resolved || f.startsWith(`${resolved}/`)))
            broken.push(`${doc}: ${target}`);
        }
      }
      expect(broken).toEqual([]);
    });

    it('declares every module with an import side effect in sideEffects', () => {
      // A bare `require("x");` statement is tsc's CommonJS output for `import 'x'`: the module
      // does something on load (e.g. reflect-metadata's global), so a bundler must keep it.
      const effectful = files().filter(
        (f) =>
          f.endsWith('.js') && /^require\("[^"]+"\);$/m.test(fs.readFileSync(path.join(pkg.dir, f), 'utf8')),
      );
      const declared = pkg.manifest.sideEffects;
      if (declared === undefined || declared === true) return;
      const listed = new Set((declared === false ? [] : declared).map((f) => f.replace(/^\.\//, '')));
      expect(effectful.filter((f) => !listed.has(f))).toEqual([]);
    });
  });

  describe('installed in a scratch app outside the monorepo', () => {
    const masterKey = randomBytes(32).toString('base64url');

    beforeAll(() => {
      app = path.join(work, 'app');
      fs.mkdirSync(app);
      const local: Record<string, string> = {};
      for (const [name, { tarball }] of packed) local[name] = `file:${path.relative(app, tarball)}`;
      // Required peers are installed by npm; optional ones a consumer here loads are listed.
      const peers: Record<string, string> = {};
      for (const { manifest } of publicPackages) {
        for (const [peer, range] of Object.entries(manifest.peerDependencies ?? {})) {
          if (!(peer in local) && peers[peer] === undefined) peers[peer] = range;
        }
      }
      fs.writeFileSync(
        path.join(app, 'package.json'),
        JSON.stringify(
          {
            name: 'bulwark-scratch-app',
            private: true,
            dependencies: { ...peers, ...local },
            // The tarballs, never a registry package of the same name, satisfy @bulwark/* everywhere.
            overrides: local,
          },
          null,
          2,
        ),
      );
      run(NPM, ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], { cwd: app });
    });

    it('installs @bulwark/* from the tarballs, one copy each', () => {
      const tree = JSON.parse(run(NPM, ['ls', '--all', '--json', ...packed.keys()], { cwd: app })) as unknown;
      const found: string[] = [];
      const walk = (node: {
        dependencies?: Record<string, { resolved?: string; dependencies?: object }>;
      }): void => {
        for (const [name, dep] of Object.entries(node.dependencies ?? {})) {
          if (name.startsWith('@bulwark/') && dep.resolved !== undefined)
            found.push(`${name} ${dep.resolved}`);
          walk(dep as never);
        }
      };
      walk(tree as never);
      expect(found.length).toBeGreaterThanOrEqual(packed.size);
      for (const line of found) expect(line).toMatch(/ file:/);
      for (const name of packed.keys()) {
        expect(fs.existsSync(path.join(app, 'node_modules', name, 'package.json'))).toBe(true);
      }
    });

    const consumerEnv = (): NodeJS.ProcessEnv => ({
      ...process.env,
      BULWARK_MASTER_KEY: masterKey,
      NODE_OPTIONS: '',
    });

    it('a CommonJS consumer requires every package and round-trips a field through the key ring', () => {
      // @bulwark/kms's root entry holds only types (each provider is a subpath, so an app loads only
      // the SDK it uses): its Vault provider, which needs no SDK, stands in for it.
      const entryOf = (n: string): string => (n === '@bulwark/kms' ? '@bulwark/kms/vault' : n);
      const requires = libraryNames.map(
        (n) => `  ${JSON.stringify(n)}: Object.keys(require(${JSON.stringify(entryOf(n))})).length,`,
      );
      fs.writeFileSync(
        path.join(app, 'consumer.cjs'),
        [
          "const { createBulwark, BulwarkCryptoError } = require('@bulwark/core');",
          "const { bulwark } = require('@bulwark/express');",
          "if (typeof bulwark !== 'function') throw new Error('@bulwark/express has no bulwark()');",
          'const loaded = {',
          ...requires,
          '};',
          '(async () => {',
          "  const kit = await createBulwark({ keys: { store: { file: 'keys-cjs.json' }, ensure: ['pii'] } });",
          "  const stored = kit.keyRing.encrypt('pii', 'ada@example.com', { aad: 'users.email#42' });",
          "  const plain = kit.keyRing.decryptString(stored, { aad: 'users.email#42' });",
          '  let moved;',
          "  try { kit.keyRing.decryptString(stored, { aad: 'users.email#43' }); } catch (err) { moved = err instanceof BulwarkCryptoError && err.code; }",
          '  await kit.close();',
          '  console.log(JSON.stringify({ plain, moved, loaded }));',
          '})().catch((err) => { console.error(err); process.exit(1); });',
        ].join('\n'),
      );
      const result = JSON.parse(
        run(process.execPath, ['consumer.cjs'], { cwd: app, env: consumerEnv() }).trim(),
      ) as {
        plain: string;
        moved: string;
        loaded: Record<string, number>;
      };
      expect(result.plain).toBe('ada@example.com');
      expect(result.moved).toBe('ERR_CRYPTO_DECRYPTION_FAILED');
      for (const name of libraryNames) expect(result.loaded[name]).toBeGreaterThan(0);
    });

    it('an ESM consumer imports every package with named imports and round-trips a field', () => {
      const imports = libraryNames.map((n, i) => `import * as pkg${i} from ${JSON.stringify(n)};`);
      const counts = libraryNames.map((n, i) => `  ${JSON.stringify(n)}: Object.keys(pkg${i}).length,`);
      fs.writeFileSync(
        path.join(app, 'consumer.mjs'),
        [
          "import { createBulwark } from '@bulwark/core';",
          "import { bulwark } from '@bulwark/express';",
          ...imports,
          "if (typeof bulwark !== 'function') throw new Error('@bulwark/express has no bulwark()');",
          "const kit = await createBulwark({ keys: { store: { file: 'keys-esm.json' }, ensure: ['pii'] } });",
          "const stored = kit.keyRing.encrypt('pii', 'grace@example.com', { aad: 'users.email#7' });",
          "const plain = kit.keyRing.decryptString(stored, { aad: 'users.email#7' });",
          'await kit.close();',
          'console.log(JSON.stringify({ plain, loaded: {',
          ...counts,
          '} }));',
        ].join('\n'),
      );
      const result = JSON.parse(
        run(process.execPath, ['consumer.mjs'], { cwd: app, env: consumerEnv() }).trim(),
      ) as {
        plain: string;
        loaded: Record<string, number>;
      };
      expect(result.plain).toBe('grace@example.com');
      for (const name of libraryNames) expect(result.loaded[name]).toBeGreaterThan(0);
    });

    it('an Express 4 app installs @bulwark/express without peer conflicts and serves through the bundle', () => {
      const legacy = path.join(work, 'app-express4');
      fs.mkdirSync(legacy);
      const local: Record<string, string> = {};
      for (const [name, { tarball }] of packed) {
        if (name === '@bulwark/core' || name === '@bulwark/express')
          local[name] = `file:${path.relative(legacy, tarball)}`;
      }
      fs.writeFileSync(
        path.join(legacy, 'package.json'),
        JSON.stringify({
          name: 'bulwark-express4-app',
          private: true,
          dependencies: { express: '~4.21.2', ...local },
          overrides: local,
        }),
      );
      // No --legacy-peer-deps: an ERESOLVE on the express peer range fails here.
      run(NPM, ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], {
        cwd: legacy,
      });
      fs.writeFileSync(
        path.join(legacy, 'server.cjs'),
        [
          "const express = require('express');",
          "const { PolicyEngine, TokenService } = require('@bulwark/core');",
          "const { bulwark, notFound } = require('@bulwark/express');",
          "const tokens = new TokenService({ algorithms: ['HS256'], signingKey: { key: Buffer.alloc(32, 7) } });",
          'const authorizer = new PolicyEngine({ policy: { version: 1, roles: {}, policies: [] } });',
          "const bw = bulwark({ tokens, authorizer }, { authenticate: { publicPaths: ['/health'] } });",
          'const app = express().use(bw);',
          "app.get('/health', (req, res) => res.json({ ok: true, express: require('express/package.json').version }));",
          'app.use(notFound()).use(bw.problemDetails());',
          "const server = app.listen(0, '127.0.0.1', async () => {",
          '  const base = `http://127.0.0.1:${server.address().port}`;',
          "  const ok = await fetch(base + '/health');",
          "  const denied = await fetch(base + '/secret');",
          '  console.log(JSON.stringify({ status: ok.status, body: await ok.json(), csp: ok.headers.get("content-security-policy"),',
          '    denied: denied.status, deniedType: denied.headers.get("content-type") }));',
          '  server.close(); await bw.close();',
          '});',
        ].join('\n'),
      );
      const result = JSON.parse(
        run(process.execPath, ['server.cjs'], { cwd: legacy, env: consumerEnv() }).trim(),
      ) as {
        status: number;
        body: { ok: boolean; express: string };
        csp: string;
        denied: number;
        deniedType: string;
      };
      expect(result.body.express).toMatch(/^4\./);
      expect(result.status).toBe(200);
      expect(result.csp).toContain("frame-ancestors 'none'");
      expect(result.denied).toBe(401);
      expect(result.deniedType).toMatch(/^application\/problem\+json/);
    });

    it('npx bulwark --help runs the installed CLI (@bulwark/cli)', () => {
      if (!packed.has('@bulwark/cli')) {
        console.warn('skipped `npx bulwark --help`: there is no public packages/cli yet');
        return;
      }
      const out = run(NPX, ['--no-install', 'bulwark', '--help'], { cwd: app, env: consumerEnv() });
      expect(out).toMatch(/bulwark/i);
    });
  });
});
