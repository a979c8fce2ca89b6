import * as fs from 'node:fs';
import * as path from 'node:path';
import { AuditLog } from '../../src/audit/audit-log';
import { FileAuditStore } from '../../src/audit/file-audit-store';
import { MerkleNodeCache } from '../../src/audit/merkle-node-cache';
import { event, steppingClock, tempDir } from './audit-helpers';

// fs with fsyncSync / writeSync observable (they pass through): a warm sync must call neither.
jest.mock('node:fs', () => {
  const actual = jest.requireActual<typeof import('node:fs')>('node:fs');
  return { ...actual, fsyncSync: jest.fn(actual.fsyncSync), writeSync: jest.fn(actual.writeSync) };
});

// Issue 15 item 7: proofs that read only what they need. The persisted tree must give exactly the
// proofs AuditLog gives from the whole log, stay right as the log grows, and rebuild (never lie)
// when the log or the cache changed behind its back.

describe('MerkleNodeCache', () => {
  let file: string;
  let log: AuditLog;
  beforeEach(async () => {
    file = path.join(tempDir(), 'audit.jsonl');
    log = await AuditLog.open({
      store: await FileAuditStore.open({ path: file, fsync: 'none' }),
      clock: steppingClock(),
    });
  });
  afterEach(async () => {
    await log.close();
  });
  const append = async (n: number) => {
    for (let i = 0; i < n; i += 200) {
      await Promise.all(Array.from({ length: Math.min(200, n - i) }, () => log.append(event())));
    }
  };
  const sameProofs = (cache: MerkleNodeCache, seqs: number[]) => {
    expect(cache.size).toBe(log.size);
    for (const seq of seqs) {
      expect(cache.inclusion(seq)).toEqual(log.proveInclusion(seq));
      expect(cache.inclusion(seq, Math.max(seq, log.size - 3))).toEqual(
        log.proveInclusion(seq, Math.max(seq, log.size - 3)),
      );
      expect(cache.consistency(seq)).toEqual(log.proveConsistency(seq));
    }
  };

  it('answers the same proofs as the whole tree, and extends itself as the log grows', async () => {
    await append(1025);
    const first = await MerkleNodeCache.sync(file);
    sameProofs(first, [1, 2, 512, 513, 1024, 1025]);
    first.close();
    const head1 = JSON.parse(fs.readFileSync(path.join(`${file}.merkle`, 'head.json'), 'utf8'));
    expect(head1).toMatchObject({ treeSize: 1025, bytes: fs.statSync(file).size });

    await append(300);
    const second = await MerkleNodeCache.sync(file);
    sameProofs(second, [1, 700, 1025, 1026, 1325]);
    second.close();
  });

  it('writes and fsyncs nothing when nothing was appended since the last sync (a warm proof)', async () => {
    await append(300);
    (await MerkleNodeCache.sync(file)).close();
    const fsync = jest.mocked(fs.fsyncSync);
    const write = jest.mocked(fs.writeSync);
    fsync.mockClear();
    write.mockClear();
    {
      const warm = await MerkleNodeCache.sync(file);
      sameProofs(warm, [1, 150, 300]);
      warm.close();
      expect(fsync).not.toHaveBeenCalled();
      expect(write).not.toHaveBeenCalled();
      // Entries appended since: the new nodes are written and made durable again.
      await append(5);
      const grown = await MerkleNodeCache.sync(file);
      sameProofs(grown, [1, 301, 305]);
      grown.close();
      expect(fsync).toHaveBeenCalled();
    }
  });

  it('leaves out a partial last line, and rebuilds when the log was rewritten or cut', async () => {
    await append(40);
    (await MerkleNodeCache.sync(file)).close();
    // A different log under the same name (entries replaced): the recorded last entry is gone.
    await log.close();
    fs.rmSync(file);
    log = await AuditLog.open({
      store: await FileAuditStore.open({ path: file, fsync: 'none' }),
      clock: steppingClock('2030-01-01T00:00:00.000Z'),
    });
    await append(41);
    fs.appendFileSync(file, '{"seq":42,"ti');
    const rebuilt = await MerkleNodeCache.sync(file);
    sameProofs(rebuilt, [1, 20, 41]);
    rebuilt.close();
  });

  it('rebuilds from the log when its own files were damaged, instead of answering from them', async () => {
    await append(64);
    (await MerkleNodeCache.sync(file)).close();
    fs.truncateSync(path.join(`${file}.merkle`, 'level-1.bin'), 40);
    const repaired = await MerkleNodeCache.sync(file);
    sameProofs(repaired, [1, 33, 64]);
    repaired.close();
    fs.writeFileSync(path.join(`${file}.merkle`, 'head.json'), '{"version":1,"treeSize":"lots"}');
    const again = await MerkleNodeCache.sync(file);
    sameProofs(again, [5, 64]);
    again.close();
  });

  it('refuses a log that is out of sequence instead of caching it', async () => {
    await append(5);
    const lines = fs.readFileSync(file, 'utf8').trimEnd().split('\n');
    fs.writeFileSync(file, [lines[0], lines[2], lines[1], ...lines.slice(3)].join('\n') + '\n');
    await expect(MerkleNodeCache.sync(file)).rejects.toMatchObject({ code: 'ERR_AUDIT_STORE' });
  });
});
