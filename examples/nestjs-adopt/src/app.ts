import 'reflect-metadata';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import type { Bulwark } from '@bulwark/core';
import { handleClientErrors } from '@bulwark/nestjs';
import type { INestApplication, LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DataSource } from 'typeorm';
import { openBulwark, type AdoptedBulwark } from './adopt/bulwark-wiring';
import { AppModule } from './app.module';
import { AppTokens } from './auth/app-tokens';
import { appDatabase, type AdoptMode } from './databases';
import { loadSecrets } from './secrets';

export type { AdoptMode } from './databases';

export interface AdoptAppOptions {
  /** `before`: the app as found; `after`: with Bulwark adopted. */
  mode: AdoptMode;
  /** SQLite files and demo secrets. Default `examples/nestjs-adopt/data`. */
  dataDir?: string;
  /** Default 0 (a free port). */
  port?: number;
  host?: string;
  /** Nest log levels; default errors and warnings; `false` for none. */
  logger?: LogLevel[] | false;
}

export interface AdoptApp {
  readonly mode: AdoptMode;
  readonly url: string;
  readonly app: INestApplication;
  readonly server: Server;
  readonly dataSource: DataSource;
  /** Mode `after` only. */
  readonly bulwark?: Bulwark;
  close(): Promise<void>;
}

export const defaultDataDir = (): string => path.join(__dirname, '..', 'data');

export async function createAdoptApp(options: AdoptAppOptions): Promise<AdoptApp> {
  if (options.mode !== 'before' && options.mode !== 'after')
    throw new Error("mode must be 'before' or 'after'");
  const dataDir = path.resolve(options.dataDir ?? defaultDataDir());
  const secrets = await loadSecrets(dataDir);
  const after = options.mode === 'after';
  let bulwark: AdoptedBulwark | undefined;
  let app: NestExpressApplication | undefined;
  try {
    bulwark = after ? await openBulwark(dataDir, secrets) : undefined;
    app = await NestFactory.create<NestExpressApplication>(
      AppModule.register({
        mode: options.mode,
        database: appDatabase(dataDir, options.mode),
        tokens: new AppTokens(secrets.jwtSecret),
        ...(bulwark ? { bulwark: bulwark.kit } : {}),
      }),
      {
        logger: options.logger ?? ['error', 'warn'],
        // A start-up failure is thrown to the caller (and the stores closed), not process.exit(1).
        abortOnError: false,
        // After: Bulwark's input guard reads JSON bodies itself, under its size and depth limits.
        bodyParser: !after,
      },
    );
    app.disable('x-powered-by');
    if (after) handleClientErrors(app.getHttpServer());
    await app.listen(options.port ?? 0, options.host ?? '127.0.0.1');
  } catch (err) {
    await app?.close().catch(() => undefined);
    await bulwark?.close().catch(() => undefined);
    throw err;
  }
  const nest = app;
  const server = nest.getHttpServer() as Server;
  const address = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    mode: options.mode,
    url: `http://${address.address.includes(':') ? `[${address.address}]` : address.address}:${address.port}`,
    app: nest,
    server,
    dataSource: nest.get(DataSource),
    ...(bulwark ? { bulwark: bulwark.kit } : {}),
    close() {
      closing ??= (async () => {
        server.closeAllConnections();
        await nest.close();
        await bulwark?.close(); // flushes and closes the audit log, the key ring and their DataSources
      })();
      return closing;
    },
  };
}
