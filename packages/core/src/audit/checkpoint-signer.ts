import { CompactSign, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import { BulwarkConfigError, ErrorCodes } from '../errors';
import { canonicalBytes } from './canonical-json';
import { CHECKPOINT_JWS_TYPE, parseTreeHead, type Checkpoint, type TreeHead } from './checkpoint';

/**
 * Signs tree heads with an Ed25519 key (JWS alg EdDSA, RFC 8037). Keep the private key away from
 * the log's storage (a KMS, another host, or at least another file with other permissions):
 * whoever holds it can sign a rewritten history.
 */
export class CheckpointSigner {
  private constructor(
    private readonly privateKey: CryptoKey,
    readonly publicKey: CryptoKey,
    readonly kid?: string,
  ) {}

  /** A signer with a fresh Ed25519 key pair (extractable, so it can be exported and persisted). */
  static async generate(options: { kid?: string } = {}): Promise<CheckpointSigner> {
    const { privateKey, publicKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
    return new CheckpointSigner(privateKey, publicKey, options.kid);
  }

  /** A signer from a private Ed25519 JWK (`{ kty: 'OKP', crv: 'Ed25519', x, d }`). */
  static async fromJWK(jwk: JWK): Promise<CheckpointSigner> {
    if (
      jwk === null ||
      typeof jwk !== 'object' ||
      jwk.kty !== 'OKP' ||
      jwk.crv !== 'Ed25519' ||
      typeof jwk.d !== 'string' ||
      typeof jwk.x !== 'string'
    ) {
      throw new BulwarkConfigError(
        ErrorCodes.CONFIG_INVALID,
        'audit.checkpoint.key must be a private Ed25519 JWK (kty OKP, crv Ed25519, with d)',
        {
          path: 'audit.checkpoint.key',
        },
      );
    }
    try {
      const base = { kty: 'OKP', crv: 'Ed25519', x: jwk.x };
      const privateKey = (await importJWK({ ...base, d: jwk.d }, 'EdDSA', {
        extractable: true,
      })) as CryptoKey;
      const publicKey = (await importJWK(base, 'EdDSA', { extractable: true })) as CryptoKey;
      return new CheckpointSigner(privateKey, publicKey, jwk.kid);
    } catch (err) {
      throw new BulwarkConfigError(
        ErrorCodes.CONFIG_INVALID,
        'audit.checkpoint.key is not a usable Ed25519 key',
        { path: 'audit.checkpoint.key' },
        { cause: err },
      );
    }
  }

  /** The public JWK to pin in verifiers. */
  async exportPublicJwk(): Promise<JWK> {
    const jwk = await exportJWK(this.publicKey);
    return { kty: jwk.kty, crv: jwk.crv, x: jwk.x, ...(this.kid === undefined ? {} : { kid: this.kid }) };
  }

  /** The private JWK, for persisting the key (handle as a secret). */
  async exportPrivateJwk(): Promise<JWK> {
    const jwk = await exportJWK(this.privateKey);
    return { ...jwk, ...(this.kid === undefined ? {} : { kid: this.kid }) };
  }

  /** Signs a tree head; the payload is its canonical JSON (RFC 8785). */
  async sign(head: TreeHead): Promise<Checkpoint> {
    const valid = parseTreeHead(head);
    const jws = await new CompactSign(canonicalBytes(valid))
      .setProtectedHeader({
        alg: 'EdDSA',
        typ: CHECKPOINT_JWS_TYPE,
        ...(this.kid === undefined ? {} : { kid: this.kid }),
      })
      .sign(this.privateKey);
    return { ...valid, jws };
  }
}
