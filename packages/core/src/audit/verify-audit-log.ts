import { BulwarkConfigError, BulwarkError, ErrorCodes } from '../errors';
import { GENESIS_HASH, type AuditEntry } from './audit-event';
import type { AuditStore, TornTail } from './audit-store';
import { decodeCheckpoint, verifyCheckpoint, type Checkpoint, type CheckpointPublicKey } from './checkpoint';
import { EntryHasher } from './entry-hasher';
import { MerkleFrontier } from './merkle-frontier';

export type AuditFaultReason =
  | 'hash-mismatch'
  | 'broken-link'
  | 'gap'
  | 'reordered'
  | 'duplicate'
  | 'checkpoint-mismatch'
  | 'bad-signature'
  | 'truncated'
  | 'torn-tail'
  | 'unrecorded-redaction';

export interface AuditFault {
  /** The sequence number at which the log first stops being what it should be. */
  seq: number;
  reason: AuditFaultReason;
  message: string;
}

export interface AuditVerificationReport {
  ok: boolean;
  /** Entries whose content hash and link were checked (incremental mode skips the trusted prefix). */
  checkedEntries: number;
  /** Leaves read into the rebuilt Merkle tree (stops at the first fault). */
  treeSize: number;
  /** Hex Merkle root of those leaves. */
  root: string;
  /**
   * Checkpoints whose signature verified and whose root was compared, each counted once (the
   * `from` checkpoint is usually also in `checkpoints`), plus any `trustedHeads` compared.
   */
  checkpointsVerified: number;
  firstBad?: AuditFault;
  tornTail?: TornTail;
}

export interface VerifyAuditLogOptions {
  /** Required when the log was written with one; a wrong key fails at seq 1. */
  hmacKey?: Uint8Array;
  /** Checkpoints to hold the log to (signature verified, then root compared at each tree size). */
  checkpoints?: readonly (Checkpoint | string)[];
  /**
   * Incremental mode: a checkpoint that a previous full verification accepted. Entries up to its
   * tree size are only re-hashed into the Merkle tree (their root must equal its root, i.e. the log
   * only grew since); content and links are checked from the next entry on. Run a full
   * verification periodically too: incremental mode cannot see content edits inside the trusted
   * prefix that keep the stored leaf hashes.
   */
  from?: Checkpoint | string;
  /** Ed25519 public key the checkpoints must verify with. Required when checkpoints / from are given. */
  publicKey?: CheckpointPublicKey;
  /** If set, checkpoints must carry this logId. */
  logId?: string;
  /**
   * Tree heads the caller already trusts without a signature (e.g. the root an open `AuditLog`
   * holds in memory): compared like checkpoints.
   */
  trustedHeads?: readonly { treeSize: number; rootHash: string }[];
  /** Page size when reading from a store. Default 1000. */
  pageSize?: number;
}

/** What `verifyAuditLog` itself recorded about a report it returned (see `genuineVerification`). */
export interface GenuineVerification {
  readonly ok: boolean;
  readonly checkedEntries: number;
  readonly treeSize: number;
  readonly checkpointsVerified: number;
  /** Signed checkpoints among them (trusted unsigned heads are not counted). */
  readonly signedCheckpointsVerified: number;
  readonly firstBad?: { readonly seq: number; readonly reason: AuditFaultReason };
  /**
   * Seq of the `audit.verified` entry `AuditLog.verify()` appended to record this run: the log is
   * then one entry longer than `treeSize`, by the record of its own verification.
   */
  readonly recordSeq?: number;
}

// Reports this module returned, with a frozen copy of what they said when returned: a report
// object made elsewhere (or edited after the fact) is not one of them. Module-private on purpose:
// not exported from any index.
const GENUINE = new WeakMap<object, GenuineVerification>();

/**
 * Notes that `AuditLog.verify()` recorded `report` as the `audit.verified` entry `seq`. @internal
 * (not exported from any index: only the log that ran the verification calls it).
 */
