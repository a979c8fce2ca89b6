import { decodeProtectedHeader } from 'jose';
import { CHECKPOINT_JWS_TYPE, verifyCheckpoint, type TreeHead } from '../../src/audit/checkpoint';
import { CheckpointSigner } from '../../src/audit/checkpoint-signer';
import { ErrorCodes } from '../../src/errors';
import { Ed25519JwsSigner } from '../../src/lib/ed25519-jws-signer';
import {
  ERASURE_RECEIPT_FORMAT,
  ERASURE_RECEIPT_JWS_TYPE,
  ErasureReceiptSigner,
  erasureSubjectRef,
  verifyErasureReceipt,
  type ErasureReceipt,
} from '../../src/privacy/erasure-receipt';

const head: TreeHead = { treeSize: 1, rootHash: 'a'.repeat(64), time: '2026-01-01T00:00:00.000Z' };

function receipt(): ErasureReceipt {
  return {
    format: ERASURE_RECEIPT_FORMAT,
    requestId: 'req-1',
    subjectRef: erasureSubjectRef('req-1', 'alice'),
    sourcesErased: ['users'],
    recordsErased: { users: 1 },
    shredded: true,
    auditRedacted: 0,
    completedAt: '2026-01-01T00:00:00.000Z',
  };
}

describe('Ed25519JwsSigner (behind CheckpointSigner and ErasureReceiptSigner)', () => {
  it('signs with alg EdDSA, its own typ and the kid', async () => {
    const signer = await Ed25519JwsSigner.generate('example+jws', 'k1');
    const jws = await signer.sign(new TextEncoder().encode('{}'));
    expect(decodeProtectedHeader(jws)).toEqual({ alg: 'EdDSA', typ: 'example+jws', kid: 'k1' });
  });

  it('round-trips a key through its private JWK: the same public key and kid', async () => {
    const signer = await Ed25519JwsSigner.generate('example+jws', 'k1');
    const again = await Ed25519JwsSigner.fromJWK(await signer.exportPrivateJwk(), 'example+jws', 'x.key');
    expect(await again.exportPublicJwk()).toEqual(await signer.exportPublicJwk());
    expect((await signer.exportPublicJwk()).d).toBeUndefined();
  });

  it('names the option path when the JWK is not a private Ed25519 key', async () => {
    const publicOnly = await (await Ed25519JwsSigner.generate('t')).exportPublicJwk();
    for (const [jwk, path] of [
      [publicOnly, 'audit.checkpoint.key'],
      [{ kty: 'EC', crv: 'P-256', x: 'a', d: 'b' }, 'privacy.erasureReceipts.key'],
    ] as const) {
      await expect(Ed25519JwsSigner.fromJWK(jwk, 't', path)).rejects.toMatchObject({
        code: ErrorCodes.CONFIG_INVALID,
        message: expect.stringContaining(path),
        details: { path },
      });
    }
    await expect(
      Ed25519JwsSigner.fromJWK({ kty: 'OKP', crv: 'Ed25519', x: 'short', d: 'short' }, 't', 'a.b'),
    ).rejects.toMatchObject({ code: ErrorCodes.CONFIG_INVALID, message: 'a.b is not a usable Ed25519 key' });
  });

  it('keeps the two purposes apart: each signer pins its typ and each verifier refuses the other', async () => {
    const jwk = await (await CheckpointSigner.generate({ kid: 'shared' })).exportPrivateJwk();
    // The same key in both roles: only the typ separates a checkpoint from a receipt.
    const checkpoints = await CheckpointSigner.fromJWK(jwk);
    const receipts = await ErasureReceiptSigner.fromJWK(jwk);
    const publicJwk = await checkpoints.exportPublicJwk();
    expect(await receipts.exportPublicJwk()).toEqual(publicJwk);

    const checkpoint = await checkpoints.sign(head);
    const receiptJws = await receipts.sign(receipt());
    expect(decodeProtectedHeader(checkpoint.jws).typ).toBe(CHECKPOINT_JWS_TYPE);
    expect(decodeProtectedHeader(receiptJws).typ).toBe(ERASURE_RECEIPT_JWS_TYPE);

    await expect(verifyCheckpoint(checkpoint, publicJwk)).resolves.toBeDefined();
    await expect(verifyErasureReceipt(receiptJws, publicJwk)).resolves.toMatchObject({ requestId: 'req-1' });
    await expect(verifyErasureReceipt(checkpoint.jws, publicJwk)).rejects.toMatchObject({
      code: ErrorCodes.DSR_RECEIPT_INVALID,
    });
    await expect(verifyCheckpoint({ ...checkpoint, jws: receiptJws }, publicJwk)).rejects.toBeDefined();
  });
});
