import type { CryptoKey, JWK } from 'jose';
import { BulwarkConfigError, ErrorCodes } from '../errors';
import { jose } from './jose';

/**
 * An Ed25519 key pair that signs compact JWS (alg EdDSA, RFC 8037) with an explicit `typ`
 * (RFC 8725 §3.11), so a JWS made for one purpose never verifies as another. The one signer behind
 * `CheckpointSigner` (tree heads) and `ErasureReceiptSigner` (erasure receipts): each pins its own
 * `typ` and names its own config path in errors.
 */
export class Ed25519JwsSigner {
  private constructor(
    private readonly privateKey: CryptoKey,
    readonly publicKey: CryptoKey,
    readonly typ: string,
    readonly kid?: string,
  ) {}

  /** A fresh key pair (extractable, so it can be exported and persisted). */
  static async generate(typ: string, kid?: string): Promise<Ed25519JwsSigner> {
    const { privateKey, publicKey } = await jose().generateKeyPair('EdDSA', {
      crv: 'Ed25519',
      extractable: true,
    });
    return new Ed25519JwsSigner(privateKey, publicKey, typ, kid);
  }

  /** From a private Ed25519 JWK (`{ kty: 'OKP', crv: 'Ed25519', x, d }`); `path` names the option in errors. */
  static async fromJWK(jwk: JWK, typ: string, path: string): Promise<Ed25519JwsSigner> {
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
        `${path} must be a private Ed25519 JWK (kty OKP, crv Ed25519, with d)`,
        { path },
      );
    }
    try {
      const base = { kty: 'OKP', crv: 'Ed25519', x: jwk.x };
      const privateKey = (await jose().importJWK({ ...base, d: jwk.d }, 'EdDSA', {
        extractable: true,
      })) as CryptoKey;
      const publicKey = (await jose().importJWK(base, 'EdDSA', { extractable: true })) as CryptoKey;
      return new Ed25519JwsSigner(privateKey, publicKey, typ, jwk.kid);
    } catch (err) {
      throw new BulwarkConfigError(
        ErrorCodes.CONFIG_INVALID,
        `${path} is not a usable Ed25519 key`,
        { path },
        { cause: err },
      );
    }
  }

  /** The public JWK to pin in verifiers (with `kid` when set). */
  async exportPublicJwk(): Promise<JWK> {
    const jwk = await jose().exportJWK(this.publicKey);
    return { kty: jwk.kty, crv: jwk.crv, x: jwk.x, ...(this.kid === undefined ? {} : { kid: this.kid }) };
  }

  /** The private JWK, for persisting the key (handle as a secret). */
  async exportPrivateJwk(): Promise<JWK> {
    const jwk = await jose().exportJWK(this.privateKey);
    return { ...jwk, ...(this.kid === undefined ? {} : { kid: this.kid }) };
  }

  /** Compact JWS over `payload` with header `{ alg: 'EdDSA', typ, kid? }`. */
  async sign(payload: Uint8Array): Promise<string> {
    return new (jose().CompactSign)(payload)
      .setProtectedHeader({
        alg: 'EdDSA',
        typ: this.typ,
        ...(this.kid === undefined ? {} : { kid: this.kid }),
      })
      .sign(this.privateKey);
  }
}
