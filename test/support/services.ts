/**
 * Real services for integration suites (PostgreSQL, Redis, NATS). The jest global setup
 * (`global-setup.js`) probes them once per run and records what it found in the environment;
 * suites then choose `describe` or `describe.skip` synchronously:
 *
 *   describeWithService('postgres', 'TypeORM audit store on PostgreSQL', () => { ... });
 *
 * Outside CI a missing service skips the suite with a one-line reason. With CI=true a missing
 * service is a failure, not a skip.
 */
export type ServiceName = 'postgres' | 'redis' | 'nats' | 'mariadb';

export const SERVICE_URLS: Record<ServiceName, string> = {
  postgres: process.env.POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
  redis: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  nats: process.env.NATS_URL ?? 'nats://127.0.0.1:4222',
  mariadb: process.env.MARIADB_URL ?? 'mysql://root@127.0.0.1:3306/test',
};

export function serviceAvailable(name: ServiceName): boolean {
  return process.env[`BULWARK_TEST_${name.toUpperCase()}`] === 'up';
}

const warned = new Set<string>();

export function describeWithService(name: ServiceName, title: string, body: () => void): void {
  if (serviceAvailable(name)) {
    describe(title, body);
    return;
  }
  const reason = `${name} is not reachable at ${SERVICE_URLS[name]}`;
  if (process.env.CI === 'true') {
    describe(title, () => {
      it(`needs ${name}`, () => {
        throw new Error(`${reason}; with CI=true a missing service is a failure (start it, see .ci/run)`);
      });
    });
    return;
  }
  if (!warned.has(title)) {
    warned.add(title);
    console.warn(`skipped "${title}": ${reason} (set CI=true to make this a failure)`);
  }
  describe.skip(title, body);
}
