import { promises as fs } from 'node:fs';
import * as path from 'node:path';
// The narrow entry: its error classes are the main entry's own objects (run-cli's instanceof holds).
import { BulwarkConfigError, ErrorCodes } from '@bulwark/core/audit-proof';
import type { CliIo } from './cli-io';
import type { Values } from './audit-spec';

/** The HMAC key as given (base64url / base64 / hex text, >= 32 bytes); never echoed. */
export async function readHmacKey(
  values: Pick<Values, 'hmac-key-file'>,
  io: CliIo,
): Promise<Uint8Array | undefined> {
  let text: string | undefined;
  if (values['hmac-key-file'] !== undefined) {
    try {
      text = await fs.readFile(path.resolve(io.cwd, values['hmac-key-file']), 'utf8');
    } catch (err) {
      throw new BulwarkConfigError(
        ErrorCodes.CONFIG_INVALID,
        'cannot read --hmac-key-file',
        { path: 'hmac-key-file' },
        { cause: err },
      );
    }
  } else {
    text = io.env.BULWARK_AUDIT_HMAC_KEY;
  }
  if (text === undefined || text.trim() === '') return undefined;
  const t = text.trim();
  const key =
    /^[0-9a-fA-F]+$/.test(t) && t.length % 2 === 0 ? Buffer.from(t, 'hex') : Buffer.from(t, 'base64url');
  if (key.length < 32) {
    throw new BulwarkConfigError(
      ErrorCodes.CONFIG_INVALID,
      'the audit HMAC key must be at least 32 bytes (hex or base64url)',
      {
        path: 'hmac-key',
      },
    );
  }
  return key;
}
