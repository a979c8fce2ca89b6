import { trustProxyFromEnv } from '@bulwark/core';
import { createHrApp } from './app';
import { DEMO_EMPLOYEES } from './employee-directory';
import { hrOidcFromEnv } from './oidc-sign-in';

/**
 * `npm start`: the HR app on SQLite in ./data (created on first run, demo employees seeded), or
 * on PostgreSQL when DATABASE_URL is set.
 */
async function main(): Promise<void> {
  const port = Number(process.env.PORT ?? 3001);
  const host = process.env.HOST ?? '127.0.0.1';
  const oidc = hrOidcFromEnv(process.env, `http://${host}:${port}`);
  const hr = await createHrApp({
    port,
    host,
    ...(oidc !== undefined ? { oidc } : {}),
    trustProxy: trustProxyFromEnv(process.env.TRUST_PROXY),
    ...(process.env.DATA_DIR ? { dataDir: process.env.DATA_DIR } : {}),
    ...(process.env.DATABASE_URL ? { databaseUrl: process.env.DATABASE_URL } : {}),
    // Staff sign-in through LDAP (ldap/start-slapd.sh runs a demo directory on 3389).
    ...(process.env.LDAP_URL
      ? {
          ldap: {
            url: process.env.LDAP_URL,
            ...(process.env.LDAP_BIND_DN ? { bindDn: process.env.LDAP_BIND_DN } : {}),
            ...(process.env.LDAP_BIND_PASSWORD ? { bindPassword: process.env.LDAP_BIND_PASSWORD } : {}),
            ...(process.env.LDAP_SEARCH_BASE ? { searchBase: process.env.LDAP_SEARCH_BASE } : {}),
          },
        }
      : {}),
  });
  if (oidc !== undefined) console.log(`staff sign-in: ${hr.url}/auth/oidc/login (issuer ${oidc.issuer})`);
  const db = hr.databases.kind === 'postgres' ? 'PostgreSQL (DATABASE_URL)' : 'SQLite';
  console.log(`nestjs-hr listening on ${hr.url} (${db})`);
  if (process.env.LDAP_URL)
    console.log(`staff LDAP sign-in: POST ${hr.url}/auth/ldap/login (${process.env.LDAP_URL})`);
  console.log('demo accounts (DEMO ONLY):');
  for (const e of DEMO_EMPLOYEES) console.log(`  ${e.id} ${e.role.padEnd(9)} ${e.email} / ${e.password}`);
  console.log(
    'the demo master key and secrets are in the data folder: demo only, never do this in production',
  );

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: closing (flushing the audit log)`);
    hr.close().then(
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
