import type {
  BreachIncident,
  LegalHold,
  RetentionRun,
  BulwarkStores,
  Processor,
  ProcessingActivity,
  RetentionHold,
  RetentionRule,
} from '@bulwark/core';
import { BulwarkConfigError, ErrorCodes } from '@bulwark/core';
import type { DataSource } from 'typeorm';
import { bulwarkConsentEntities } from './consent-entities';
import { bulwarkKeyEntities } from './key-store-entities';
import { BulwarkKeyTables1735689700000 } from './migrations/bulwark-key-tables-1735689700000';
import { BulwarkConsentTables1735689800000 } from './migrations/consent-tables-1735689800000';
import { BulwarkRegisterTables1735689900000 } from './migrations/register-tables-1735689900000';
import { BulwarkAttestationTables1735690400000 } from './migrations/attestation-tables-1735690400000';
import { BulwarkRegisterKinds1735690500000 } from './migrations/register-kinds-1735690500000';
import { TypeOrmAttestationStore } from './typeorm-attestation-store';
import { BulwarkMfaFactorTables1736100000000 } from './migrations/mfa-factor-tables-1736100000000';
import { BulwarkSessionTables1735690100000 } from './migrations/session-tables-1735690100000';
import { BulwarkAccountTables1735690200000 } from './migrations/account-tables-1735690200000';
import { dialectOf } from './sql-dialect';
import { TypeOrmBreakGlassStore } from './typeorm-break-glass-store';
import { TypeOrmConsentStore } from './typeorm-consent-store';
import { TypeOrmDsrStore } from './typeorm-dsr-store';
import { TypeOrmKeyStore } from './typeorm-key-store';
import { TypeOrmMfaStore } from './typeorm-mfa-store';
import { TypeOrmRegisterStore } from './typeorm-register-store';
import { TypeOrmRevocationStore } from './typeorm-revocation-store';
import { BulwarkRevocationTables1735690300000 } from './migrations/revocation-tables-1735690300000';

/** Every store `bulwarkStores` returns (each set). */
export type TypeOrmBulwarkStores = Required<BulwarkStores>;

/**
 * Every Bulwark store over one application DataSource (SQLite through better-sqlite3, or
 * PostgreSQL), for `createBulwark({ ..., stores: bulwarkStores(dataSource) })`: keys, consent,
 * data-subject requests, MFA enrolments, break-glass grants, the privacy registers, the
 * audit log's legal holds, the retention runs, the compliance attestations and token
 * revocations. Instances
 * sharing the database share all of them; every write is concurrency-safe (conditional inserts and
 * version-checked updates). Register `bulwarkStoreEntities` in the DataSource's `entities` and run
 * `bulwarkStoreMigrations`. The DataSource stays the application's (no store closes it); the
 * audit log has its own store (TypeOrmAuditStore).
 */
export function bulwarkStores(dataSource: DataSource): TypeOrmBulwarkStores {
  dialectOf(dataSource); // refuses other drivers now, not at the first write
  // The key store reads through these entities: missing ones would fail at the first key, later.
  const missing = bulwarkStoreEntities
    .map((e) => e.options.name)
    .filter((name) => dataSource.isInitialized && !dataSource.hasMetadata(name));
  if (missing.length > 0) {
    throw new BulwarkConfigError(
      ErrorCodes.CONFIG_INVALID,
      `the DataSource lacks Bulwark's entities (${missing.join(', ')}): add bulwarkStoreEntities to its entities`,
      { path: 'stores.dataSource.entities' },
    );
  }
  return {
    keys: new TypeOrmKeyStore(dataSource),
    consent: new TypeOrmConsentStore(dataSource),
    dsr: new TypeOrmDsrStore(dataSource),
    mfa: new TypeOrmMfaStore(dataSource),
    breakGlass: new TypeOrmBreakGlassStore(dataSource),
    breaches: new TypeOrmRegisterStore<BreachIncident>(dataSource, 'breach'),
    processors: new TypeOrmRegisterStore<Processor>(dataSource, 'processor'),
    processing: new TypeOrmRegisterStore<ProcessingActivity>(dataSource, 'processing-activity'),
    retentionRules: new TypeOrmRegisterStore<RetentionRule>(dataSource, 'retention-rule'),
    legalHolds: new TypeOrmRegisterStore<RetentionHold>(dataSource, 'legal-hold'),
    auditLegalHolds: new TypeOrmRegisterStore<LegalHold>(dataSource, 'audit-legal-hold'),
    retentionRuns: new TypeOrmRegisterStore<RetentionRun>(dataSource, 'retention-run'),
    attestations: new TypeOrmAttestationStore(dataSource),
    revocation: new TypeOrmRevocationStore(dataSource),
  };
}

/** The entities the stores need registered in the DataSource (`entities: [...yours, ...bulwarkStoreEntities]`). */
export const bulwarkStoreEntities = [...bulwarkKeyEntities, ...bulwarkConsentEntities];

/** The migrations of every table `bulwarkStores` uses (add after `bulwarkMigrations` for the audit log). */
export const bulwarkStoreMigrations = [
  BulwarkKeyTables1735689700000,
  BulwarkConsentTables1735689800000,
  BulwarkRegisterTables1735689900000,
  BulwarkSessionTables1735690100000,
  BulwarkAccountTables1735690200000,
  BulwarkRevocationTables1735690300000,
  BulwarkAttestationTables1735690400000,
  BulwarkRegisterKinds1735690500000,
  // Tables of TypeOrmWebAuthnStore and TypeOrmOtpStore (built on their own: `new TypeOrmOtpStore(dataSource)`).
  BulwarkMfaFactorTables1736100000000,
];
