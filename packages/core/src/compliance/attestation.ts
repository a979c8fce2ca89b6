import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { canonicalBytes } from '../audit/canonical-json';
import { BulwarkComplianceError, ErrorCodes } from '../errors';
import { configError } from '../util/options';
import { ATTESTATION_FORMAT, parseAttestationRecord, type AttestationRecord } from './attestation-record';
import type { ControlCatalogue } from './control-catalogue';
import { verifyComplianceJws, type CompliancePublicKey, type ComplianceSigner } from './compliance-signing';

/**
 * A person's attestation that a manual control is in place: who, in which role, what they state,
 * where the supporting document is, when, and until when it holds. Attested controls show as
 * `attested` (never `pass`); an expired attestation no longer counts.
 */
export interface AttestationInput {
  /** Who attests (a name or an identifier the organisation can trace to a person). */
  by: string;
  /** Their role, e.g. `Security Officer`, `DPO`. */
  role: string;
  /** What they attest, in their own words. */
  statement: string;
  /** Where the supporting document lives (`https:`, `http:` or `urn:` URI). */
  evidenceUri?: string;
  /** When the attestation was made. Default now. */
  at?: Date | string;
  /** When it stops counting (required: attestations expire). */
  expiresAt: Date | string;
}

export { ATTESTATION_FORMAT, parseAttestationRecord, type AttestationRecord } from './attestation-record';

/**
 * The state of an attestation's signature when it was read: `verified` (checked with the kit's
 * attestation key), `unsigned`, `invalid` (does not verify or does not match the record: never
 * counts) or `unverified` (signed, but no key configured to check it).
 */
export type AttestationSignatureState = 'verified' | 'unsigned' | 'invalid' | 'unverified';

/** An attestation with its signature checked, as a report shows it. */
export interface AttestationView extends Omit<AttestationRecord, 'jws' | 'format'> {
  readonly signature: AttestationSignatureState;
}

/** Where attestations are kept. Append-only: a new attestation supersedes, never edits, an older one. */
export interface AttestationStore {
  append(record: AttestationRecord): Promise<void>;
  /** Every stored attestation, oldest first. */
  list(): Promise<readonly AttestationRecord[]>;
}

/** Attestations in memory (tests, short-lived processes): lost on restart. */
export class MemoryAttestationStore implements AttestationStore {
  private readonly records: AttestationRecord[] = [];

  async append(record: AttestationRecord): Promise<void> {
    this.records.push(parseAttestationRecord(structuredClone(record), 'record'));
  }

  async list(): Promise<readonly AttestationRecord[]> {
    return this.records.map((r) => ({ ...r }));
  }
}

function storeError(message: string, cause?: unknown): BulwarkComplianceError {
  return new BulwarkComplianceError(
    ErrorCodes.COMPLIANCE_ATTESTATION_STORE,
    message,
    undefined,
    cause === undefined ? undefined : { cause },
  );
}

/**
 * Attestations in a JSON-lines file (mode 0600), one record per line, appended with O_APPEND and
 * fsynced before `append()` resolves. A line cut short by a crash (no final newline: its append
 * never resolved) is ignored on read and cut off before the next append; any other unreadable
 * line is corruption and fails closed (ERR_COMPLIANCE_ATTESTATION_STORE). One writing process.
 */
export class FileAttestationStore implements AttestationStore {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(readonly file: string) {
    if (typeof file !== 'string' || file === '')
      throw configError('compliance.attestations.file', 'must be a path');
  }

  append(record: AttestationRecord): Promise<void> {
    const line = JSON.stringify(parseAttestationRecord(record, 'record')) + '\n';
    const run = this.queue.then(() => this.write(line));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async write(line: string): Promise<void> {
    try {
      await fs.mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
      const handle = await fs.open(this.file, 'a+', 0o600);
      try {
        const { size } = await handle.stat();
        if (size > 0) {
          // Cut a torn last line (a crash mid-append) so the new record starts on its own line.
          const last = Buffer.alloc(1);
          await handle.read(last, 0, 1, size - 1);
          if (last[0] !== 0x0a) {
            const bytes = await handle.readFile();
            await handle.truncate(bytes.lastIndexOf(0x0a) + 1);
          }
        }
        await handle.write(line);
        await handle.sync();
      } finally {
        await handle.close();
      }
    } catch (err) {
      throw storeError(`attestation store ${path.basename(this.file)} could not be written`, err);
    }
  }

  async list(): Promise<readonly AttestationRecord[]> {
    await this.queue;
    let text: string;
    try {
      text = await fs.readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw storeError(`attestation store ${path.basename(this.file)} could not be read`, err);
    }
    const complete = text.slice(0, text.lastIndexOf('\n') + 1);
    const records: AttestationRecord[] = [];
    complete
      .split('\n')
      .slice(0, -1)
      .forEach((line, i) => {
        try {
          records.push(parseAttestationRecord(JSON.parse(line), `line ${i + 1}`));
        } catch (err) {
          throw storeError(`attestation store ${path.basename(this.file)} line ${i + 1} is corrupt`, err);
        }
      });
    return records;
  }
}

const URI_SCHEMES = /^(https?:\/\/[^\s]+|urn:[a-z0-9][a-z0-9-]{0,31}:[^\s]+)$/i;
const MAX_TEXT = { by: 200, role: 200, statement: 4000, evidenceUri: 2000 } as const;
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u0008\u000b-\u001f\u007f]/;
const SKEW_MS = 5 * 60_000;

