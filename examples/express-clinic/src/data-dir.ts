import { createPrivateKey, randomBytes, type KeyObject } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { CheckpointSigner, ComplianceSigner, generateMasterKey, generateSigningKey } from '@bulwark/core';

/** Files the example keeps in its data directory, all created on first run. */
export interface DataDirFiles {
  dir: string;
  /** 32-byte master key (KEK) wrapping every data key. DEMO ONLY: use a KMS / secret mount. */
  masterKey: string;
  /** Wrapped data keys and subject keys (SQLite mode; PostgreSQL keeps them in the database). */
  keyStore: string;
  /** Ed25519 private key (PKCS#8 PEM) signing access tokens. */
  jwtKey: string;
  /** HMAC key of the audit chain's leaf hashes (hex). */
  auditHmacKey: string;
  /** Ed25519 private JWK signing audit checkpoints (signed tree heads). */
  checkpointKey: string;
  /** Its public half: what a verifier (`bulwark audit verify --public-key`) pins. */
  checkpointPublicKey: string;
  /** Signed checkpoints, kept apart from the log itself. */
  checkpoints: string;
  /** Ed25519 private JWK signing erasure receipts. */
  receiptKey: string;
  /** Ed25519 private JWK signing attestations of manual compliance controls. */
  attestationKey: string;
  /** Attestations of manual controls (append-only JSON lines). */
  attestations: string;
  /** SQLite databases (unused with DATABASE_URL). */
  clinicDb: string;
  auditDb: string;
  /** Compliance reports written by the demo. */
  reportHtml: string;
}

const NOTICE = `This folder belongs to the Bulwark express-clinic example.

It holds DEMO secrets generated on first run (master.key, jwt-signing-key.pem, audit-*.key/json,
erasure-receipt-key.json, compliance-attestation-key.json) next to the data they protect. That is fine for a demo and wrong for
anything else: in production the master key comes from a KMS or a secret mount
(BULWARK_MASTER_KEY), signing keys from your secret manager, and checkpoints go to another host.

Delete the folder to start from scratch (demo users are seeded again).
`;

export function dataDirFiles(dir: string): DataDirFiles {
  const at = (name: string): string => path.join(dir, name);
  return {
    dir,
    masterKey: at('master.key'),
    keyStore: at('keys.json'),
    jwtKey: at('jwt-signing-key.pem'),
    auditHmacKey: at('audit-hmac.key'),
    checkpointKey: at('audit-checkpoint-key.json'),
    checkpointPublicKey: at('audit-checkpoint-public.json'),
    checkpoints: at('audit-checkpoints.jws'),
    receiptKey: at('erasure-receipt-key.json'),
    attestationKey: at('compliance-attestation-key.json'),
    attestations: at('compliance-attestations.jsonl'),
    clinicDb: at('clinic.sqlite'),
    auditDb: at('audit.sqlite'),
    reportHtml: at('compliance-report.html'),
  };
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}

/** Writes a secret only if absent (`wx`): a second process starting at once never overwrites it. */
async function writeSecret(file: string, content: () => Promise<string> | string): Promise<boolean> {
  if (await exists(file)) return false;
  try {
    await fs.writeFile(file, await content(), { mode: 0o600, flag: 'wx' });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

/**
 * Creates the data directory and its demo secrets when missing; returns the file layout and which
 * secrets were generated now (so main.ts can say so).
 */
export async function prepareDataDir(
  dir: string,
  options: { masterKeyFromEnv: boolean },
): Promise<{ files: DataDirFiles; generated: string[] }> {
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const files = dataDirFiles(dir);
  const generated: string[] = [];
  const note = async (file: string, make: () => Promise<string> | string): Promise<void> => {
    if (await writeSecret(file, make)) generated.push(path.basename(file));
  };
  await fs.writeFile(path.join(dir, 'README.txt'), NOTICE).catch(() => undefined);
  if (!options.masterKeyFromEnv) await note(files.masterKey, () => `${generateMasterKey()}\n`);
  await note(files.jwtKey, async () => {
    const { privateKey } = await generateSigningKey('EdDSA');
    return privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  });
  await note(files.auditHmacKey, () => `${randomBytes(32).toString('hex')}\n`);
  await note(files.checkpointKey, async () =>
    JSON.stringify(await (await CheckpointSigner.generate({ kid: 'clinic-audit-1' })).exportPrivateJwk()),
  );
  if (!(await exists(files.checkpointPublicKey))) {
    const signer = await CheckpointSigner.fromJWK(JSON.parse(await fs.readFile(files.checkpointKey, 'utf8')));
    await fs.writeFile(files.checkpointPublicKey, JSON.stringify(await signer.exportPublicJwk()));
  }
  await note(files.receiptKey, async () =>
    JSON.stringify(await (await CheckpointSigner.generate({ kid: 'clinic-erasure-1' })).exportPrivateJwk()),
  );
  await note(files.attestationKey, async () =>
    JSON.stringify(
      await (
        await ComplianceSigner.generate('attestation', { kid: 'clinic-attestation-1' })
      ).exportPrivateJwk(),
    ),
  );
  return { files, generated };
}

export async function readJwtKey(files: DataDirFiles): Promise<KeyObject> {
  return createPrivateKey(await fs.readFile(files.jwtKey, 'utf8'));
}