export function noteVerificationRecord(report: AuditVerificationReport, seq: number): void {
  const genuine = GENUINE.get(report);
  if (genuine !== undefined && genuine.recordSeq === undefined) {
    GENUINE.set(report, Object.freeze({ ...genuine, recordSeq: seq }));
  }
}

/** True for a report object `verifyAuditLog()` (or `AuditLog.verify()`) returned. */
export function isGenuineVerification(report: unknown): boolean {
  return typeof report === 'object' && report !== null && GENUINE.has(report);
}

/**
 * What `verifyAuditLog()` recorded when it returned `report` (values as returned, whatever was
 * done to the object since), or undefined for any other object.
 */
export function genuineVerification(report: unknown): GenuineVerification | undefined {
  return typeof report === 'object' && report !== null ? GENUINE.get(report) : undefined;
}

/** Actions the log writes itself to record removals; stub entries must be covered by one. */
export const REDACTION_RECORD_ACTIONS: ReadonlySet<string> = new Set(['audit.redacted', 'audit.purged']);
const STUB_KEYS: ReadonlySet<string> = new Set([
  'seq',
  'time',
  'category',
  'prevHash',
  'leafHash',
  'redacted',
]);
const HEX64 = /^[0-9a-f]{64}$/;

function isStore(source: unknown): source is AuditStore {
  return (
    typeof (source as AuditStore)?.read === 'function' && typeof (source as AuditStore)?.head === 'function'
  );
}

/**
 * The entries of a source, a page (array) at a time: verification walks arrays in a plain loop
 * instead of awaiting an async iterator once per entry, which cost more than hashing the entry.
 * Returns an empty array at the end.
 */
type PageReader = () => Promise<readonly AuditEntry[]>;

function storePages(store: AuditStore, pageSize: number): PageReader {
  let pos = 1;
  let done = false;
  return async () => {
    if (done) return [];
    const page = await store.read(pos, pageSize);
    if (page.length < pageSize) done = true;
    pos += page.length;
    return page;
  };
}

function iterablePages(
  source: Iterable<AuditEntry> | AsyncIterable<AuditEntry>,
  pageSize: number,
): PageReader {
  if (Array.isArray(source)) {
    let given = false;
    return async () => {
      if (given) return [];
      given = true;
      return source as readonly AuditEntry[];
    };
  }
  const sync = typeof (source as Iterable<AuditEntry>)[Symbol.iterator] === 'function';
  const it = sync
    ? (source as Iterable<AuditEntry>)[Symbol.iterator]()
    : (source as AsyncIterable<AuditEntry>)[Symbol.asyncIterator]();
  let done = false;
  return async () => {
    const page: AuditEntry[] = [];
    while (!done && page.length < pageSize) {
      const step = sync ? (it as Iterator<AuditEntry>).next() : await it.next();
      if (step.done === true) done = true;
      else page.push(step.value);
    }
    return page;
  };
}

function invalidLeafHash(seq: number): AuditFault {
  return { seq, reason: 'hash-mismatch', message: `entry ${seq} has no valid leafHash` };
}

/**
 * Seq ranges `[from, to]` listed in a redaction record's details. Only ranges wholly BEFORE the
 * record count: `AuditLog` appends the record after the entries it erases already exist (it
 * records first, then rewrites them), so a genuine record never lists its own or a later seq. A
 * record that does was not written by `AuditLog`, and authorises nothing it lists ahead of itself.
 */
function recordRanges(entry: AuditEntry, seq: number): [number, number][] {
  const ranges = (entry.details as { ranges?: unknown } | undefined)?.ranges;
  if (!Array.isArray(ranges)) return [];
  return ranges.filter(
    (r): r is [number, number] =>
      Array.isArray(r) &&
      r.length === 2 &&
      Number.isSafeInteger(r[0]) &&
      Number.isSafeInteger(r[1]) &&
      r[0] >= 1 &&
      r[0] <= r[1] &&
      r[1] < seq,
  );
}

