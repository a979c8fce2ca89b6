import * as path from 'node:path';
import { BulwarkError, ErrorCodes, type KeyRing, type RewrapReport, type TotpFactor } from '@bulwark/core';
import {
  activeEncryption,
  migrateBlindIndexes,
  registerBulwarkEncryption,
  rewrapEntities,
  type MigrateBlindIndexesReport,
  type RewrapEntitiesReport,
} from '@bulwark/typeorm';
import type { DataSource } from 'typeorm';
import { ExitCode, UsageError, type CliIo } from './cli-io';
import { closeConfig, loadConfigModule } from './config-module';

/** What the `keys rewrap --config` module returns. */
export interface RewrapConfig {
  dataSource: DataSource;
  keyRing: KeyRing;
  /** Entity classes to re-encrypt (default: every entity with an @EncryptedField). */
  entities?: NonNullable<Parameters<typeof rewrapEntities>[2]>['entities'];
  /** TOTP factor whose stored secrets to re-encrypt too (TotpFactor.rewrapSecrets). */
  totp?: TotpFactor;
  close?(): unknown;
}

/**
 * Moves `followKeyRotation` blind indexes to the primary key version (migrateBlindIndexes), which
 * reads rows through the repositories. The config module normally registered its DataSource
 * already: that registration (with the app's `defaultKeyId`) is used as it is. Otherwise the
 * DataSource is registered for the run with the `defaultKeyId` of whatever was active.
 */
async function migrateIndexes(
  config: RewrapConfig,
  batchSize: number | undefined,
): Promise<MigrateBlindIndexesReport> {
  const active = activeEncryption();
  const registration =
    active?.dataSource === config.dataSource && active.keyRing === config.keyRing
      ? undefined
      : await registerBulwarkEncryption(config.dataSource, {
          keyRing: config.keyRing,
          createKeys: false,
          ...(active === undefined ? {} : { defaultKeyId: active.defaultKeyId }),
        });
  try {
    return await migrateBlindIndexes(config.dataSource, config.keyRing, {
      ...(config.entities === undefined ? {} : { entities: config.entities }),
      ...(batchSize === undefined ? {} : { batchSize }),
    });
  } finally {
    registration?.unregister();
  }
}

function isRewrapConfig(value: unknown): value is RewrapConfig {
  const v = value as Partial<RewrapConfig> | null;
  return (
    v !== null &&
    typeof v === 'object' &&
    typeof (v.dataSource as { createQueryBuilder?: unknown } | undefined)?.createQueryBuilder ===
      'function' &&
    typeof v.keyRing?.reencrypt === 'function' &&
    (v.entities === undefined || Array.isArray(v.entities)) &&
    (v.totp === undefined || typeof v.totp?.rewrapSecrets === 'function')
  );
}

/**
 * `bulwark keys rewrap --config FILE`: re-encrypts every @EncryptedField value (and, when the
 * config gives `totp`, every TOTP secret) under its key's primary version. Exit 0 when nothing
 * failed, 1 when some values failed (listed, left as they were), 3 when the run broke off (the
 * last cursor is printed for --resume).
 */
