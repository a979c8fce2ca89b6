import * as path from 'node:path';
import type { TypeOrmModuleOptions } from '@nestjs/typeorm';
import { Article } from './articles/article.entity';
import { User } from './users/user.entity';
import { SecuredUser } from './users/user.secured-entity';

export type AdoptMode = 'before' | 'after';

/** The app's SQLite file (`app.sqlite`): the same file in both modes. */
export const appDatabaseFile = (dataDir: string): string => path.join(dataDir, 'app.sqlite');

/** The users entity of a mode: the table as found, or with Bulwark's encrypted columns. */
export const userEntityOf = (mode: AdoptMode): typeof User | typeof SecuredUser =>
  mode === 'before' ? User : SecuredUser;

/**
 * The app's own TypeORM options. `synchronize` as the app had it (a demo; a production app runs a
 * migration: adding `emailIndex`, widening `email` to text and dropping its UNIQUE constraint is
 * the schema side of the adoption). Rollback journal, not WAL: the plaintext check of the e2e
 * reads the one database file. `secure_delete` overwrites freed pages, so the rows rewritten by
 * the encryption migration leave no plaintext behind in free pages. After adopting, TypeORM
 * builds loaded entities without running their constructors (`entitySkipConstructor`): the
 * entities are compiled with class fields (target ES2022), and a lazy encrypted field on an object
 * whose constructor already defined it would make every loaded user a slow object (Bulwark warns,
 * BULWARK_LAZY_FIELD_CLASS_FIELD). The entities have no constructor logic to lose.
 */
export function appDatabase(dataDir: string, mode: AdoptMode): TypeOrmModuleOptions {
  return {
    type: 'better-sqlite3',
    database: appDatabaseFile(dataDir),
    entities: [userEntityOf(mode), Article],
    synchronize: true,
    logging: false,
    retryAttempts: 0,
    ...(mode === 'after' ? { entitySkipConstructor: true } : {}),
    prepareDatabase: (db: { pragma(sql: string): unknown }) => {
      db.pragma('secure_delete = ON');
    },
  };
}