/**
 * Verifies an audit log: every entry's seq (1-based, gap-free, in order), its link to the previous
 * leaf hash, its leaf hash recomputed from content (HMAC when keyed), the Merkle root against every
 * checkpoint at its tree size (after verifying the checkpoint's Ed25519 signature), and that the
 * log is not shorter than any checkpoint. Stops at the first fault and reports it by seq.
 *
 * Redacted entries (content removed by redact/purge) cannot have their content hash recomputed:
 * they are checked for carrying no content, for their link and Merkle leaf, and for being listed
 * by a later `audit.redacted` / `audit.purged` record, so an unauthorised erasure still shows.
 *
 * Limits. Without an HMAC key the leaf hashes are plain SHA-256 of public content, so anyone who
 * can write to the store can compute them: they can strip an entry's content (leaving a stub with
 * the old leaf hash, so links and Merkle roots still match every checkpoint) and append a forged
 * `audit.redacted` record listing it at the end of the log, and this function accepts the result.
 * What such a writer cannot do is change content silently or remove entries. To close the gap:
 * - run the log with an HMAC key (`hmacKey`) kept away from the store: a forged record then fails
 *   its hash check, because only the key holder can make a valid leaf hash;
 * - take a signed checkpoint before and right after every erasure (redact / purge) and keep the
 *   checkpoints outside the store: each genuine redaction record is then covered by a signed
 *   head, and a redaction record beyond the last checkpoint is one to question.
 */
