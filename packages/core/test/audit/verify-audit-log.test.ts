import { AuditLog } from '../../src/audit/audit-log';
import { GENESIS_HASH, type AuditEntry } from '../../src/audit/audit-event';
import { redactedEntry } from '../../src/audit/audit-store';
import { CheckpointSigner } from '../../src/audit/checkpoint-signer';
import { EntryHasher } from '../../src/audit/entry-hasher';
import { MemoryAuditStore } from '../../src/audit/memory-audit-store';
import { verifyAuditLog } from '../../src/audit/verify-audit-log';
import { copyEntries, event, steppingClock } from './audit-helpers';

describe('verifyAuditLog: incremental mode counts each checkpoint once', () => {
  let signer: CheckpointSigner;
  beforeAll(async () => {
    signer = await CheckpointSigner.generate();
  });

  async function logWith(n: number) {
    const store = new MemoryAuditStore();
    const log = await AuditLog.open({ store, clock: steppingClock(), signer });
    for (let i = 0; i < n; i++) await log.append(event({ requestId: `r-${i}` }));
    return { log, store };
  }

  it('the from checkpoint, also listed in checkpoints, is verified and counted once', async () => {
    const { log, store } = await logWith(5);
    const cp = await log.checkpoint();
    for (let i = 0; i < 3; i++) await log.append(event());
    const report = await verifyAuditLog(store, { checkpoints: [cp], from: cp, publicKey: signer.publicKey });
    expect(report).toMatchObject({ ok: true, checkedEntries: 3, treeSize: 8, checkpointsVerified: 1 });
    // Given as a JWS string in one list and as an object in the other: still one checkpoint.
    const mixed = await verifyAuditLog(store, {
      checkpoints: [cp.jws],
      from: cp,
      publicKey: signer.publicKey,
    });
    expect(mixed).toMatchObject({ ok: true, checkedEntries: 3, checkpointsVerified: 1 });
  });

  it('counts distinct checkpoints, and uses the given from (not the newest) as the trusted prefix', async () => {
    const { log, store } = await logWith(4);
    const first = await log.checkpoint();
    await log.append(event());
    const second = await log.checkpoint();
    await log.append(event());
    const both = [first, second];
    expect(
      await verifyAuditLog(store, { checkpoints: both, from: second, publicKey: signer.publicKey }),
    ).toMatchObject({
      ok: true,
      checkedEntries: 1,
      checkpointsVerified: 2,
    });
    expect(
      await verifyAuditLog(store, { checkpoints: both, from: first, publicKey: signer.publicKey }),
    ).toMatchObject({
      ok: true,
      checkedEntries: 2,
      checkpointsVerified: 2,
    });
    // The same checkpoint listed twice is one checkpoint too.
    expect(
      await verifyAuditLog(store, { checkpoints: [first, first], publicKey: signer.publicKey }),
    ).toMatchObject({
      ok: true,
      checkedEntries: 6,
      checkpointsVerified: 1,
    });
  });

  it('a from checkpoint that does not match the log still fails', async () => {
    const { log, store } = await logWith(4);
    const cp = await log.checkpoint();
    const edited = copyEntries(store.rawEntries);
    edited[1]!.leafHash = 'ab'.repeat(32); // the trusted prefix is re-hashed into the tree, not skipped
    const report = await verifyAuditLog(edited, { checkpoints: [cp], from: cp, publicKey: signer.publicKey });
    expect(report.ok).toBe(false);
    expect(report.checkpointsVerified).toBe(0);
  });
});

