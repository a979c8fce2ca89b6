import { AuditLog, checkAuditLogOptions, type AuditLogOptions } from '../audit/audit-log';
import type { AuditStore } from '../audit/audit-store';
import { CheckpointSigner } from '../audit/checkpoint-signer';
import type { CheckpointStore } from '../audit/checkpoint-store';
import { FileAuditStore, type FsyncPolicy } from '../audit/file-audit-store';
import { FileCheckpointStore } from '../audit/file-checkpoint-store';
import { checkAutoCheckpoint } from '../audit/auto-checkpoint';
import { MemoryAuditStore } from '../audit/memory-audit-store';
import { MemoryCheckpointStore } from '../audit/memory-checkpoint-store';
import { Redactor, type RedactorOptions } from '../audit/redactor';
import { RetentionPolicy, type RetentionPolicyOptions } from '../audit/retention-policy';
import type { ThreatDetector } from '../threat/threat-detector';
import type { AuditConfig } from './bulwark-config';
import {
  checkJwk,
  checkSecretBytes,
  fileRef,
  readJwk,
  readSecretBytes,
  underPathAsync,
} from './config-input';
import {
  configError,
  hasMethods,
  invalid,
  isPlainObject,
  optionalArray,
  section,
  optionKeys,
} from '../util/options';
import { withClock, type Opened } from './opened';

// The `audit` section: the store, HMAC key, checkpoint signer and the tamper-evident log.

const KNOWN_AUDIT = optionKeys<AuditConfig>({
  store: true,
  hmacKey: true,
  checkpoint: true,
  logId: true,
  retention: true,
  redactor: true,
  sinks: true,
  maxBatchSize: true,
  commitWindowMs: true,
});
/** The variable `bulwark audit` reads, so the CLI verifies what the app writes. */
const AUDIT_HMAC_ENV = 'BULWARK_AUDIT_HMAC_KEY';
/** Minimum length of the audit HMAC key and of the keys derived from or standing in for it. */
export const HMAC_MIN_BYTES = 32;

export function planAudit(value: unknown): AuditConfig | undefined {
  const audit = section(value, 'audit', KNOWN_AUDIT);
  if (audit === undefined) return undefined;
  const store = audit.store;
  if (store === undefined) {
    throw configError(
      'audit.store',
      'is required: { file: "path" } or an AuditStore ("memory" only for tests: the trail is lost on restart)',
    );
  }
  if (store !== 'memory' && !hasMethods(store, 'append', 'read', 'head')) {
    const file = fileRef(store, 'audit.store', ['fsync', 'repairTornTail']);
    if (file === undefined)
      throw invalid('audit.store', 'an AuditStore, { file: "path" } or "memory"', store);
    const fsync = (store as { fsync?: unknown }).fsync;
    if (
      fsync !== undefined &&
      fsync !== 'every-append' &&
      fsync !== 'none' &&
      !(isPlainObject(fsync) && Number.isInteger(fsync.intervalMs) && (fsync.intervalMs as number) > 0)
    ) {
      throw invalid('audit.store.fsync', "'every-append', 'none' or { intervalMs: positive integer }", fsync);
    }
    const repair = (store as { repairTornTail?: unknown }).repairTornTail;
    if (repair !== undefined && typeof repair !== 'boolean') {
      throw invalid('audit.store.repairTornTail', 'a boolean', repair);
    }
  }
  if (audit.hmacKey !== undefined) checkSecretBytes(audit.hmacKey, 'audit.hmacKey', HMAC_MIN_BYTES);
  const checkpoint = section(audit.checkpoint, 'audit.checkpoint', ['signingKey', 'store', 'every']);
  if (checkpoint !== undefined) {
    if (checkpoint.signingKey === undefined) {
      throw configError(
        'audit.checkpoint.signingKey',
        'is required: a private Ed25519 JWK or { file: "path" }',
      );
    }
    if (!(checkpoint.signingKey instanceof CheckpointSigner))
      checkJwk(checkpoint.signingKey, 'audit.checkpoint.signingKey');
    const cps = checkpoint.store;
    if (cps === undefined) {
      throw configError(
        'audit.checkpoint.store',
        'is required: { file: "path" } apart from the log, or a CheckpointStore ("memory" only for tests)',
      );
    }
    if (
      cps !== 'memory' &&
      !hasMethods(cps, 'save', 'list') &&
      fileRef(cps, 'audit.checkpoint.store') === undefined
    ) {
      throw invalid('audit.checkpoint.store', 'a CheckpointStore, { file: "path" } or "memory"', cps);
    }
    if (checkpoint.every !== undefined) checkAutoCheckpoint(checkpoint, 'audit.checkpoint');
  }
  // AuditLog.open's own checks, run now so nothing is opened with a bad value.
  // (Not `checkpoint`: the config's section has another shape; `every` was checked above.)
  checkAuditLogOptions({
    ...(audit.logId !== undefined ? { logId: audit.logId as string } : {}),
    ...(audit.maxBatchSize !== undefined ? { maxBatchSize: audit.maxBatchSize as number } : {}),
    ...(audit.commitWindowMs !== undefined ? { commitWindowMs: audit.commitWindowMs as number } : {}),
  });
  const retention = section(audit.retention, 'audit.retention', ['periods', 'holds', 'holdStore']);
  // The engines' own checks, under their config paths (audit.retention.periods.<category>).
  if (retention !== undefined)
    new RetentionPolicy({ ...(retention as RetentionPolicyOptions), configPath: 'audit.retention' });
  if (audit.redactor !== undefined && !(audit.redactor instanceof Redactor)) {
    if (!isPlainObject(audit.redactor))
      throw invalid('audit.redactor', 'a Redactor or RedactorOptions', audit.redactor);
    redactorFrom(audit.redactor as RedactorOptions);
  }
  optionalArray(audit.sinks, 'audit.sinks').forEach((sink, i) => {
    if (!hasMethods(sink, 'write')) throw invalid(`audit.sinks[${i}]`, 'an AuditSink (write(entries))', sink);
  });
  return audit as unknown as AuditConfig;
}

