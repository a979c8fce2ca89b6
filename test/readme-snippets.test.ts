/**
 * "These snippets compile and run" as a test: every ```ts block marked `<!-- snippet: esm -->` (an
 * ES module: top-level await; the README says so) or `<!-- snippet: cjs -->` in the root README and
 * each package README is written to a folder inside the repository (so `@bulwark/*` resolve to the
 * BUILT packages through the workspace's node_modules, as in an app), type-checked with tsc under
 * the settings the root README states, and run with Node. A snippet that starts a server is bound
 * to a free port instead of its own, asked one request (it must answer below 500) and stopped; a
 * README listed in FLOWS runs its client flow instead (e.g. the Fastify example's CSRF-protected
 * writes).
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

function slugOf(readme: string): string {
  return readme.replace(/\/README\.md$|\.md$/, '').replace(/[^a-z0-9]+/gi, '-');
}

function extract(readme: string): Snippet[] {
  const text = fs.readFileSync(path.join(ROOT, readme), 'utf8');
  const out: Snippet[] = [];
  for (const m of text.matchAll(/<!-- snippet: (esm|cjs) -->\s*\n```ts\n([\s\S]*?)\n```/g)) {
    const line = text.slice(0, m.index).split('\n').length;
    const slug = slugOf(readme);
    const kind = m[1] as 'esm' | 'cjs';
    out.push({ readme, line, kind, code: m[2]!, file: `${slug}-L${line}.${kind === 'esm' ? 'mts' : 'cts'}` });
  }
  return out;
}

const snippets = readmes.flatMap(extract);

/**
 * Binds any server to port 0, runs the snippet's flow against it once it listens, and exits (0 when
 * the flow passed). The default flow requests `/` once: the answer must be below 500.
 */
const preload = (flow: string): string => `
import net from 'node:net';
import http from 'node:http';
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  const callback = typeof args[args.length - 1] === 'function' ? args.pop() : undefined;
  this.once('listening', () => {
    const base = 'http://127.0.0.1:' + this.address().port;
    (async () => {
${flow}
    })().then(
      () => process.exit(0),
      (err) => { console.error(err); process.exit(1); },
    );
  });
  return listen.call(this, 0, '127.0.0.1', callback);
};
`;

const DEFAULT_FLOW = `
      const status = await new Promise((resolve, reject) =>
        http.get(base + '/', { headers: { accept: 'application/json' } }, (res) => {
          res.resume();
          resolve(res.statusCode);
        }).on('error', reject));
      console.log('snippet-server-answered ' + status);
      if (status >= 500) throw new Error('answered ' + status);
`;

/**
 * Flows for snippets whose point is more than "it answers": the steps a client of the example takes.
 * Keyed by README; each throws (with what it got) when a step does not answer as the README says.
 */
const FLOWS: Record<string, string> = {
  // The example's own write routes, as a signed-in user: fetch a CSRF token, write with it, write
  // a field the route does not allow, write without the token, log out.
  'packages/fastify/README.md': `
      const { TokenService } = await import('@bulwark/core');
      const tokens = new TokenService({ algorithms: ['HS256'], signingKey: { key: Buffer.from(process.env.JWT_SECRET, 'base64url') } });
      const auth = { authorization: 'Bearer ' + (await tokens.sign({ roles: ['user'] }, { subject: 'alice' })) };
      const expect = async (what, res, status) => {
        const body = await res.text();
        if (res.status !== status) throw new Error(what + ': expected ' + status + ', got ' + res.status + ' ' + body);
        return body;
      };
      const minted = await fetch(base + '/csrf-token', { headers: auth });
      const { token } = JSON.parse(await expect('GET /csrf-token', minted, 200));
      const cookie = minted.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
      const write = (body, extra = {}) => fetch(base + '/docs/1', { method: 'PUT', headers: { ...auth, cookie, 'content-type': 'application/json', ...extra }, body: JSON.stringify(body) });
      const saved = await expect('PUT /docs/1 with the CSRF token', await write({ title: 'New' }, { 'x-csrf-token': token }), 200);
      if (JSON.parse(saved).saved !== true) throw new Error('PUT /docs/1: ' + saved);
      await expect('PUT /docs/1 with an unknown field', await write({ title: 'New', ownerId: 'mallory' }, { 'x-csrf-token': token }), 400);
      await expect('PUT /docs/1 without the CSRF token', await write({ title: 'New' }), 403);
      await expect('POST /logout', await fetch(base + '/logout', { method: 'POST', headers: { ...auth, cookie, 'x-csrf-token': token } }), 204);
      console.log('snippet-flow-passed');
`,
};

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
      fs.writeFileSync(path.join(WORK, 'preload.mjs'), preload(DEFAULT_FLOW));
      for (const [readme, flow] of Object.entries(FLOWS)) {
        fs.writeFileSync(path.join(WORK, `preload-${slugOf(readme)}.mjs`), preload(flow));
      }
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
      const flow = FLOWS[s.readme] !== undefined ? `preload-${slugOf(s.readme)}.mjs` : 'preload.mjs';
      const child = spawn(process.execPath, ['--import', path.join(WORK, flow), compiled], {
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