describe('verifyAuditLog: redaction records', () => {
  /** Entries with `content` at each position, linked and hashed like AuditLog does. */
  function chain(contents: Partial<AuditEntry>[], hasher: EntryHasher): AuditEntry[] {
    let prev = GENESIS_HASH;
    return contents.map((c, i) => {
      const e = { ...c, seq: i + 1, prevHash: prev } as AuditEntry;
      e.leafHash = hasher.hashHex(e);
      prev = e.leafHash;
      return e;
    });
  }

  async function template(): Promise<AuditEntry> {
    const store = new MemoryAuditStore();
    const log = await AuditLog.open({ store, clock: steppingClock() });
    await log.append(event());
    const [entry] = copyEntries(store.rawEntries);
    const { seq: _s, prevHash: _p, leafHash: _l, ...content } = entry!;
    return content as AuditEntry;
  }

  const record = (base: AuditEntry, ranges: [number, number][]): Partial<AuditEntry> => ({
    ...base,
    actor: { id: 'bulwark-audit', type: 'system' },
    action: 'audit.redacted',
    category: 'audit',
    details: { ranges, count: ranges.length },
  });
  const stub = (e: AuditEntry) => redactedEntry(e, { at: '2025-06-01T00:00:00.000Z', reason: 'erasure' });

  it('documented limit: without an HMAC key, a writer can strip an entry and append a forged record', async () => {
    const base = await template();
    const hasher = new EntryHasher();
    const entries = chain([base, { ...base, requestId: 'secret' }, base, record(base, [[2, 2]])], hasher);
    entries[1] = stub(entries[1]!);
    expect((await verifyAuditLog(entries)).ok).toBe(true); // what the docs warn about
  });

  it('with an HMAC key, a record forged without the key fails its hash check', async () => {
    const key = Buffer.alloc(32, 7);
    const base = await template();
    const genuine = chain([base, { ...base, requestId: 'secret' }, base], new EntryHasher(key));
    // The attacker appends a record hashed without the key (it is all they can compute).
    const forged = { ...record(base, [[2, 2]]), seq: 4, prevHash: genuine[2]!.leafHash } as AuditEntry;
    forged.leafHash = new EntryHasher().hashHex(forged);
    const entries = [genuine[0]!, stub(genuine[1]!), genuine[2]!, forged];
    expect((await verifyAuditLog(entries, { hmacKey: key })).firstBad).toMatchObject({
      seq: 4,
      reason: 'hash-mismatch',
    });
  });

  it('a record authorises only entries before it, never its own or later seqs', async () => {
    const base = await template();
    const hasher = new EntryHasher();
    // The record at seq 2 lists seq 4, which did not exist when a genuine record was written.
    const ahead = chain([base, record(base, [[4, 4]]), base, { ...base, requestId: 'x' }], hasher);
    ahead[3] = stub(ahead[3]!);
    expect((await verifyAuditLog(ahead)).firstBad).toMatchObject({ seq: 4, reason: 'unrecorded-redaction' });
    // A record listing itself authorises nothing either: a record can't be its own authority.
    const self = chain([base, base, record(base, [[3, 3]])], hasher);
    self[2] = { ...stub(self[2]!) };
    expect((await verifyAuditLog(self)).firstBad).toMatchObject({ seq: 3, reason: 'unrecorded-redaction' });
    // The same entries with the record after them verify.
    const after = chain([base, { ...base, requestId: 'x' }, base, record(base, [[2, 2]])], hasher);
    after[1] = stub(after[1]!);
    expect((await verifyAuditLog(after)).ok).toBe(true);
  });

  it('AuditLog.redact still verifies (its records come after what they list)', async () => {
    const store = new MemoryAuditStore();
    const log = await AuditLog.open({ store, clock: steppingClock() });
    for (let i = 0; i < 5; i++)
      await log.append(event({ actor: { id: i % 2 ? 'zoe' : 'yan', type: 'user' } }));
    expect((await log.redact({ actorId: 'zoe' }, 'erasure')).removed).toBe(2);
    expect(await verifyAuditLog(store)).toMatchObject({ ok: true, treeSize: 6 });
  });
});

describe('verifyAuditLog: entries cut off the end of a store', () => {
  it("fails as truncated when the store's head records more entries than it holds", async () => {
    const store = new MemoryAuditStore();
    const log = await AuditLog.open({ store, clock: steppingClock() });
    for (let i = 0; i < 6; i++) await log.append(event({ requestId: `r-${i}` }));
    // What a DELETE of the last two rows leaves in a SQL store: the head row still says 6.
    const cut: typeof store = Object.assign(Object.create(store) as typeof store, {
      read: async (fromSeq: number, limit: number) =>
        (await store.read(fromSeq, limit)).filter((e) => e.seq <= 4),
    });
    expect(await verifyAuditLog(store)).toMatchObject({ ok: true, treeSize: 6 });
    expect(await verifyAuditLog(cut)).toMatchObject({
      ok: false,
      treeSize: 4,
      firstBad: { seq: 5, reason: 'truncated' },
    });
    await log.close();
  });

  it('accepts entries appended while it runs (the head is read first)', async () => {
    const store = new MemoryAuditStore();
    const log = await AuditLog.open({ store, clock: steppingClock() });
    for (let i = 0; i < 3; i++) await log.append(event());
    let appended = false;
    const growing: typeof store = Object.assign(Object.create(store) as typeof store, {
      read: async (fromSeq: number, limit: number) => {
        if (!appended) {
          appended = true;
          await log.append(event());
        }
        return store.read(fromSeq, limit);
      },
    });
    expect(await verifyAuditLog(growing)).toMatchObject({ ok: true, treeSize: 4 });
    await log.close();
  });
});
