import { promises as fs } from 'node:fs';
import { ComplianceKit, ComplianceSigner } from '@bulwark/core';
import { UsageError, type CliIo } from './cli-io';

export type JWK = Parameters<typeof ComplianceSigner.fromJWK>[1];

/**
 * Loads a ComplianceKit from a CommonJS module exporting a function (default export, or named
 * createComplianceKit) that returns, or resolves to, the kit; it is called with { env, cwd }.
 */
export async function loadKit(file: string, io: CliIo, hint: string): Promise<ComplianceKit> {
  try {
    await fs.access(file);
  } catch {
    throw new UsageError(`--config ${file} does not exist`, hint);
  }
  let mod: unknown;
  try {
    mod = require(file);
  } catch (err) {
    throw new UsageError(`--config ${file} could not be loaded: ${(err as Error).message}`);
  }
  const m = mod as Record<string, unknown> | ((...a: unknown[]) => unknown);
  const factory =
    typeof m === 'function'
      ? m
      : typeof m?.default === 'function'
        ? m.default
        : typeof m?.createComplianceKit === 'function'
          ? m.createComplianceKit
          : undefined;
  const value = factory
    ? await (factory as (ctx: object) => unknown)({ env: io.env, cwd: io.cwd })
    : ((m as Record<string, unknown>)?.default ?? m);
  if (value instanceof ComplianceKit) return value;
  if (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as ComplianceKit).collectEvidence === 'function'
  ) {
    // A kit from another copy of the package (e.g. a nested node_modules): use it through its API.
    return value as ComplianceKit;
  }
  throw new UsageError(`--config ${file} must export a function returning a ComplianceKit`, hint);
}

export { readJwkFile } from './jwk-file';
