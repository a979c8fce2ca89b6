import * as fs from 'node:fs';
import * as path from 'node:path';
import { BulwarkAuditError, ErrorCodes } from '../errors';
import { writeFileAtomic } from '../util/write-file-atomic';
import {
  consistencyProof,
  inclusionProof,
  HEX64,
  type ConsistencyProof,
  type InclusionProof,
} from './audit-proofs';
import { hashChildren, MerkleTree } from './merkle-tree';

const HASH = 32;
const CHUNK = 1 << 20;
const VERSION = 1;

/** `head.json`: how far the cache covers the log, and how to recognise that log again. */
interface CacheHead {
  version: number;
  /** Leaves stored (entries 1..treeSize). */
  treeSize: number;
  /** Bytes of the log those entries occupy (the byte after entry treeSize's newline). */
  bytes: number;
  /** Entry treeSize's leaf hash: the log at `bytes` must still end with it. */
  lastLeafHash: string;
}

function cacheError(message: string, cause?: unknown): BulwarkAuditError {
  return new BulwarkAuditError(
    ErrorCodes.AUDIT_STORE,
    message,
    undefined,
    cause === undefined ? undefined : { cause },
  );
}

/** Level `k` of the tree on disk: node `i` is 32 bytes at `i * 32` of `level-<k>.bin`. */
class LevelFile {
  readonly fd: number;
  length: number;
  readonly #pending: Buffer[] = [];

  constructor(file: string, length: number) {
    this.fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
    // Nodes past `length` were written by a sync that crashed before its head.json: drop them.
    fs.ftruncateSync(this.fd, length * HASH);
    this.length = length;
  }

  /** Node `i`: a pending one, or read from the file (one pread of 32 bytes). */
  view(i: number): Uint8Array {
    const written = this.length - this.#pending.length;
    if (i >= written) return this.#pending[i - written]!;
    const out = Buffer.alloc(HASH);
    if (fs.readSync(this.fd, out, 0, HASH, i * HASH) !== HASH) {
      throw cacheError('the Merkle node cache is shorter than its head says; delete it to rebuild');
    }
    return out;
  }

  push(node: Buffer): void {
    this.#pending.push(node);
    this.length++;
  }

