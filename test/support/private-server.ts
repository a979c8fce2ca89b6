/**
 * Private server processes for fault-injection suites: a nats-server or redis-server of the
 * machine started on a free port with its data in a temporary directory, that a test may kill and
 * restart. The shared services (NATS 4222, Redis 6379) are never touched.
 *
 *   describeWithBinary('nats-server', 'NATS outage', () => { ... });
 *
 * Outside CI a missing binary skips the suite with a one-line reason; with CI=true it fails.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type ServerBinary = 'nats-server' | 'redis-server';

const CANDIDATES: Record<ServerBinary, string[]> = {
  'nats-server': ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server'],
  'redis-server': ['/usr/bin/redis-server', '/usr/sbin/redis-server', '/usr/local/bin/redis-server'],
};

export function findBinary(name: ServerBinary): string | undefined {
  const env = process.env[`BULWARK_${name.replace('-', '_').toUpperCase()}`];
  if (env !== undefined && existsSync(env)) return env;
  const found = CANDIDATES[name].find((p) => existsSync(p));
  if (found !== undefined) return found;
  const which = spawnSync('which', [name], { encoding: 'utf8' });
  return which.status === 0 && which.stdout.trim() !== '' ? which.stdout.trim() : undefined;
}

export function describeWithBinary(name: ServerBinary, title: string, body: () => void): void {
  if (findBinary(name) !== undefined) {
    describe(title, body);
    return;
  }
  const reason = `${name} is not installed (set BULWARK_${name.replace('-', '_').toUpperCase()} to its path)`;
  if (process.env.CI === 'true') {
    describe(title, () => {
      it(`needs ${name}`, () => {
        throw new Error(`${reason}; with CI=true a missing binary is a failure`);
      });
    });
    return;
  }
  console.warn(`skipped "${title}": ${reason} (set CI=true to make this a failure)`);
  describe.skip(title, body);
}

/** A port free right now on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

async function waitPort(port: number, open: boolean, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if ((await portOpen(port)) === open) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`port ${port} did not ${open ? 'open' : 'close'} within ${ms} ms`);
}

/** A server process that can be stopped and started again on the same port and data directory. */
export class PrivateServer {
  private child?: ChildProcess;
  readonly dir: string;

  private constructor(
    private readonly binary: string,
    private readonly args: (port: number, dir: string) => string[],
    readonly port: number,
  ) {
    this.dir = mkdtempSync(join(tmpdir(), 'bulwark-private-server-'));
  }

  /** nats-server with JetStream, its store in a private temporary directory. */
  static async nats(): Promise<PrivateServer> {
    const binary = findBinary('nats-server');
    if (binary === undefined) throw new Error('nats-server is not installed');
    const port = await freePort();
    const server = new PrivateServer(
      binary,
      (p, dir) => ['-a', '127.0.0.1', '-p', String(p), '-js', '-sd', dir],
      port,
    );
    await server.start();
    return server;
  }

  /** redis-server; `persistence: 'aof'` (appendonly, fsync every write) or `'none'` (no AOF, no RDB). */
  static async redis(persistence: 'aof' | 'none'): Promise<PrivateServer> {
    const binary = findBinary('redis-server');
    if (binary === undefined) throw new Error('redis-server is not installed');
    const port = await freePort();
    const server = new PrivateServer(
      binary,
      (p, dir) => [
        '--port',
        String(p),
        '--bind',
        '127.0.0.1',
        '--dir',
        dir,
        '--save',
        '',
        '--appendonly',
        persistence === 'aof' ? 'yes' : 'no',
        '--appendfsync',
        'always',
        '--protected-mode',
        'no',
      ],
      port,
    );
    await server.start();
    return server;
  }

  get url(): string {
    return `127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    if (this.child !== undefined) return;
    const child = spawn(this.binary, this.args(this.port, this.dir), { stdio: 'ignore' });
    this.child = child;
    child.once('exit', () => {
      if (this.child === child) this.child = undefined;
    });
    await waitPort(this.port, true, 10_000);
  }

  /** SIGKILL: no clean shutdown, as a crash or a power cut. */
  async kill(): Promise<void> {
    const child = this.child;
    if (child === undefined) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    this.child = undefined;
    await waitPort(this.port, false, 5_000);
  }

  async dispose(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
