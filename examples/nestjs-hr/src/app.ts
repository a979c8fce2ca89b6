import 'reflect-metadata';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { createBulwark, type Bulwark } from '@bulwark/core';
import {
  registerBulwarkAudit,
  TypeOrmAuditStore,
  TypeOrmConsentStore,
  TypeOrmKeyStore,
} from '@bulwark/typeorm';
import type { INestApplication, LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DataSource } from 'typeorm';
import { openDatabases, type HrDatabases } from './databases';
import { loadDemoSecrets } from './demo-secrets';
import { EmployeeDirectory } from './employee-directory';
import { Employee } from './entities/employee';
import { SurveyResponse } from './entities/survey-response';
import { hrPolicy, wellbeingPurpose } from './hr-policy';
import { handleClientErrors, type TrustProxyOption } from '@bulwark/nestjs';
import { HrModule } from './hr.module';
import type { HrOidcOptions } from './oidc-sign-in';
import { hrLdapSignIn, type HrLdapOptions } from './ldap-sign-in';

export interface HrAppOptions {
  /** Where SQLite files and the demo secrets live. Default `examples/nestjs-hr/data`. */
  dataDir?: string;
  /** `postgres://...` to run on PostgreSQL (the demo secrets still live in `dataDir`). */
  databaseUrl?: string;
  /** Default 0 (any free port); `src/main.ts` passes PORT or 3001. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Nest log levels; default errors and warnings. `false` for none. */
  logger?: LogLevel[] | false;
  /** Reverse proxies trusted for X-Forwarded-For (docs/reverse-proxy.md); env TRUST_PROXY in `npm start`. */
  trustProxy?: TrustProxyOption;
  /** Staff sign-in through an OpenID provider (src/oidc-sign-in.ts); env OIDC_ISSUER... in `npm start`. */
  oidc?: HrOidcOptions;
  /** Staff sign-in through LDAP (`POST /auth/ldap/login`); env LDAP_URL in `npm start`. */
  ldap?: HrLdapOptions;
}

export interface HrApp {
  readonly url: string;
  readonly app: INestApplication;
  readonly server: Server;
  readonly bulwark: Bulwark;
  readonly databases: HrDatabases;
  /** The app's own DataSource (from @nestjs/typeorm). */
  readonly dataSource: DataSource;
  close(): Promise<void>;
}

export const ISSUER = 'bulwark-nestjs-hr';

/**
 * Starts the HR app: Bulwark services first (keys, audit, policy, consent on their own
 * DataSources), then Nest with BulwarkModule, then the demo data on first run, then `listen`.
 */
export async function createHrApp(options: HrAppOptions = {}): Promise<HrApp> {
  const dataDir = path.resolve(options.dataDir ?? path.join(__dirname, '..', 'data'));
  const secrets = await loadDemoSecrets(dataDir);
  const databases = await openDatabases({
    dataDir,
    ...(options.databaseUrl !== undefined ? { databaseUrl: options.databaseUrl } : {}),
    entities: [Employee, SurveyResponse],
  });

  let kit: Bulwark | undefined;
  let app: NestExpressApplication | undefined;
  let ldap: ReturnType<typeof hrLdapSignIn> | undefined;
  try {
    kit = await createBulwark({
      // A demo: some registers live in memory (see docs/asvs.md for what the production preset,
      // on under NODE_ENV=production, requires of a real deployment).
      production: false,
      keys: { masterKey: secrets.masterKey, store: new TypeOrmKeyStore(databases.keys), ensure: ['hr'] },
      tokens: {
        algorithms: ['HS256'],
        signingKey: { key: secrets.jwtSecret },
        issuer: ISSUER,
        audience: ISSUER,
      },
      audit: {
        store: await TypeOrmAuditStore.open(databases.audit, { destroyDataSourceOnClose: true }),
        hmacKey: secrets.auditHmacKey,
        // Signed checkpoints every 1000 entries or every minute (whichever comes first): deleting
        // the newest audit rows, head row included, is then caught by verify.
        checkpoint: {
          signingKey: { file: secrets.auditCheckpointKeyFile },
          store: { file: secrets.auditCheckpointsFile },
          every: { entries: 1000, ms: 60_000 },
        },
      },
      authz: { policy: hrPolicy },
      privacy: {
        consent: { store: new TypeOrmConsentStore(databases.keys), purposes: [wellbeingPurpose] },
      },
      threat: { bruteForce: {} },
    });
    // BulwarkModule's middleware sends the security headers and runs the input guard on every
    // request. Nest's own body parser is off so that the guard reads JSON bodies itself, under its
    // limits (inputGuard.maxBodyBytes), and stops reading an oversize body at once.
    if (options.ldap !== undefined) {
      // The provisioning hook looks employees up through the app's directory, once Nest made it.
      ldap = hrLdapSignIn(kit, () => app!.get(EmployeeDirectory), options.ldap);
    }
    app = await NestFactory.create<NestExpressApplication>(
      HrModule.register(kit, databases.app, options.trustProxy, options.oidc, ldap?.module),
      {
        logger: options.logger ?? ['error', 'warn'],
        bodyParser: false,
      },
    );
    app.disable('x-powered-by');
    await app.init();
  } catch (err) {
    await app?.close().catch(() => undefined);
    await ldap?.authenticator.close().catch(() => undefined);
    await kit?.close().catch(() => undefined);
    if (kit === undefined) await databases.audit.destroy().catch(() => undefined);
    await databases.keys.destroy().catch(() => undefined);
    throw err;
  }
  const bw = kit;
  const nest = app;

  const dataSource = nest.get(DataSource);
  // Entity changes (salary raised, employee created) as audit events, after BulwarkModule's
  // encryption subscriber: encrypted fields are recorded as `[ENCRYPTED]` with `changed`.
  const entityAudit = registerBulwarkAudit(dataSource, { auditLog: bw.auditLog! });
  try {
    await nest.get(EmployeeDirectory).seed();
    // Oversized headers (431) and unparsable requests (400) answer problem+json too.
    handleClientErrors(nest.getHttpServer());
    await nest.listen(options.port ?? 0, options.host ?? '127.0.0.1');
  } catch (err) {
    await nest.close().catch(() => undefined);
    await ldap?.authenticator.close().catch(() => undefined);
    await bw.close().catch(() => undefined);
    await databases.keys.destroy().catch(() => undefined);
    throw err;
  }
  const server = nest.getHttpServer() as Server;
  const address = server.address() as AddressInfo;

  let closing: Promise<void> | undefined;
  return {
    url: `http://${address.address.includes(':') ? `[${address.address}]` : address.address}:${address.port}`,
    app: nest,
    server,
    bulwark: bw,
    databases,
    dataSource,
    close() {
      closing ??= (async () => {
        server.closeAllConnections();
        await nest.close(); // stops the server, unregisters encryption, destroys the app DataSource
        entityAudit.unregister();
        await ldap?.authenticator.close();
        await bw.close(); // flushes and closes the audit log (and its DataSource), the key ring, the stores
        if (databases.keys.isInitialized) await databases.keys.destroy();
      })();
      return closing;
    },
  };
}
