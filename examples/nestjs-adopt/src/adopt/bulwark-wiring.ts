import * as path from 'node:path';
import { createBulwark, type Bulwark, type TokenClaims } from '@bulwark/core';
import type { BulwarkModuleOptions, HttpPrincipal } from '@bulwark/nestjs';
import {
  BulwarkKeyTables1735689700000,
  bulwarkKeyEntities,
  createAuditDataSource,
  TypeOrmAuditStore,
  TypeOrmKeyStore,
} from '@bulwark/typeorm';
import { DataSource } from 'typeorm';
import { articlePolicy } from '../policy';
import type { AppSecrets } from '../secrets';

/** The key that encrypts users' e-mails and bios (SecuredUser). */
export const USERS_KEY_ID = 'users';

/**
 * The app's tokens carry `{ id, username, iat, exp }` and no `sub`: Bulwark's default principal
 * (`sub` as the id) does not fit, so the adoption maps the claims itself. Every signed-in user
 * gets the role `user` (the app has no roles); the id becomes a string, as principals' ids are.
 */
export function appPrincipal(claims: TokenClaims): HttpPrincipal {
  return Object.freeze({ id: String(claims.id), roles: Object.freeze(['user']), type: 'user', claims });
}

/**
 * Bulwark's stores get their own SQLite files beside the app's: `bulwark.sqlite` (wrapped data
 * keys) and `audit.sqlite` (the audit chain). The audit store must not share the app's file: an
 * append takes SQLite's write lock, and TypeORM runs a SQLite DataSource's queries on one
 * connection, so an app transaction and an audit append on one file wait on each other.
 */
export async function openKeyDatabase(dataDir: string): Promise<DataSource> {
  const keys = new DataSource({
    type: 'better-sqlite3',
    database: path.join(dataDir, 'bulwark.sqlite'),
    entities: [...bulwarkKeyEntities],
    migrations: [BulwarkKeyTables1735689700000],
    migrationsTableName: 'bulwark_store_migrations',
    synchronize: false,
    logging: false,
  });
  await keys.initialize();
  try {
    await keys.runMigrations({ transaction: 'all' });
  } catch (err) {
    await keys.destroy();
    throw err;
  }
  return keys;
}

export interface AdoptedBulwark {
  readonly kit: Bulwark;
  readonly keys: DataSource;
  close(): Promise<void>;
}

/**
 * Bulwark's services for the adopted app: the key ring (key `users`), a token service that
 * verifies the app's OWN tokens (HS256 with the app's secret; `requiredClaims` without `sub`),
 * the audit log, and the article policy. `audit: false` (the migration script) opens keys only.
 */
export async function openBulwark(
  dataDir: string,
  secrets: AppSecrets,
  options: { audit?: boolean } = {},
): Promise<AdoptedBulwark> {
  const keys = await openKeyDatabase(dataDir);
  try {
    const kit = await createBulwark({
      // A demo (see docs/asvs.md for what the production preset requires of a deployment).
      production: false,
      keys: { masterKey: secrets.masterKey, store: new TypeOrmKeyStore(keys), ensure: [USERS_KEY_ID] },
      tokens: {
        algorithms: ['HS256'],
        verification: { key: secrets.jwtSecret },
        requiredClaims: ['exp', 'iat', 'id'],
      },
      ...(options.audit === false
        ? {}
        : {
            audit: {
              store: await TypeOrmAuditStore.open(
                await createAuditDataSource({ url: path.join(dataDir, 'audit.sqlite') }),
                { destroyDataSourceOnClose: true },
              ),
              hmacKey: secrets.auditHmacKey,
              // Group commit over 20 ms: SQLite fsyncs every commit (synchronous = FULL). The
              // store commits on its writer thread, off the event loop, but every commit still
              // costs a fixed amount of CPU; fewer, larger commits leave more of it to the app.
              // Events wait up to 20 ms to be durable.
              commitWindowMs: 20,
            },
          }),
      authz: { policy: articlePolicy },
    });
    return {
      kit,
      keys,
      async close() {
        await kit.close();
        if (keys.isInitialized) await keys.destroy();
      },
    };
  } catch (err) {
    await keys.destroy().catch(() => undefined);
    throw err;
  }
}

/** BulwarkModule.forRoot options of the adopted app. */
export function bulwarkModuleOptions(kit: Bulwark): BulwarkModuleOptions {
  return {
    tokens: kit.tokens!,
    authorizer: kit.authorizer!,
    auditLog: kit.auditLog!,
    authentication: {
      // The app's clients send `Authorization: Token <jwt>` (RealWorld convention), not Bearer.
      schemes: ['Token'],
      principal: appPrincipal,
    },
    typeorm: { keyRing: kit.keyRing!, defaultKeyId: USERS_KEY_ID },
    // Tokens in the Authorization header, no cookies: nothing for a cross-site form to ride on.
    csrf: false,
  };
}
