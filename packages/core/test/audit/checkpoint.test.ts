import * as fs from 'node:fs';
import * as path from 'node:path';
import { CompactSign, generateKeyPair } from 'jose';
import { AuditLog } from '../../src/audit/audit-log';
import {
  decodeCheckpoint,
  exportCheckpoint,
  importCheckpoint,
  verifyCheckpoint,
} from '../../src/audit/checkpoint';
import { CheckpointSigner } from '../../src/audit/checkpoint-signer';
import { FileCheckpointStore } from '../../src/audit/file-checkpoint-store';
import { MemoryAuditStore } from '../../src/audit/memory-audit-store';
import { MemoryCheckpointStore } from '../../src/audit/memory-checkpoint-store';
import { verifyAuditLog } from '../../src/audit/verify-audit-log';
import { ErrorCodes } from '../../src/errors';
import { copyEntries, event, steppingClock, tempDir } from './audit-helpers';

describe('checkpoints', () => {
  let signer: CheckpointSigner;
  let other: CheckpointSigner;
  beforeAll(async () => {
    signer = await CheckpointSigner.generate({ kid: 'audit-2025' });
    other = await CheckpointSigner.generate();
  });

  async function logWith(n: number, extra: Partial<Parameters<typeof AuditLog.open>[0]> = {}) {
    const store = new MemoryAuditStore();
    const log = await AuditLog.open({ store, clock: steppingClock(), signer, logId: 'app-1', ...extra });
    for (let i = 0; i < n; i++) await log.append(event({ requestId: `r-${i}` }));
    return { log, store };
  }

  it('signs a tree head as an EdDSA compact JWS that verifies with the public key', async () => {
    const { log } = await logWith(5);
    const cp = await log.checkpoint();
    expect(cp).toMatchObject({ treeSize: 5, rootHash: log.root(), logId: 'app-1' });
    expect(cp.jws.split('.')).toHaveLength(3);
    const header = JSON.parse(Buffer.from(cp.jws.split('.')[0]!, 'base64url').toString());
    expect(header).toEqual({ alg: 'EdDSA', typ: 'bulwark-checkpoint+jws', kid: 'audit-2025' });
    const verified = await verifyCheckpoint(cp.jws, await signer.exportPublicJwk());
    expect(verified).toEqual({
      treeSize: 5,
      rootHash: log.root(),
      time: cp.time,
      logId: 'app-1',
      jws: cp.jws,
    });
    // A signer restored from its private JWK produces checkpoints the same public key accepts.
    const restored = await CheckpointSigner.fromJWK(await signer.exportPrivateJwk());
    const cp2 = await restored.sign({ treeSize: 5, rootHash: log.root(), time: cp.time });
    await expect(verifyCheckpoint(cp2, signer.publicKey)).resolves.toMatchObject({ treeSize: 5 });
  });

  it('rejects a checkpoint signed by another key, a forged payload, and non-EdDSA / untyped JWS', async () => {
    const { log } = await logWith(3);
    const cp = await log.checkpoint();
    await expect(verifyCheckpoint(cp, other.publicKey)).rejects.toMatchObject({
      code: ErrorCodes.AUDIT_CHECKPOINT_INVALID,
      details: { reason: 'bad-signature' },
    });
    // Claim a bigger tree with the original signature.
    const [h, p, s] = cp.jws.split('.') as [string, string, string];
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString());
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...payload, treeSize: 1000 })).toString('base64url')}.${s}`;
    await expect(verifyCheckpoint(forged, signer.publicKey)).rejects.toMatchObject({
      details: { reason: 'bad-signature' },
    });
    // HS256 with a guessed secret: the algorithm allow-list refuses it.
    const hs = await new CompactSign(Buffer.from(p, 'base64url'))
      .setProtectedHeader({ alg: 'HS256', typ: 'bulwark-checkpoint+jws' })
      .sign(new Uint8Array(32));
    await expect(verifyCheckpoint(hs, signer.publicKey)).rejects.toMatchObject({
      code: ErrorCodes.AUDIT_CHECKPOINT_INVALID,
    });
    // A valid EdDSA JWS that is not a checkpoint (no typ) is refused.
    const { privateKey, publicKey } = await generateKeyPair('EdDSA');
    const untyped = await new CompactSign(Buffer.from(p, 'base64url'))
      .setProtectedHeader({ alg: 'EdDSA' })
      .sign(privateKey);
    await expect(verifyCheckpoint(untyped, publicKey)).rejects.toMatchObject({
      details: { reason: 'malformed' },
    });
    await expect(verifyCheckpoint('a.b', signer.publicKey)).rejects.toMatchObject({
      details: { reason: 'malformed' },
    });
    // A private JWK is not accepted where a public key is expected.
    await expect(verifyCheckpoint(cp, await signer.exportPrivateJwk())).rejects.toMatchObject({
      details: { reason: 'wrong-key' },
    });
  });

  it('verification reports a checkpoint with a bad signature as bad-signature', async () => {
    const { log, store } = await logWith(4);
    const foreign = await other.sign({ treeSize: 4, rootHash: log.root(), time: '2025-01-01T00:00:00.000Z' });
    const report = await verifyAuditLog(store, { checkpoints: [foreign], publicKey: signer.publicKey });
    expect(report.firstBad).toMatchObject({ seq: 4, reason: 'bad-signature' });
    await expect(verifyAuditLog(store, { checkpoints: [foreign] })).rejects.toMatchObject({
      code: ErrorCodes.CONFIG_INVALID,
    });
  });

  it('detects replacement of the whole log by a self-consistent one', async () => {
    const { log, store } = await logWith(6);
    const cp = await log.checkpoint();
    // The attacker rebuilds a complete, internally valid log with different content (and more entries).
    const forgedStore = new MemoryAuditStore();
    const forged = await AuditLog.open({ store: forgedStore, clock: steppingClock() });
    for (let i = 0; i < 8; i++) await forged.append(event({ actor: { id: 'mallory', type: 'user' } }));
    expect((await verifyAuditLog(forgedStore)).ok).toBe(true);
    const report = await verifyAuditLog(forgedStore, { checkpoints: [cp], publicKey: signer.publicKey });
    expect(report.firstBad).toMatchObject({ seq: 6, reason: 'checkpoint-mismatch' });
    // A forged log shorter than the checkpoint is reported as truncated.
    const short = copyEntries(forgedStore.rawEntries).slice(0, 3);
    expect(
      (await verifyAuditLog(short, { checkpoints: [cp], publicKey: signer.publicKey })).firstBad,
    ).toMatchObject({
      seq: 4,
      reason: 'truncated',
    });
    // The real one passes.
    expect(await verifyAuditLog(store, { checkpoints: [cp], publicKey: signer.publicKey })).toMatchObject({
      ok: true,
      checkpointsVerified: 1,
    });
  });

  it('two checkpoints of the same size with different roots reveal a fork', async () => {
    const { log } = await logWith(3);
    const cp = await log.checkpoint();
    const fork = await signer.sign({ treeSize: 3, rootHash: 'ab'.repeat(32), time: cp.time, logId: 'app-1' });
    const report = await log.verify({ checkpoints: [cp, fork] });
    expect(report.firstBad).toMatchObject({ seq: 3, reason: 'checkpoint-mismatch' });
  });

  it('exports and imports checkpoints as files; import trusts only the signed payload', async () => {
    const { log, store } = await logWith(4);
    const cp = await log.checkpoint();
    const file = path.join(tempDir(), 'cp.json');
    fs.writeFileSync(file, exportCheckpoint(cp, { publicKey: await signer.exportPrivateJwk() }));
    const text = fs.readFileSync(file, 'utf8');
    expect(text).not.toContain('"d"'); // the private part never leaves through an export
    const imported = importCheckpoint(text);
    expect(imported).toEqual(decodeCheckpoint(cp.jws));
    await expect(verifyCheckpoint(imported, signer.publicKey)).resolves.toMatchObject({ treeSize: 4 });
    // Editing the readable fields changes nothing: they come from the JWS.
    const doc = JSON.parse(text);
    doc.treeSize = 1;
    expect(importCheckpoint(JSON.stringify(doc)).treeSize).toBe(4);
    expect(importCheckpoint(cp.jws).treeSize).toBe(4);
    expect(() => importCheckpoint('{"format":"other"}')).toThrow(
      expect.objectContaining({ code: ErrorCodes.AUDIT_CHECKPOINT_INVALID }),
    );
    await log.append(event());
    expect((await verifyAuditLog(store, { checkpoints: [imported], publicKey: signer.publicKey })).ok).toBe(
      true,
    );
  });

  it('FileCheckpointStore persists checkpoints apart from the log and refuses a rollback', async () => {
    const file = path.join(tempDir(), 'checkpoints.jwsl');
    const cps = new FileCheckpointStore({ path: file });
    const { log, store } = await logWith(2, { checkpointStore: cps });
    const a = await log.checkpoint();
    await log.append(event());
    const b = await log.checkpoint();
    const reread = new FileCheckpointStore({ path: file });
    expect((await reread.list()).map((c) => c.treeSize)).toEqual([2, 3]);
    expect((await reread.latest())?.jws).toBe(b.jws);
    await expect(reread.save(a)).rejects.toMatchObject({
      code: ErrorCodes.AUDIT_CHECKPOINT_INVALID,
      details: { reason: 'rollback' },
    });
    // verify() uses the stored checkpoints by default: truncating the store is caught.
    store.rawEntries.length = 2;
    const report = await verifyAuditLog(store, {
      checkpoints: await reread.list(),
      publicKey: signer.publicKey,
    });
    expect(report.firstBad).toMatchObject({ seq: 3, reason: 'truncated' });
    fs.appendFileSync(file, 'garbage\n');
    await expect(reread.list()).rejects.toMatchObject({ code: ErrorCodes.AUDIT_CHECKPOINT_INVALID });
  });

  it('incremental verification checks only new entries and the consistency with the trusted checkpoint', async () => {
    const cps = new MemoryCheckpointStore();
    const { log, store } = await logWith(10, { checkpointStore: cps });
    const cp = await log.checkpoint();
    for (let i = 0; i < 5; i++) await log.append(event());
    const inc = await log.verify({ from: cp });
    expect(inc).toMatchObject({ ok: true, checkedEntries: 5, treeSize: 15 });
    // A new entry tampered: found.
    const tampered = copyEntries(store.rawEntries);
    tampered[12]!.outcome = 'failure';
    expect(
      (await verifyAuditLog(tampered, { from: cp, publicKey: signer.publicKey })).firstBad,
    ).toMatchObject({
      seq: 13,
      reason: 'hash-mismatch',
    });
    // An old leaf hash replaced (history rewritten): the trusted prefix no longer has the signed root.
    const rewritten = copyEntries(store.rawEntries);
    rewritten[3]!.leafHash = 'ff'.repeat(32);
    expect(
      (await verifyAuditLog(rewritten, { from: cp, publicKey: signer.publicKey })).firstBad,
    ).toMatchObject({
      seq: 10,
      reason: 'checkpoint-mismatch',
    });
    // Consistency proof between the checkpoint and now.
    const proof = log.proveConsistency(cp.treeSize);
    expect(AuditLog.verifyConsistency(proof, { fromRoot: cp.rootHash, toRoot: log.root() })).toBe(true);
    expect(AuditLog.verifyConsistency(proof, { fromRoot: 'ab'.repeat(32) })).toBe(false);
    expect(AuditLog.verifyConsistency({ ...proof, proof: proof.proof.slice(1) })).toBe(false);
  });

  it('checkpoint() without a signer is a config error', async () => {
    const log = await AuditLog.open({ store: new MemoryAuditStore() });
    await expect(log.checkpoint()).rejects.toMatchObject({ code: ErrorCodes.CONFIG_INVALID });
  });
});
