import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { Article } from './articles/article.entity';
import { hashPassword } from './auth/passwords';
import { appDatabaseFile } from './databases';
import { User } from './users/user.entity';

/** The named demo users the API collection signs in as (DEMO passwords). */
export const SEED_USERS = [
  { username: 'ann', email: 'ann.archer@example.com', password: 'ann-password-1', bio: 'Ann writes about archery and old maps.' },
  { username: 'bob', email: 'Bob.Baker@example.org', password: 'bob-password-1', bio: 'Bob bakes sourdough on weekends.' },
  { username: 'cleo', email: 'cleo@example.net', password: 'cleo-password-1', bio: null },
] as const;

export const SEED_ARTICLES = [
  { slug: 'how-to-fletch-an-arrow', title: 'How to fletch an arrow', body: 'Three feathers, one glue.', author: 'ann' },
  { slug: 'maps-of-old-lisbon', title: 'Maps of old Lisbon', body: 'Before the earthquake.', author: 'ann' },
  { slug: 'starter-care', title: 'Starter care', body: 'Feed it daily.', author: 'bob' },
] as const;

/** The bulk users' e-mail and bio (the e2e checks none of them stays in clear). */
export const bulkEmail = (n: number): string => `member${String(n).padStart(5, '0')}@members.example`;
export const bulkBio = (n: number): string => `Member ${n} likes long walks, tea and tabletop games.`;

/**
 * Populates the app's database the way the app as found stored it: plaintext e-mails and bios
 * (the named demo users, `bulkUsers` more, and a few articles). Refuses a database that has users.
 */
export async function seedDatabase(dataDir: string, options: { bulkUsers?: number } = {}): Promise<void> {
  const ds = new DataSource({
    type: 'better-sqlite3',
    database: appDatabaseFile(dataDir),
    entities: [User, Article],
    synchronize: true,
    logging: false,
  });
  await ds.initialize();
  try {
    const users = ds.getRepository(User);
    if ((await users.count()) > 0) throw new Error(`${appDatabaseFile(dataDir)} is already seeded`);
    const ids = new Map<string, number>();
    for (const u of SEED_USERS) {
      const saved = await users.save(
        users.create({ username: u.username, email: u.email, bio: u.bio, passwordHash: await hashPassword(u.password) }),
      );
      ids.set(u.username, saved.id);
    }
    // One hash for the bulk accounts (nobody signs in as them; scrypt per row would only cost time).
    const bulkHash = await hashPassword('bulk-member-password');
    const bulk = options.bulkUsers ?? 200;
    for (let start = 1; start <= bulk; start += 100) {
      const batch = [];
      for (let n = start; n < Math.min(start + 100, bulk + 1); n++) {
        batch.push(users.create({ username: `member${n}`, email: bulkEmail(n), bio: bulkBio(n), passwordHash: bulkHash }));
      }
      await users.save(batch);
    }
    const articles = ds.getRepository(Article);
    for (const [i, a] of SEED_ARTICLES.entries()) {
      // Fixed, ordered times: the API collection compares list order in both modes.
      const at = new Date(Date.UTC(2026, 0, 1 + i));
      await articles.save(
        articles.create({ slug: a.slug, title: a.title, body: a.body, authorId: ids.get(a.author)!, createdAt: at, updatedAt: at }),
      );
    }
  } finally {
    await ds.destroy();
  }
}

if (require.main === module) {
  const dataDir = process.env.DATA_DIR ?? require('node:path').join(__dirname, '..', 'data');
  const bulk = process.argv.includes('--users') ? Number(process.argv[process.argv.indexOf('--users') + 1]) : undefined;
  seedDatabase(dataDir, bulk !== undefined ? { bulkUsers: bulk } : {}).then(
    () => console.log(`seeded ${appDatabaseFile(dataDir)} (plaintext e-mails and bios, as the app stored them)`),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