function isoTime(value: unknown, at: string): string {
  const ms =
    value instanceof Date ? value.getTime() : typeof value === 'string' ? Date.parse(value) : Number.NaN;
  if (!Number.isFinite(ms)) throw configError(at, 'must be a valid date (Date or ISO 8601 string)');
  return new Date(ms).toISOString();
}

function text(value: unknown, at: string, max: number): string {
  if (typeof value !== 'string' || value.trim() === '') throw configError(at, 'must be a non-empty string');
  if (value.length > max) throw configError(at, `must be at most ${max} characters`);
  if (CONTROL_CHARS.test(value)) throw configError(at, 'must not contain control characters');
  return value;
}

/**
 * Checks an attestation request and builds the unsigned record. Unknown control ids and automated
 * controls are config errors: only a manual control takes an attestation.
 */
export function buildAttestation(
  catalogue: ControlCatalogue,
  controlId: string,
  input: AttestationInput,
  now: Date,
  configPath = 'compliance.attest',
): AttestationRecord {
  const control = typeof controlId === 'string' ? catalogue.get(controlId) : undefined;
  if (control === undefined)
    throw configError(`${configPath}.controlId`, `names no control in the catalogue`);
  if (control.manual === undefined) {
    throw configError(
      `${configPath}.controlId`,
      `${controlId} is an automated control: it is decided on evidence, not attested`,
    );
  }
  if (input === null || typeof input !== 'object')
    throw configError(configPath, 'must be { by, role, statement, expiresAt }');
  const known = new Set(['by', 'role', 'statement', 'evidenceUri', 'at', 'expiresAt']);
  for (const key of Object.keys(input)) {
    if (!known.has(key)) throw configError(`${configPath}.${key}`, 'is not a known attestation field');
  }
  const by = text(input.by, `${configPath}.by`, MAX_TEXT.by);
  const role = text(input.role, `${configPath}.role`, MAX_TEXT.role);
  const statement = text(input.statement, `${configPath}.statement`, MAX_TEXT.statement);
  let evidenceUri: string | undefined;
  if (input.evidenceUri !== undefined) {
    evidenceUri = text(input.evidenceUri, `${configPath}.evidenceUri`, MAX_TEXT.evidenceUri);
    if (!URI_SCHEMES.test(evidenceUri))
      throw configError(`${configPath}.evidenceUri`, 'must be an https:, http: or urn: URI');
  }
  const at = input.at === undefined ? now.toISOString() : isoTime(input.at, `${configPath}.at`);
  if (Date.parse(at) > now.getTime() + SKEW_MS)
    throw configError(`${configPath}.at`, 'must not be in the future');
  if (input.expiresAt === undefined)
    throw configError(`${configPath}.expiresAt`, 'is required: attestations expire');
  const expiresAt = isoTime(input.expiresAt, `${configPath}.expiresAt`);
  if (Date.parse(expiresAt) <= Date.parse(at))
    throw configError(`${configPath}.expiresAt`, 'must be after at');
  if (Date.parse(expiresAt) <= now.getTime()) throw configError(`${configPath}.expiresAt`, 'is already past');
  return {
    format: ATTESTATION_FORMAT,
    id: randomUUID(),
    controlId,
    by,
    role,
    statement,
    ...(evidenceUri === undefined ? {} : { evidenceUri }),
    at,
    expiresAt,
    recordedAt: now.toISOString(),
  };
}

function unsignedPart(record: AttestationRecord): Omit<AttestationRecord, 'jws' | 'keyId'> {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  const { jws, keyId, ...rest } = record;
  return rest;
}

/** Signs a record: the JWS covers every field but `jws` and `keyId` (the kid is in its header). */
export async function signAttestation(
  record: AttestationRecord,
  signer: ComplianceSigner,
): Promise<AttestationRecord> {
  if (signer.purpose !== 'attestation')
    throw configError('compliance.attestations.signer', 'must be an attestation signer');
  const jws = await signer.sign(canonicalBytes(unsignedPart(record)));
  return { ...record, jws, ...(signer.kid === undefined ? {} : { keyId: signer.kid }) };
}

/** Checks a stored record's signature against the attestation key (when one is configured). */
export async function checkAttestation(
  record: AttestationRecord,
  publicKey: CompliancePublicKey | undefined,
): Promise<AttestationView> {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  const { jws, format, ...view } = record;
  // With an attestation key configured, a record without a signature is not trusted: whoever can
  // write the store could strip the signature and then rewrite the statement or the expiry.
  if (jws === undefined) return { ...view, signature: publicKey === undefined ? 'unsigned' : 'invalid' };
  if (publicKey === undefined) return { ...view, signature: 'unverified' };
  try {
    const { payload } = await verifyComplianceJws(
      jws,
      'attestation',
      publicKey,
      ErrorCodes.COMPLIANCE_ATTESTATION_STORE,
      'attestation',
    );
    // The signed payload must be this record, field for field.
    const same = Buffer.from(payload).equals(Buffer.from(canonicalBytes(unsignedPart(record))));
    return { ...view, signature: same ? 'verified' : 'invalid' };
  } catch {
    return { ...view, signature: 'invalid' };
  }
}

/** Parses a view carried in a snapshot (the signature state was decided by the collecting kit). */
export function parseAttestationView(value: unknown, where: string): AttestationView {
  const v = value as Record<string, unknown> | null;
  const states: readonly string[] = ['verified', 'unsigned', 'invalid', 'unverified'];
  if (v === null || typeof v !== 'object' || !states.includes(v.signature as string)) {
    throw new TypeError(`attestation ${where}: signature state is malformed`);
  }
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  const { jws, format, ...record } = parseAttestationRecord({ ...v, format: ATTESTATION_FORMAT }, where);
  return { ...record, signature: v.signature as AttestationSignatureState };
}