function redactorFrom(options: RedactorOptions): Redactor {
  return new Redactor({ ...options, configPath: 'audit.redactor' });
}

export async function openAudit(
  audit: AuditConfig,
  detector: ThreatDetector | undefined,
  clock: (() => Date) | undefined,
  opened: Opened[],
  hooks: Pick<AuditLogOptions, 'onWriteFailure' | 'onVerifyFailure'> = {},
): Promise<{ log: AuditLog; hmacKey?: Uint8Array }> {
  let hmacKey: Uint8Array | undefined;
  if (audit.hmacKey !== undefined) {
    hmacKey = await readSecretBytes(audit.hmacKey, 'audit.hmacKey', HMAC_MIN_BYTES);
  } else if (process.env[AUDIT_HMAC_ENV] !== undefined && process.env[AUDIT_HMAC_ENV]!.trim() !== '') {
    hmacKey = await readSecretBytes({ env: AUDIT_HMAC_ENV }, 'audit.hmacKey', HMAC_MIN_BYTES);
  }
  let signer: CheckpointSigner | undefined;
  let checkpointStore: CheckpointStore | undefined;
  if (audit.checkpoint) {
    const key = audit.checkpoint.signingKey;
    signer =
      key instanceof CheckpointSigner
        ? key
        : await underPathAsync('audit.checkpoint.signingKey', async () =>
            CheckpointSigner.fromJWK(await readJwk(key, 'audit.checkpoint.signingKey')),
          );
    const cps = audit.checkpoint.store;
    checkpointStore =
      cps === 'memory'
        ? new MemoryCheckpointStore()
        : hasMethods(cps, 'save', 'list')
          ? (cps as CheckpointStore)
          : new FileCheckpointStore({ path: (cps as { file: string }).file });
  }
  // Until the log owns them (it closes both), the checkpoint store and store are closed directly.
  const cpStore = checkpointStore;
  const owned: Opened[] = [{ name: 'audit.checkpoint.store', close: () => cpStore?.close?.() }];
  opened.push(owned[0]!);
  const storeConfig = audit.store;
  const store: AuditStore =
    storeConfig === 'memory'
      ? new MemoryAuditStore()
      : hasMethods(storeConfig, 'append', 'read', 'head')
        ? (storeConfig as AuditStore)
        : await FileAuditStore.open({
            path: (storeConfig as { file: string }).file,
            ...((storeConfig as { fsync?: FsyncPolicy }).fsync !== undefined
              ? { fsync: (storeConfig as { fsync: FsyncPolicy }).fsync }
              : {}),
            ...((storeConfig as { repairTornTail?: boolean }).repairTornTail === true
              ? { repairTornTail: true }
              : {}),
          });
  owned.push({ name: 'audit.store', close: () => store.close() });
  opened.push(owned[1]!);
  const log = await AuditLog.open({
    store,
    ...(hmacKey ? { hmacKey } : {}),
    ...(signer ? { signer } : {}),
    ...(checkpointStore ? { checkpointStore } : {}),
    ...(audit.checkpoint?.every !== undefined ? { checkpoint: { every: audit.checkpoint.every } } : {}),
    ...(audit.logId !== undefined ? { logId: audit.logId } : {}),
    ...(audit.retention !== undefined ? { retention: audit.retention } : {}),
    ...(audit.redactor !== undefined
      ? { redactor: audit.redactor instanceof Redactor ? audit.redactor : redactorFrom(audit.redactor) }
      : {}),
    ...(audit.maxBatchSize !== undefined ? { maxBatchSize: audit.maxBatchSize } : {}),
    ...(audit.commitWindowMs !== undefined ? { commitWindowMs: audit.commitWindowMs } : {}),
    // The detector goes last: it sees what every other sink saw, and writes its violations back.
    sinks: [...(audit.sinks ?? []), ...(detector ? [detector] : [])],
    ...hooks,
    ...withClock(clock),
  });
  for (const entry of owned) opened.splice(opened.indexOf(entry), 1);
  detector?.attach(log);
  opened.push({
    name: 'auditLog',
    async close() {
      // Violations raised by the last entries must be appended while the log is still open.
      await log.flush();
      await detector?.flush();
      await log.close();
    },
  });
  return { log, ...(hmacKey ? { hmacKey } : {}) };
}
