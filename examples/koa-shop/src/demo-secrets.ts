import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import {
  CheckpointSigner,
  EnvKeyProvider,
  FileKeyProvider,
  generateMasterKey,
  type KeyProvider,
} from '@bulwark/core';

/**
 * DEMO ONLY. On first run the shop writes its secrets into the data folder (mode 0600) so that it
 * starts with one command. A real deployment takes the master key from a KMS or a secret mount
 * (`BULWARK_MASTER_KEY`, a `KeyProvider` for AWS KMS / Vault Transit...) and never keeps it next to
 * the data it protects: whoever copies this folder can decrypt the database.
 */
export interface DemoSecrets {
  /** Wraps every data key (KEK). `BULWARK_MASTER_KEY` wins over the demo file when set. */
  readonly masterKey: KeyProvider;
  readonly jwtSecret: Uint8Array;
  readonly csrfSecret: Uint8Array;
  /** HMAC key of the audit chain: someone with only database access cannot recompute it. */
  readonly auditHmacKey: Uint8Array;
  /**
   * Private Ed25519 JWK file signing the audit checkpoints, and the file they are kept in: signed
   * tree heads make deleting the newest audit rows detectable. In production both live away from
   * the database (a KMS key, a WORM bucket).
   */
  readonly auditCheckpointKeyFile: string;
  readonly auditCheckpointsFile: string;
}

const MASTER_KEY_FILE = 'master.key';
const SECRETS_FILE = 'demo-secrets.json';

/** Writes `content` unless the file exists (two first starts at once both end up with one value). */
async function writeOnce(file: string, content: string): Promise<void> {
  try {
    await fs.writeFile(file, content, { flag: 'wx', mode: 0o600 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
}

export async function loadDemoSecrets(dataDir: string): Promise<DemoSecrets> {
  await fs.mkdir(dataDir, { recursive: true, mode: 0o700 });
  const secretsFile = path.join(dataDir, SECRETS_FILE);
  const fresh = () => randomBytes(32).toString('base64url');
  await writeOnce(
    secretsFile,
    JSON.stringify(
      {
        warning: 'DEMO ONLY: generated on first run. Never keep real secrets next to the data.',
        jwtSecret: fresh(),
        csrfSecret: fresh(),
        auditHmacKey: fresh(),
      },
      null,
      2,
    ) + '\n',
  );
  const stored = JSON.parse(await fs.readFile(secretsFile, 'utf8')) as Record<string, string>;
  const bytes = (name: string): Uint8Array => {
    const value = Buffer.from(stored[name] ?? '', 'base64url');
    if (value.length < 32)
      throw new Error(`${secretsFile}: ${name} must hold 32 bytes (delete the file to regenerate)`);
    return value;
  };

  const auditCheckpointKeyFile = path.join(dataDir, 'audit-checkpoint-key.json');
  try {
    await fs.access(auditCheckpointKeyFile);
  } catch {
    const signer = await CheckpointSigner.generate();
    await writeOnce(auditCheckpointKeyFile, JSON.stringify(await signer.exportPrivateJwk()) + '\n');
  }

  let masterKey: KeyProvider;
  if (process.env.BULWARK_MASTER_KEY !== undefined && process.env.BULWARK_MASTER_KEY !== '') {
    masterKey = new EnvKeyProvider();
  } else {
    const file = path.join(dataDir, MASTER_KEY_FILE);
    await writeOnce(file, generateMasterKey() + '\n');
    masterKey = new FileKeyProvider({ path: file });
  }
  return {
    masterKey,
    jwtSecret: bytes('jwtSecret'),
    csrfSecret: bytes('csrfSecret'),
    auditHmacKey: bytes('auditHmacKey'),
    auditCheckpointKeyFile,
    auditCheckpointsFile: path.join(dataDir, 'audit-checkpoints.jsonl'),
  };
}
