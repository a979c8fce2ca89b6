import { promises as fs } from 'node:fs';
import * as path from 'node:path';
// The small entry: the audit commands read JWK files too and must not load the rest of Bulwark.
import { BulwarkConfigError, ErrorCodes } from '@bulwark/core/audit-log';
import type { JWK } from './kit-config';
import type { CliIo } from './cli-io';

/** Reads a JWK JSON file; a missing or unparsable file is a config error naming the option. */
export async function readJwkFile(file: string, io: CliIo, option: string): Promise<JWK> {
  try {
    const jwk = JSON.parse(await fs.readFile(path.resolve(io.cwd, file), 'utf8')) as unknown;
    if (jwk === null || typeof jwk !== 'object' || Array.isArray(jwk)) throw new TypeError('not an object');
    return jwk as JWK;
  } catch (err) {
    throw new BulwarkConfigError(
      ErrorCodes.CONFIG_INVALID,
      `--${option} must be a readable JWK JSON file`,
      { path: option },
      { cause: err },
    );
  }
}
