import { trustProxyFromEnv } from '@bulwark/core';
import { createShopApp } from './app';
import { DEMO_USERS } from './shop-service';

/**
 * `npm start`: the shop on SQLite in ./data (created on first run, demo users seeded), or on
 * PostgreSQL when DATABASE_URL is set. The demo is served over plain HTTP on localhost, so it
 * allows insecure HTTP (cookies without `Secure`) unless ALLOW_INSECURE_HTTP=false (behind HTTPS).
 */
async function main(): Promise<void> {
  const port = Number(process.env.PORT ?? 3002);
  const shop = await createShopApp({
    port,
    host: process.env.HOST ?? '127.0.0.1',
    trustProxy: trustProxyFromEnv(process.env.TRUST_PROXY),
    ...(process.env.DATA_DIR ? { dataDir: process.env.DATA_DIR } : {}),
    ...(process.env.DATABASE_URL ? { databaseUrl: process.env.DATABASE_URL } : {}),
    // Browser sessions in Redis (shared by every instance) when REDIS_URL is set, else in memory.
    ...(process.env.REDIS_URL ? { redisUrl: process.env.REDIS_URL } : {}),
    allowInsecureHttp: process.env.ALLOW_INSECURE_HTTP !== 'false',
  });
  const db = shop.databases.kind === 'postgres' ? 'PostgreSQL (DATABASE_URL)' : 'SQLite';
  const sessions = shop.sessions.store === 'redis' ? 'sessions in Redis (REDIS_URL)' : 'sessions in memory';
  console.log(`koa-shop listening on ${shop.url} (${db}, ${sessions})`);
  console.log('demo accounts (DEMO ONLY):');
  for (const u of DEMO_USERS) console.log(`  ${u.role.padEnd(8)} ${u.email} / ${u.password}`);
  console.log(
    'the demo master key and secrets are in the data folder: demo only, never do this in production',
  );

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: closing (flushing the audit log)`);
    shop.close().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(err);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