export async function keysRewrap(
  values: { config?: string; resume?: string; 'batch-size'?: string; json?: boolean },
  io: CliIo,
  hint: string,
): Promise<number> {
  if (values.config === undefined) {
    throw new UsageError(
      '--config is required: a module that returns { dataSource, keyRing, entities?, totp? }',
      hint,
    );
  }
  let batchSize: number | undefined;
  if (values['batch-size'] !== undefined) {
    batchSize = /^[0-9]+$/.test(values['batch-size']) ? Number(values['batch-size']) : NaN;
    if (!Number.isSafeInteger(batchSize) || batchSize < 1 || batchSize > 100_000) {
      throw new UsageError(
        `--batch-size must be an integer from 1 to 100000, got "${values['batch-size']}"`,
        hint,
      );
    }
  }
  const file = path.resolve(io.cwd, values.config);
  const config = await loadConfigModule(file, io, hint, 'createRewrapConfig');
  try {
    if (!isRewrapConfig(config)) {
      throw new UsageError(
        `--config ${values.config} must return { dataSource, keyRing, entities?, totp? } (a TypeORM DataSource and a KeyRing)`,
        hint,
      );
    }
    if (!config.dataSource.isInitialized) await config.dataSource.initialize();
    await config.keyRing.refresh();
    let cursor: string | undefined = values.resume;
    let entities: RewrapEntitiesReport;
    try {
      entities = await rewrapEntities(config.dataSource, config.keyRing, {
        ...(config.entities === undefined ? {} : { entities: config.entities }),
        ...(batchSize === undefined ? {} : { batchSize }),
        ...(values.resume === undefined ? {} : { resumeFrom: values.resume }),
        onProgress: (p) => (cursor = p.cursor ?? cursor),
      });
    } catch (error) {
      if (
        error instanceof UsageError ||
        (error instanceof BulwarkError && error.code === ErrorCodes.CONFIG_INVALID)
      ) {
        throw error;
      }
      io.stderr(
        `bulwark keys: rewrap broke off: ${(error as Error)?.message ?? String(error)}` +
          (error instanceof BulwarkError ? ` [${error.code}]` : '') +
          '\n' +
          (cursor === undefined
            ? 'Run the same command again (values already re-encrypted are skipped).\n'
            : `Run it again with --resume '${cursor}' to continue (or without: done values are skipped).\n`),
      );
      return ExitCode.ERROR;
    }
    const indexes = await migrateIndexes(config, batchSize);
    const totp: RewrapReport | undefined = config.totp ? await config.totp.rewrapSecrets() : undefined;
    const failed = entities.failed.length + indexes.failed.length + (totp?.failed.length ?? 0);
    if (values.json) {
      io.stdout(
        JSON.stringify(
          { entities, blindIndexes: indexes, ...(totp === undefined ? {} : { totp }) },
          null,
          2,
        ) + '\n',
      );
    } else {
      io.stdout(
        `entities: ${entities.processed} value(s) read, ${entities.rewrapped} re-encrypted, ` +
          `${entities.skipped} already at the primary version, ${entities.failed.length} failed\n`,
      );
      for (const f of entities.failed) io.stdout(`  FAILED ${f.entity}.${f.column} ${f.id}: ${f.code}\n`);
      if (indexes.processed > 0 || indexes.failed.length > 0) {
        io.stdout(
          `blind indexes (followKeyRotation): ${indexes.processed} row(s) read, ${indexes.migrated} moved to the primary key version, ${indexes.failed.length} failed\n`,
        );
      }
      for (const f of indexes.failed) io.stdout(`  FAILED blind index of ${f.entity} ${f.id}: ${f.code}\n`);
      if (totp !== undefined) {
        io.stdout(
          `TOTP secrets: ${totp.processed} read, ${totp.rewrapped} re-encrypted, ${totp.skipped} already current, ` +
            `${totp.failed.length} failed\n`,
        );
        for (const f of totp.failed) io.stdout(`  FAILED TOTP secret of user ${f.id}: ${f.code}\n`);
      }
      io.stdout(
        failed === 0
          ? 'done: older key versions can now be retired (bulwark keys retire <keyId> --min-version N)\n'
          : 'NOT done: do not retire older key versions until the failures above are resolved\n',
      );
    }
    return failed === 0 ? ExitCode.OK : ExitCode.CHECK_FAILED;
  } finally {
    if (typeof (config as { close?: unknown } | null)?.close === 'function') await closeConfig(config);
    else if (isRewrapConfig(config)) {
      await config.keyRing.close().catch(() => undefined);
      if (config.dataSource.isInitialized) await config.dataSource.destroy().catch(() => undefined);
    }
  }
}