export async function verifyAuditLog(
  source: AuditStore | Iterable<AuditEntry> | AsyncIterable<AuditEntry>,
  options: VerifyAuditLogOptions = {},
): Promise<AuditVerificationReport> {
  const hasher = new EntryHasher(options.hmacKey);
  const pageSize = options.pageSize ?? 1000;
  if (!Number.isInteger(pageSize) || pageSize < 1) {
    throw new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, 'verify.pageSize must be a positive integer', {
      path: 'verify.pageSize',
    });
  }
  // The same checkpoint given twice (typically `from` is also the newest of `checkpoints`) is one
  // checkpoint: verify and count it once.
  const indexOf = new Map<string, number>();
  const given: (Checkpoint | string)[] = [];
  let fromIndex = -1;
  const all = [...(options.checkpoints ?? []), ...(options.from === undefined ? [] : [options.from])];
  all.forEach((cp, i) => {
    const jws = typeof cp === 'string' ? cp : (cp as Partial<Checkpoint> | null)?.jws;
    let at = typeof jws === 'string' ? indexOf.get(jws) : undefined;
    if (at === undefined) {
      at = given.push(cp) - 1;
      if (typeof jws === 'string') indexOf.set(jws, at);
    }
    if (options.from !== undefined && i === all.length - 1) fromIndex = at;
  });
  if (given.length > 0 && options.publicKey === undefined) {
    throw new BulwarkConfigError(
      ErrorCodes.CONFIG_INVALID,
      'verify.publicKey is required to use checkpoints (an unverified checkpoint proves nothing)',
      { path: 'verify.publicKey' },
    );
  }
  // O(log n) memory: verification needs the tree head at each size, never a proof.
  const tree = new MerkleFrontier();
  let checkedEntries = 0;
  let checkpointsVerified = 0;
  let signedCheckpointsVerified = 0;
  const report = (firstBad?: AuditFault, tornTail?: TornTail): AuditVerificationReport => {
    const result: AuditVerificationReport = {
      ok: firstBad === undefined,
      checkedEntries,
      treeSize: tree.size,
      root: tree.root().toString('hex'),
      checkpointsVerified,
      ...(firstBad === undefined ? {} : { firstBad }),
      ...(tornTail === undefined ? {} : { tornTail }),
    };
    GENUINE.set(
      result,
      Object.freeze({
        ok: result.ok,
        checkedEntries,
        treeSize: result.treeSize,
        checkpointsVerified,
        signedCheckpointsVerified,
        ...(firstBad === undefined
          ? {}
          : { firstBad: Object.freeze({ seq: firstBad.seq, reason: firstBad.reason }) }),
      }),
    );
    return result;
  };

  // 1. Checkpoint signatures. Fields are taken from the verified payload only.
  const verified: Checkpoint[] = [];
  for (const cp of given) {
    try {
      verified.push(await verifyCheckpoint(cp, options.publicKey!, { logId: options.logId }));
    } catch (err) {
      if (!(err instanceof BulwarkError)) throw err;
      let seq = 0;
      try {
        seq = decodeCheckpoint(typeof cp === 'string' ? cp : cp.jws).treeSize;
      } catch {
        // unreadable: report at 0
      }
      return report({ seq, reason: 'bad-signature', message: `checkpoint rejected: ${err.message}` });
    }
  }
  const from: Checkpoint | undefined = fromIndex === -1 ? undefined : verified[fromIndex];
  const signed = new Set<object>(verified);
  const heads = [...verified, ...(options.trustedHeads ?? [])];
  const pending = heads.sort((a, b) => a.treeSize - b.treeSize);
  // Two signed heads of one size with different roots: the log was forked.
  for (let i = 1; i < pending.length; i++) {
    if (
      pending[i]!.treeSize === pending[i - 1]!.treeSize &&
      pending[i]!.rootHash !== pending[i - 1]!.rootHash
    ) {
      return report({
        seq: pending[i]!.treeSize,
        reason: 'checkpoint-mismatch',
        message: `two checkpoints of tree size ${pending[i]!.treeSize} disagree on the root (a forked log)`,
      });
    }
  }
  let next = 0;
  const checkRoots = (): AuditFault | undefined => {
    while (next < pending.length && pending[next]!.treeSize <= tree.size) {
      const cp = pending[next]!;
      if (cp.treeSize === tree.size) {
        if (tree.root().toString('hex') !== cp.rootHash) {
          return {
            seq: cp.treeSize,
            reason: 'checkpoint-mismatch',
            message: `Merkle root of the first ${cp.treeSize} entries differs from the checkpoint (history rewritten or replaced)`,
          };
        }
        checkpointsVerified++;
        if (signed.has(cp)) signedCheckpointsVerified++;
      }
      next++;
    }
    return undefined;
  };

  // 2. Entries, in the store's order. A store's head is read first: entries appended while this
  // runs only add to what is read, so a head beyond the entries read means entries were removed
  // from the end (a SQL store keeps its head in a row of its own, which a DELETE leaves behind).
  const storedHead = isStore(source)
    ? await source.head().then(
        (h) => h.seq,
        () => undefined,
      )
    : undefined;
  const trustedUpTo = from?.treeSize ?? 0;
  const unkeyed = !hasher.keyed;
  const nextPage = isStore(source) ? storePages(source, pageSize) : iterablePages(source, pageSize);
  let expected = 1;
  let prevLeaf = GENESIS_HASH;
  const redactedSeqs: number[] = [];
  const authorized: [number, number][] = [];
  let fault = checkRoots();
  if (fault !== undefined) return report(fault);

  for (let page = await nextPage(); page.length > 0; page = await nextPage()) {
    for (let i = 0; i < page.length; i++) {
      const entry = page[i]!;
      const seq = entry !== null && typeof entry === 'object' ? entry.seq : undefined;
      if (!Number.isSafeInteger(seq)) {
        return report({
          seq: expected,
          reason: 'hash-mismatch',
          message: `entry at position ${expected} is malformed (no valid seq)`,
        });
      }
      if (seq !== expected) {
        if (seq! < expected) {
          return report({
            seq: expected,
            reason: 'duplicate',
            message: `position ${expected} holds seq ${seq}, which already appeared`,
          });
        }
        // Jumped forward: if the missing seq shows up later the entries were moved, else removed.
        let later = false;
        for (
          let rest: readonly AuditEntry[] = page.slice(i + 1);
          !later && rest.length > 0;
          rest = await nextPage()
        ) {
          later = rest.some((e) => e?.seq === expected);
        }
        return later
          ? report({
              seq: expected,
              reason: 'reordered',
              message: `seq ${expected} is stored after seq ${seq}`,
            })
          : report({
              seq: expected,
              reason: 'gap',
              message: `seq ${expected} is missing (next stored is ${seq})`,
            });
      }
      // The usual entry (unkeyed, not redacted, past any trusted prefix, linked) skips the hex
      // check here: its recomputed hash, always 64 lowercase hex digits, must equal leafHash
      // below, which proves the same. Every other entry, and any mismatch, gets the check first,
      // so faults are reported exactly as if it always ran first.
      const usual =
        unkeyed && expected > trustedUpTo && entry.redacted === undefined && entry.prevHash === prevLeaf;
      if (!usual && (typeof entry.leafHash !== 'string' || !HEX64.test(entry.leafHash))) {
        return report(invalidLeafHash(expected));
      }
      if (entry.redacted !== undefined) redactedSeqs.push(expected);
      if (entry.redacted === undefined && REDACTION_RECORD_ACTIONS.has(entry.action!))
        authorized.push(...recordRanges(entry, expected));
      if (expected > trustedUpTo) {
        if (entry.prevHash !== prevLeaf) {
          return report({
            seq: expected,
            reason: 'broken-link',
            message: `entry ${expected} does not link to the leaf hash of entry ${expected - 1}`,
          });
        }
        if (entry.redacted !== undefined) {
          const r = entry.redacted as unknown as Record<string, unknown>;
          const extra = Object.keys(entry).find((k) => !STUB_KEYS.has(k));
          if (
            extra !== undefined ||
            r === null ||
            typeof r !== 'object' ||
            typeof r.at !== 'string' ||
            typeof r.reason !== 'string'
          ) {
            return report({
              seq: expected,
              reason: 'hash-mismatch',
              message: `entry ${expected} is marked redacted but is not a redaction stub (content fields cannot skip the hash check)`,
            });
          }
        } else if (!hasher.matchesValidHex(entry)) {
          if (typeof entry.leafHash !== 'string' || !HEX64.test(entry.leafHash)) {
            return report(invalidLeafHash(expected));
          }
          return report({
            seq: expected,
            reason: 'hash-mismatch',
            message: `content of entry ${expected} does not match its leaf hash`,
          });
        }
        checkedEntries++;
      }
      tree.appendHex(entry.leafHash);
      prevLeaf = entry.leafHash;
      expected++;
      if (next < pending.length) {
        fault = checkRoots();
        if (fault !== undefined) return report(fault);
      }
    }
  }

  // 3. Shorter than a signed head: entries were cut off the end.
  if (next < pending.length) {
    const cp = pending[pending.length - 1]!;
    return report({
      seq: tree.size + 1,
      reason: 'truncated',
      message: `the log has ${tree.size} entries but a checkpoint covers ${cp.treeSize}`,
    });
  }

  if (storedHead !== undefined && storedHead > tree.size) {
    return report({
      seq: tree.size + 1,
      reason: 'truncated',
      message: `the store's head records ${storedHead} entries but only ${tree.size} are stored`,
    });
  }

  // 4. Every stub must be covered by a redaction record.
  for (const seq of redactedSeqs) {
    if (!authorized.some(([a, b]) => seq >= a && seq <= b)) {
      return report({
        seq,
        reason: 'unrecorded-redaction',
        message: `entry ${seq} was redacted but no audit.redacted / audit.purged record lists it`,
      });
    }
  }

  // 5. A torn final line (file store): the entries before it verified.
  const torn = isStore(source) ? source.tornTail : undefined;
  if (torn !== undefined) {
    return report(
      {
        seq: tree.size + 1,
        reason: 'torn-tail',
        message: `the store ends with a partial record of ${torn.length} bytes (interrupted write); run repair()`,
      },
      torn,
    );
  }
  return report();
}
