import type { CryptoKey, JWK } from 'jose';
import { Ed25519JwsSigner } from '../lib/ed25519-jws-signer';
import { canonicalBytes } from './canonical-json';
import { CHECKPOINT_JWS_TYPE, parseTreeHead, type Checkpoint, type TreeHead } from './checkpoint';

/**
 * Signs tree heads with an Ed25519 key (JWS alg EdDSA, RFC 8037, typ CHECKPOINT_JWS_TYPE). Keep the
 * private key away from the log's storage (a KMS, another host, or at least another file with other
 * permissions): whoever holds it can sign a rewritten history.
 */
export class CheckpointSigner {
  private constructor(private readonly key: Ed25519JwsSigner) {}

  /** A signer with a fresh Ed25519 key pair (extractable, so it can be exported and persisted). */
  static async generate(options: { kid?: string } = {}): Promise<CheckpointSigner> {
    return new CheckpointSigner(await Ed25519JwsSigner.generate(CHECKPOINT_JWS_TYPE, options.kid));
  }

  /** A signer from a private Ed25519 JWK (`{ kty: 'OKP', crv: 'Ed25519', x, d }`). */
  static async fromJWK(jwk: JWK): Promise<CheckpointSigner> {
    return new CheckpointSigner(
      await Ed25519JwsSigner.fromJWK(jwk, CHECKPOINT_JWS_TYPE, 'audit.checkpoint.key'),
    );
  }

  get publicKey(): CryptoKey {
    return this.key.publicKey;
  }

  get kid(): string | undefined {
    return this.key.kid;
  }

  /** The public JWK to pin in verifiers. */
  exportPublicJwk(): Promise<JWK> {
    return this.key.exportPublicJwk();
  }

  /** The private JWK, for persisting the key (handle as a secret). */
  exportPrivateJwk(): Promise<JWK> {
    return this.key.exportPrivateJwk();
  }

  /** Signs a tree head; the payload is its canonical JSON (RFC 8785). */
  async sign(head: TreeHead): Promise<Checkpoint> {
    const valid = parseTreeHead(head);
    return { ...valid, jws: await this.key.sign(canonicalBytes(valid)) };
  }
}
