import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { EnvKeyProvider, FileKeyProvider, generateMasterKey, type KeyProvider } from '@bulwark/core';

/**
 * DEMO ONLY: generated on first run into the data folder (mode 0600) so the example starts with
 * one command. A real app takes them from its secret store; the master key from a KMS
 * (`BULWARK_MASTER_KEY` or a KeyProvider) and never from a file beside the data it protects.
 */
export interface AppSecrets {
  /** The app's JWT secret, as found (HS256). `JWT_SECRET` (base64url, >= 32 bytes) wins when set. */
  readonly jwtSecret: Uint8Array;
  /** Added by the adoption: wraps Bulwark's data keys. */
  readonly masterKey: KeyProvider;
  /** Added by the adoption: HMAC key of the audit chain. */
  readonly auditHmacKey: Uint8Array;
}

async function writeOnce(file: string, content: string): Promise<void> {
  try {
    await fs.writeFile(file, content, { flag: 'wx', mode: 0o600 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
}

function key32(value: string | undefined, where: string): Uint8Array {
  const bytes = Buffer.from(value ?? '', 'base64url');
  // RFC 7518 §3.2: an HS256 key is at least as long as the hash; Bulwark's TokenService refuses less.
  if (bytes.length < 32) throw new Error(`${where} must hold at least 32 bytes (base64url)`);
  return bytes;
}

export async function loadSecrets(dataDir: string): Promise<AppSecrets> {
  await fs.mkdir(dataDir, { recursive: true, mode: 0o700 });
  const file = path.join(dataDir, 'secrets.json');
  const fresh = () => randomBytes(32).toString('base64url');
  await writeOnce(
    file,
    JSON.stringify({ warning: 'DEMO ONLY', jwtSecret: fresh(), auditHmacKey: fresh() }, null, 2) + '\n',
  );
  const stored = JSON.parse(await fs.readFile(file, 'utf8')) as Record<string, string>;
  let masterKey: KeyProvider;
  if (process.env.BULWARK_MASTER_KEY) {
    masterKey = new EnvKeyProvider();
  } else {
    const keyFile = path.join(dataDir, 'master.key');
    await writeOnce(keyFile, generateMasterKey() + '\n');
    masterKey = new FileKeyProvider({ path: keyFile });
  }
  return {
    jwtSecret: process.env.JWT_SECRET
      ? key32(process.env.JWT_SECRET, 'JWT_SECRET')
      : key32(stored.jwtSecret, `${file} jwtSecret`),
    masterKey,
    auditHmacKey: key32(stored.auditHmacKey, `${file} auditHmacKey`),
  };
}