  /** Writes the pending nodes; `durable` also fsyncs (once, at the end of a sync). */
  flush(durable = true): void {
    if (this.#pending.length > 0) {
      const data = Buffer.concat(this.#pending);
      const at = (this.length - this.#pending.length) * HASH;
      let off = 0;
      while (off < data.length) off += fs.writeSync(this.fd, data, off, data.length - off, at + off);
      this.#pending.length = 0;
    }
    if (durable) fs.fsyncSync(this.fd);
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}

/**
 * A persisted copy of a JSON-lines log's Merkle tree (every complete subtree's hash, one file per
 * level in `<log>.merkle/`), so that proofs read O(log n) nodes instead of the whole log:
 * `sync()` reads only the entries appended since the last sync (the first one reads them all),
 * then `inclusion()` / `consistency()` answer from the files.
 *
 * Derived data, not evidence: it is rebuilt from the log when the log no longer ends, at the
 * recorded byte, with the recorded leaf hash (the file was rewritten, replaced or cut), and can be
 * deleted at any time. It is not authenticated: a proof computed from a tampered cache names a
 * root that no signed checkpoint has, so check proofs against a checkpoint you trust (as every
 * proof must be). Verification never uses it. Leaf hashes are the stored ones, as `AuditLog.open`
 * loads them; a partial last line (a torn tail or a write in progress) is not included.
 */
export class MerkleNodeCache {
  readonly dir: string;
  readonly #levels: LevelFile[];
  #size: number;

  private constructor(dir: string, levels: LevelFile[], size: number) {
    this.dir = dir;
    this.#levels = levels;
    this.#size = size;
  }

  /** Entries the cache covers (the log's complete lines when `sync` returned). */
  get size(): number {
    return this.#size;
  }

  /**
   * Opens (creating it if needed) the cache of the log at `logPath` and brings it up to date.
   * Needs write access to `<logPath>.merkle` (or `options.dir`).
   */
  static async sync(
    logPath: string,
    options: { dir?: string; onProgress?: (entries: number) => void } = {},
  ): Promise<MerkleNodeCache> {
    const log = path.resolve(logPath);
    const dir = path.resolve(options.dir ?? `${log}.merkle`);
    await fs.promises.mkdir(dir, { recursive: true, mode: 0o700 });
    const headFile = path.join(dir, 'head.json');
    const handle = await fs.promises.open(log, 'r');
    try {
      let head = await readHead(headFile);
      if (head !== undefined && !(await stillMatches(handle, head))) head = undefined;
      if (head !== undefined && !levelFilesHold(dir, head.treeSize)) head = undefined;
      const size = head?.treeSize ?? 0;
      const levels: LevelFile[] = [];
      const open = (k: number): LevelFile => {
        while (levels.length <= k) {
          const level = levels.length;
          levels.push(new LevelFile(path.join(dir, `level-${level}.bin`), Math.floor(size / 2 ** level)));
        }
        return levels[k]!;
      };
      for (let k = 0; 2 ** k <= Math.max(size, 1); k++) open(k);
      const cache = new MerkleNodeCache(dir, levels, size);
      try {
        const next = await cache.#extend(
          handle,
          head ?? { version: VERSION, treeSize: 0, bytes: 0, lastLeafHash: '' },
          open,
          options.onProgress,
        );
        // Nothing appended since the last sync (a warm proof): nothing to write or fsync; its
        // nodes were made durable by the sync that wrote them. Otherwise the nodes, then the head
        // last: nodes beyond it are dropped at the next open, so a crash never leaves a head that
        // counts nodes that are not on disk.
        if (next.treeSize !== (head?.treeSize ?? -1)) {
          for (const level of levels) level.flush();
          await writeFileAtomic(headFile, JSON.stringify(next) + '\n');
        }
        return cache;
      } catch (err) {
        cache.close();
        throw err;
      }
    } finally {
      await handle.close();
    }
  }

  /** Adds the complete lines after `head.bytes`, checking they continue the log. */
  async #extend(
    handle: fs.promises.FileHandle,
    head: CacheHead,
    level: (k: number) => LevelFile,
    onProgress?: (entries: number) => void,
  ): Promise<CacheHead> {
    const end = (await handle.stat()).size;
    const buf = Buffer.alloc(CHUNK);
    let carry = Buffer.alloc(0);
    let offset = head.bytes;
    let consumed = head.bytes;
    let { treeSize, lastLeafHash } = head;
    while (offset < end) {
      const { bytesRead } = await handle.read(buf, 0, Math.min(CHUNK, end - offset), offset);
      if (bytesRead === 0) break;
      offset += bytesRead;
      carry =
        carry.length === 0
          ? Buffer.from(buf.subarray(0, bytesRead))
          : Buffer.concat([carry, buf.subarray(0, bytesRead)]);
      let start = 0;
      for (let nl = carry.indexOf(0x0a); nl !== -1; nl = carry.indexOf(0x0a, start)) {
        let entry: { seq?: unknown; leafHash?: unknown };
        try {
          entry = JSON.parse(carry.toString('utf8', start, nl)) as typeof entry;
        } catch {
          throw cacheError(`line ${treeSize + 1} of the audit log is not JSON; run bulwark audit verify`);
        }
        if (
          entry?.seq !== treeSize + 1 ||
          typeof entry.leafHash !== 'string' ||
          !HEX64.test(entry.leafHash)
        ) {
          throw cacheError(
            `entry ${treeSize + 1} of the audit log is out of sequence or malformed; run bulwark audit verify`,
          );
        }
        this.#append(Buffer.from(entry.leafHash, 'hex'), treeSize, level);
        treeSize++;
        lastLeafHash = entry.leafHash;
        consumed += nl + 1 - start;
        start = nl + 1;
      }
      carry = carry.subarray(start);
      // Written as it goes (memory stays flat while a large log is first read); made durable,
      // and counted by head.json, only at the end.
      for (let k = 0; k < this.#levels.length; k++) this.#levels[k]!.flush(false);
      onProgress?.(treeSize);
    }
    this.#size = treeSize;
    return { version: VERSION, treeSize, bytes: consumed, lastLeafHash };
  }

  /** Stores leaf `index` and every subtree it completes (one per trailing 1-bit of the index). */
  #append(leaf: Buffer, index: number, level: (k: number) => LevelFile): void {
    level(0).push(leaf);
    let node = leaf;
    let k = 0;
    let i = index;
    while ((i & 1) === 1) {
      node = hashChildren(level(k).view(i - 1), node);
      k++;
      i >>>= 1;
      level(k).push(node);
    }
  }

  #tree(): MerkleTree {
    return MerkleTree.overNodes(this.#levels, this.#size);
  }

  /** RFC 9162 inclusion proof of entry `seq` in the tree of `treeSize` entries (default all). */
  inclusion(seq: number, treeSize: number = this.#size): InclusionProof {
    return inclusionProof(this.#tree(), seq, treeSize);
  }

  /** RFC 9162 consistency proof between the trees of `fromSize` and `toSize` entries. */
  consistency(fromSize: number, toSize: number = this.#size): ConsistencyProof {
    return consistencyProof(this.#tree(), fromSize, toSize);
  }

  close(): void {
    for (const level of this.#levels) level.close();
    this.#levels.length = 0;
  }
}

/** Every level file holds at least the nodes a tree of `size` leaves has (else rebuild: never zero-fill). */
function levelFilesHold(dir: string, size: number): boolean {
  for (let k = 0; 2 ** k <= size; k++) {
    try {
      if (fs.statSync(path.join(dir, `level-${k}.bin`)).size < Math.floor(size / 2 ** k) * HASH) return false;
    } catch {
      return false;
    }
  }
  return true;
}

async function readHead(file: string): Promise<CacheHead | undefined> {
  try {
    const head = JSON.parse(await fs.promises.readFile(file, 'utf8')) as CacheHead;
    const ok =
      head?.version === VERSION &&
      Number.isSafeInteger(head.treeSize) &&
      head.treeSize >= 0 &&
      Number.isSafeInteger(head.bytes) &&
      head.bytes >= 0 &&
      (head.treeSize === 0 ? head.bytes === 0 : HEX64.test(head.lastLeafHash));
    return ok ? head : undefined;
  } catch {
    return undefined; // missing or unreadable: rebuild
  }
}

/** True when the log still has entry `treeSize` with `lastLeafHash` ending exactly at `bytes`. */
async function stillMatches(handle: fs.promises.FileHandle, head: CacheHead): Promise<boolean> {
  if (head.treeSize === 0) return true;
  const size = (await handle.stat()).size;
  if (size < head.bytes) return false;
  // The last line is at most a few KiB (AUDIT_LIMITS); read back to the newline before it.
  const window = Math.min(head.bytes, 256 * 1024);
  const buf = Buffer.alloc(window);
  const { bytesRead } = await handle.read(buf, 0, window, head.bytes - window);
  if (bytesRead !== window || buf[window - 1] !== 0x0a) return false;
  const start = buf.lastIndexOf(0x0a, window - 2) + 1;
  if (start === 0 && window < head.bytes) return false;
  try {
    const entry = JSON.parse(buf.toString('utf8', start, window - 1)) as {
      seq?: unknown;
      leafHash?: unknown;
    };
    return entry.seq === head.treeSize && entry.leafHash === head.lastLeafHash;
  } catch {
    return false;
  }
}
