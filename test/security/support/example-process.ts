/**
 * Starts an example app as its own Node process (the built `dist/main.js`, as `npm start` in the
 * example's folder does), so an attack that kills the process is seen as a dead process, not as a
 * crashed jest worker. `npm test` builds every example before jest runs.
 *
 *   const app = await startExample('express-clinic');
 *   await fetch(`${app.url}/patients`);
 *   expect(app.alive()).toBe(true);
 *   await app.stop();
 *
 * Each start gets its own data folder (SQLite files, demo secrets), removed by `stop()`. With
 * `database: 'postgres'` the app runs on a fresh PostgreSQL database, dropped by `stop()`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DataSource } from 'typeorm';
import { SERVICE_URLS } from '../../support/services';

export type ExampleName = 'express-clinic' | 'koa-shop' | 'nestjs-hr';

export interface StartExampleOptions {
  /** Default 'sqlite'. */
  database?: 'sqlite' | 'postgres';
  /** Extra environment variables for the app process. */
  env?: Record<string, string>;
  /** How long to wait for the "listening on" line. Default 60 s. */
  startTimeoutMs?: number;
}

export interface ExampleProcess {
  readonly name: ExampleName;
  /** Base URL, e.g. http://127.0.0.1:41234 */
  readonly url: string;
  readonly port: number;
  /** The app's data folder (SQLite files, demo secrets). */
  readonly dataDir: string;
  /** `postgres://...` of the app's own database, when it runs on PostgreSQL. */
  readonly databaseUrl?: string;
  readonly child: ChildProcess;
  /** Everything the process wrote so far (stdout and stderr interleaved). */
  output(): string;
  /** False once the process has exited (for any reason). */
  alive(): boolean;
  /** The exit code or signal, once it exited. */
  exit(): { code: number | null; signal: NodeJS.Signals | null } | undefined;
  /** SIGTERM (the app flushes its audit log and closes), then cleans up its data. Idempotent. */
  stop(): Promise<void>;
}

const ROOT = path.resolve(__dirname, '..', '..', '..');

function mainScript(name: ExampleName): string {
  const file = path.join(ROOT, 'examples', name, 'dist', 'main.js');
  if (!existsSync(file)) {
    throw new Error(`${file} is missing: build the examples first (npm run build; npm test does it)`);
  }
  return file;
}

async function adminQuery(sql: string): Promise<void> {
  const admin = new DataSource({ type: 'postgres', url: SERVICE_URLS.postgres });
  await admin.initialize();
  try {
    await admin.query(sql);
  } finally {
    await admin.destroy();
  }
}

async function createDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const dbName = `bw_sec_${randomBytes(6).toString('hex')}`;
  await adminQuery(`CREATE DATABASE ${dbName}`);
  const url = new URL(SERVICE_URLS.postgres);
  url.pathname = `/${dbName}`;
  return { url: url.toString(), drop: () => adminQuery(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`) };
}

export async function startExample(
  name: ExampleName,
  options: StartExampleOptions = {},
): Promise<ExampleProcess> {
  const script = mainScript(name);
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), `bulwark-sec-${name}-`));
  const db = options.database === 'postgres' ? await createDatabase() : undefined;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: '0',
    HOST: '127.0.0.1',
    CLINIC_DATA_DIR: dataDir,
    DATA_DIR: dataDir,
    NODE_ENV: 'production',
    ...(options.env ?? {}),
  };
  if (db !== undefined) env.DATABASE_URL = db.url;
  else delete env.DATABASE_URL;

  const child = spawn(process.execPath, [script], {
    cwd: dataDir,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  const exitedPromise = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      resolve();
    }),
  );

  const url = await new Promise<string>((resolve, reject) => {
    const timeout = options.startTimeoutMs ?? 60_000;
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`${name} did not start within ${timeout} ms; output:\n${out}`));
    }, timeout);
    const onData = (): void => {
      const m = /listening on (http:\/\/[^\s)]+)/.exec(out);
      if (m) {
        cleanup();
        resolve(m[1]!.replace(/\/$/, ''));
      }
    };
    const onExit = (): void => {
      cleanup();
      reject(new Error(`${name} exited before listening (${JSON.stringify(exited)}); output:\n${out}`));
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      child.off('exit', onExit);
    };
    child.stdout!.on('data', onData);
    child.once('exit', onExit);
    onData();
  }).catch(async (err: unknown) => {
    child.kill('SIGKILL');
    await exitedPromise;
    await db?.drop();
    await fs.rm(dataDir, { recursive: true, force: true });
    throw err;
  });

  let stopping: Promise<void> | undefined;
  return {
    name,
    url,
    port: Number(new URL(url).port),
    dataDir,
    ...(db !== undefined ? { databaseUrl: db.url } : {}),
    child,
    output: () => out,
    alive: () => exited === undefined,
    exit: () => exited,
    stop: () =>
      (stopping ??= (async () => {
        if (exited === undefined) {
          child.kill('SIGTERM');
          const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
          await exitedPromise;
          clearTimeout(killer);
        }
        await db?.drop();
        await fs.rm(dataDir, { recursive: true, force: true });
      })()),
  };
}

/** Resolves once the process answers `GET path` with any status (it is still serving). */
export async function stillServing(app: ExampleProcess, pathName = '/'): Promise<number> {
  if (!app.alive()) throw new Error(`${app.name} has exited: ${JSON.stringify(app.exit())}\n${app.output()}`);
  const res = await fetch(`${app.url}${pathName}`, { signal: AbortSignal.timeout(10_000) });
  await res.arrayBuffer();
  return res.status;
}
