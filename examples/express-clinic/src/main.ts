import { trustProxyFromEnv } from '@bulwark/core';
import { createClinicApp, DEMO_USERS } from './app';

/**
 * `npm start` in this folder: the clinic on SQLite in ./clinic-data (or PostgreSQL when
 * DATABASE_URL is set), on PORT (default 3000).
 */
async function main(): Promise<void> {
  const port = Number(process.env.PORT ?? 3000);
  const clinic = await createClinicApp({
    dataDir: process.env.CLINIC_DATA_DIR ?? 'clinic-data',
    port: Number.isInteger(port) && port >= 0 ? port : 3000,
    host: process.env.HOST ?? '127.0.0.1',
    trustProxy: trustProxyFromEnv(process.env.TRUST_PROXY),
  });
  const out = (line = ''): void => void process.stdout.write(`${line}\n`);
  out(`Bulwark express-clinic listening on ${clinic.url}`);
  out(`  database:  ${clinic.database.kind} (${clinic.database.where})`);
  out(`  data dir:  ${clinic.files.dir}`);
  if (clinic.generatedSecrets.length > 0) {
    out(`  generated DEMO-ONLY secrets: ${clinic.generatedSecrets.join(', ')} (see README.txt there)`);
  }
  out();
  out('Demo logins (username / password):');
  for (const u of DEMO_USERS) out(`  ${u.role.padEnd(16)} ${u.username.padEnd(14)} ${u.password}`);
  out();
  out('Try:');
  out(`  curl -s ${clinic.url}/auth/login -H 'content-type: application/json' \\`);
  out(`       -d '{"username":"dr.grey","password":"grey-demo-password"}'`);
  out(`  curl -s ${clinic.url}/patients -H "authorization: Bearer $TOKEN"`);
  out(`  endpoints: ${clinic.url}/`);

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    out(`\n${signal}: closing (audit events are flushed first)...`);
    clinic.close().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`close failed: ${(err as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}

main().catch((err: unknown) => {
  process.stderr.write(`express-clinic failed to start: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
