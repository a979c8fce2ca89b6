import 'reflect-metadata';
import * as path from 'node:path';
import { DataSource } from 'typeorm';
import { Article } from './articles/article.entity';
import { hashPassword } from './auth/passwords';
import { appDatabaseFile } from './databases';
import { User } from './users/user.entity';
import type { AnyUser, SecuredUser } from './users/user.secured-entity';

/** The named demo users the API collection signs in as (DEMO passwords). */
export const SEED_USERS = [
  {
    username: 'ann',
    email: 'ann.archer@example.com',
    password: 'ann-password-1',
    bio: 'Ann writes about archery and old maps.',
  },
  {
    username: 'bob',
    email: 'Bob.Baker@example.org',
    password: 'bob-password-1',
    bio: 'Bob bakes sourdough on weekends.',
  },
  { username: 'cleo', email: 'cleo@example.net', password: 'cleo-password-1', bio: null },
] as const;

export const SEED_ARTICLES = [
  {
    slug: 'how-to-fletch-an-arrow',
    title: 'How to fletch an arrow',
    body: 'Three feathers, one glue.',
    author: 'ann',
  },
  { slug: 'maps-of-old-lisbon', title: 'Maps of old Lisbon', body: 'Before the earthquake.', author: 'ann' },
  { slug: 'starter-care', title: 'Starter care', body: 'Feed it daily.', author: 'bob' },
] as const;

/** The bulk users' e-mail and bio (the e2e checks none of them stays in clear). */
export const bulkEmail = (n: number): string => `member${String(n).padStart(5, '0')}@members.example`;
export const bulkBio = (n: number): string => `Member ${n} likes long walks, tea and tabletop games.`;

/**
 * Writes the demo rows through `ds` with the given users entity: `User` (the app as found,
 * plaintext) for the seed script; `SecuredUser` on a DataSource with Bulwark's encryption
 * registered (the benchmark's adopted server). Refuses a database that has users.
 */
export async function seedRows(
  ds: DataSource,
  entity: typeof User | typeof SecuredUser,
  options: { bulkUsers?: number; articlesPerUser?: number } = {},
): Promise<void> {
  const users = ds.getRepository<AnyUser>(entity);
  if ((await users.count()) > 0) throw new Error('the database is already seeded');
  const ids = new Map<string, number>();
  for (const u of SEED_USERS) {
    const saved = await users.save(
      users.create({
        username: u.username,
        email: u.email,
        bio: u.bio,
        passwordHash: await hashPassword(u.password),
      }),
    );
    ids.set(u.username, saved.id);
  }
  // One hash for the bulk accounts (nobody signs in as them; scrypt per row would only cost time).
  const bulkHash = await hashPassword('bulk-member-password');
  const bulk = options.bulkUsers ?? 200;
  const bulkIds: number[] = [];
  for (let start = 1; start <= bulk; start += 100) {
    const batch = [];
    for (let n = start; n < Math.min(start + 100, bulk + 1); n++) {
      batch.push(
        users.create({
          username: `member${n}`,
          email: bulkEmail(n),
          bio: bulkBio(n),
          passwordHash: bulkHash,
        }),
      );
    }
    bulkIds.push(...(await users.save(batch)).map((u) => u.id));
  }
  const articles = ds.getRepository(Article);
  for (const [i, a] of SEED_ARTICLES.entries()) {
    // Fixed, ordered times: the API collection compares list order in both modes.
    const at = new Date(Date.UTC(2026, 0, 1 + i));
    await articles.save(
      articles.create({
        slug: a.slug,
        title: a.title,
        body: a.body,
        authorId: ids.get(a.author)!,
        createdAt: at,
        updatedAt: at,
      }),
    );
  }
  // Older articles by the bulk members (the benchmark's list pages; none by default).
  const perUser = options.articlesPerUser ?? 0;
  for (const [k, authorId] of bulkIds.entries()) {
    for (let j = 0; j < perUser; j++) {
      const at = new Date(Date.UTC(2025, 0, 1, 0, 0, k * perUser + j));
      await articles.save(
        articles.create({
          slug: `member-${authorId}-note-${j}`,
          title: `Member ${authorId} note ${j}`,
          body: 'A short note.',
          authorId,
          createdAt: at,
          updatedAt: at,
        }),
      );
    }
  }
}

/** The seed script: the app's database as the app as found stored it (plaintext e-mails and bios). */
export async function seedDatabase(
  dataDir: string,
  options: { bulkUsers?: number; articlesPerUser?: number } = {},
): Promise<void> {
  const ds = new DataSource({
    type: 'better-sqlite3',
    database: appDatabaseFile(dataDir),
    entities: [User, Article],
    synchronize: true,
    logging: false,
  });
  await ds.initialize();
  try {
    await seedRows(ds, User, options);
  } finally {
    await ds.destroy();
  }
}

if (require.main === module) {
  const dataDir = process.env.DATA_DIR ?? path.join(__dirname, '..', 'data');
  const bulk = process.argv.includes('--users')
    ? Number(process.argv[process.argv.indexOf('--users') + 1])
    : undefined;
  seedDatabase(dataDir, bulk !== undefined ? { bulkUsers: bulk } : {}).then(
    () =>
      console.log(`seeded ${appDatabaseFile(dataDir)} (plaintext e-mails and bios, as the app stored them)`),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
