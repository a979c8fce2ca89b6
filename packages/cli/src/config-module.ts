import { promises as fs } from 'node:fs';
import { UsageError, type CliIo } from './cli-io';

/**
 * Loads a CommonJS config module (as `report --config` does): a function (module.exports, the
 * default export, or the named export `factory`) called with { env, cwd } that returns, or
 * resolves to, the value; or the exported value itself. A missing or broken module is a usage
 * error (exit 2).
 */
export async function loadConfigModule(
  file: string,
  io: CliIo,
  hint: string,
  factory: string,
): Promise<unknown> {
  try {
    await fs.access(file);
  } catch {
    throw new UsageError(`--config ${file} does not exist`, hint);
  }
  let mod: unknown;
  try {
    mod = require(file);
  } catch (err) {
    throw new UsageError(`--config ${file} could not be loaded: ${(err as Error).message}`, hint);
  }
  const m = mod as Record<string, unknown> | ((...a: unknown[]) => unknown);
  const fn =
    typeof m === 'function'
      ? m
      : typeof m?.default === 'function'
        ? m.default
        : typeof m?.[factory] === 'function'
          ? m[factory]
          : undefined;
  return fn
    ? await (fn as (ctx: object) => unknown)({ env: io.env, cwd: io.cwd })
    : ((m as Record<string, unknown>)?.default ?? m);
}

/** Calls the config's `close()` if it has one (connections, key rings), ignoring its failure. */
export async function closeConfig(value: unknown): Promise<void> {
  const close = (value as { close?: unknown } | null)?.close;
  if (typeof close === 'function') {
    await Promise.resolve((close as () => unknown).call(value)).catch(() => undefined);
  }
}
