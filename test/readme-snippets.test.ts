/**
 * "These snippets compile and run" as a test: every ```ts block marked `<!-- snippet: esm -->` (an
 * ES module: top-level await; the README says so) or `<!-- snippet: cjs -->` in the root README and
 * each package README is written to a folder inside the repository (so `@bulwark/*` resolve to the
 * BUILT packages through the workspace's node_modules, as in an app), type-checked with tsc under
 * the settings the root README states, and run with Node. A snippet that starts a server is bound
 * to a free port instead of its own, asked one request (it must answer below 500) and stopped.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.join(__dirname, '..');
const WORK = path.join(ROOT, '.readme-snippets');

interface Snippet {
  readme: string;
  line: number;
  kind: 'esm' | 'cjs';
  code: string;
  file: string;
}

const readmes = [
  'README.md',
  ...fs
    .readdirSync(path.join(ROOT, 'packages'))
    .filter((name) => fs.existsSync(path.join(ROOT, 'packages', name, 'README.md')))
    .filter((name) => {
      const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'packages', name, 'package.json'), 'utf8'));
      return manifest.private !== true;
    })
    .map((name) => `packages/${name}/README.md`),
];

function extract(readme: string): Snippet[] {
  const text = fs.readFileSync(path.join(ROOT, readme), 'utf8');
  const out: Snippet[] = [];
  for (const m of text.matchAll(/<!-- snippet: (esm|cjs) -->\s*\n```ts\n([\s\S]*?)\n```/g)) {
    const line = text.slice(0, m.index).split('\n').length;
    const slug = readme.replace(/\/README\.md$|\.md$/, '').replace(/[^a-z0-9]+/gi, '-');
    const kind = m[1] as 'esm' | 'cjs';
    out.push({ readme, line, kind, code: m[2]!, file: `${slug}-L${line}.${kind === 'esm' ? 'mts' : 'cts'}` });
  }
  return out;
}

const snippets = readmes.flatMap(extract);

/** Binds any server to port 0, requests `/` once it listens, and exits (0 if the answer was < 500). */
const PRELOAD = `
import net from 'node:net';
import http from 'node:http';
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  const callback = typeof args[args.length - 1] === 'function' ? args.pop() : undefined;
  this.once('listening', () => {
    const { port } = this.address();
    http.get({ host: '127.0.0.1', port, path: '/', headers: { accept: 'application/json' } }, (res) => {
      res.resume();
      console.log('snippet-server-answered ' + res.statusCode);
      process.exit(res.statusCode < 500 ? 0 : 1);
    }).on('error', (err) => { console.error(err); process.exit(1); });
  });
  return listen.call(this, 0, '127.0.0.1', callback);
};
`;

/** The policy file the root README's snippets use, taken from the README itself. */
const POLICY = /```yaml\n([\s\S]*?)```/.exec(fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8'))![1]!;

describe('README snippets compile and run against the built packages', () => {
  jest.setTimeout(180_000);

  it('finds the marked snippets of the root README and every package README', () => {
    const marked = new Set(snippets.map((s) => s.readme));
    for (const readme of readmes) expect([readme, marked.has(readme)]).toEqual([readme, true]);
  });

  it('marks top-level await as ESM, and the README says snippets are ES modules', () => {
    for (const s of snippets) {
      const topLevelAwait = s.code
        .split('\n')
        .some((l) => /^(const .*= )?await /.test(l) || /^\S.*= await /.test(l));
      if (topLevelAwait) expect(`${s.readme}:${s.line} ${s.kind}`).toBe(`${s.readme}:${s.line} esm`);
      if (s.kind === 'esm') expect(fs.readFileSync(path.join(ROOT, s.readme), 'utf8')).toMatch(/ES module/);
    }
  });

  describe('type-checked and run', () => {
    beforeAll(() => {
      fs.rmSync(WORK, { recursive: true, force: true });
      fs.mkdirSync(WORK, { recursive: true });
      // The settings the root README states for its snippets (strict, nodenext, decorators for Nest/TypeORM).
      fs.writeFileSync(
        path.join(WORK, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            target: 'ES2022',
            module: 'nodenext',
            moduleResolution: 'nodenext',
            strict: true,
            esModuleInterop: true,
            skipLibCheck: true,
            experimentalDecorators: true,
            emitDecoratorMetadata: true,
            types: ['node'],
            outDir: 'out',
            rootDir: 'src',
          },
          include: ['src'],
        }),
      );
      fs.mkdirSync(path.join(WORK, 'src'));
      for (const s of snippets) fs.writeFileSync(path.join(WORK, 'src', s.file), s.code + '\n');
      fs.writeFileSync(path.join(WORK, 'preload.mjs'), PRELOAD);
    });

    afterAll(() => {
      if (process.env.BULWARK_KEEP_SNIPPETS !== '1') fs.rmSync(WORK, { recursive: true, force: true });
    });

    it('type-checks every snippet (tsc, strict)', () => {
      const tsc = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', WORK], {
        encoding: 'utf8',
        timeout: 120_000,
      });
      // Errors are reported as src/<readme>-L<line>.mts(line,col): map them back in the message.
      expect(tsc.stdout + tsc.stderr).toBe('');
      expect(tsc.status).toBe(0);
    });

    it.each(snippets.map((s) => [`${s.readme}:${s.line}`, s] as const))('runs %s', async (_title, s) => {
      const compiled = path.join(WORK, 'out', s.file.replace(/\.mts$/, '.mjs').replace(/\.cts$/, '.cjs'));
      expect(fs.existsSync(compiled)).toBe(true);
      const cwd = path.join(WORK, 'run', s.file.replace(/\.[cm]ts$/, ''));
      fs.mkdirSync(cwd, { recursive: true });
      fs.writeFileSync(path.join(cwd, 'policy.yaml'), POLICY);
      const child = spawn(process.execPath, ['--import', path.join(WORK, 'preload.mjs'), compiled], {
        cwd,
        env: {
          ...process.env,
          NODE_OPTIONS: '',
          BULWARK_MASTER_KEY: randomBytes(32).toString('base64url'),
          JWT_SECRET: randomBytes(32).toString('base64url'),
          CSRF_SECRET: randomBytes(32).toString('base64url'),
          DATABASE_URL: path.join(cwd, 'app.sqlite'),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (d) => (output += d));
      child.stderr.on('data', (d) => (output += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      clearTimeout(timer);
      expect({ code, output: code === 0 ? '' : output }).toEqual({ code: 0, output: '' });
    });
  });
});
