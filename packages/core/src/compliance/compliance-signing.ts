import type { KeyObject } from 'node:crypto';
import type { CryptoKey, JWK, ProtectedHeaderParameters } from 'jose';
import { BulwarkComplianceError, type ErrorCode } from '../errors';
import { jose } from '../lib/jose';
import { Ed25519JwsSigner } from '../lib/ed25519-jws-signer';

// Ed25519 signing for compliance artefacts. Each artefact has its own JWS `typ` (RFC 8725 §3.11
// explicit typing), so an attestation never verifies as a snapshot or a report, nor as an audit
// checkpoint or an erasure receipt.

/** JWS `typ` of a signed evidence snapshot (`ComplianceKit.snapshot()`). */
export const EVIDENCE_SNAPSHOT_JWS_TYPE = 'bulwark-evidence-snapshot+jws';
/** JWS `typ` of a signed attestation (`ComplianceKit.attest()`). */
export const ATTESTATION_JWS_TYPE = 'bulwark-attestation+jws';
/** JWS `typ` of a report's detached signature (`ComplianceReportOptions.signer`). */
export const COMPLIANCE_REPORT_JWS_TYPE = 'bulwark-compliance-report+jws';

/** A public key a verifier pins: a public Ed25519 JWK, a CryptoKey or a KeyObject. */
export type CompliancePublicKey = JWK | CryptoKey | KeyObject;

/**
 * An Ed25519 key that signs one kind of compliance artefact. Make one with
 * `ComplianceSigner.generate(purpose)` or from a private JWK (`bulwark audit keygen --out FILE`
 * writes one); give verifiers `exportPublicJwk()`. Keep the private key secret.
 */
export class ComplianceSigner {
  private constructor(
    private readonly key: Ed25519JwsSigner,
    readonly purpose: CompliancePurpose,
  ) {}

  static async generate(
    purpose: CompliancePurpose,
    options: { kid?: string } = {},
  ): Promise<ComplianceSigner> {
    return new ComplianceSigner(await Ed25519JwsSigner.generate(typeOf(purpose), options.kid), purpose);
  }

  /** From a private Ed25519 JWK; `kid` overrides the JWK's own. `path` names the option in errors. */
  static async fromJWK(
    purpose: CompliancePurpose,
    jwk: JWK,
    options: { kid?: string; path?: string } = {},
  ): Promise<ComplianceSigner> {
    const withKid = options.kid === undefined ? jwk : { ...jwk, kid: options.kid };
    return new ComplianceSigner(
      await Ed25519JwsSigner.fromJWK(withKid, typeOf(purpose), options.path ?? `compliance.${purpose}Key`),
      purpose,
    );
  }

  get kid(): string | undefined {
    return this.key.kid;
  }

  get publicKey(): CryptoKey {
    return this.key.publicKey;
  }

  exportPublicJwk(): Promise<JWK> {
    return this.key.exportPublicJwk();
  }

  /** The private JWK, for persisting the key (handle as a secret). */
  exportPrivateJwk(): Promise<JWK> {
    return this.key.exportPrivateJwk();
  }

  /** Compact JWS over `payload`. */
  sign(payload: Uint8Array): Promise<string> {
    return this.key.sign(payload);
  }
}

/** What a ComplianceSigner signs: evidence snapshots, attestations or reports. */
export type CompliancePurpose = 'snapshot' | 'attestation' | 'report';

function typeOf(purpose: CompliancePurpose): string {
  switch (purpose) {
    case 'snapshot':
      return EVIDENCE_SNAPSHOT_JWS_TYPE;
    case 'attestation':
      return ATTESTATION_JWS_TYPE;
    case 'report':
      return COMPLIANCE_REPORT_JWS_TYPE;
    default:
      throw new TypeError(`unknown compliance signing purpose ${String(purpose)}`);
  }
}

/** Imports a verifier's public key; a JWK must be a public Ed25519 OKP key (private parts ignored). */
export async function importCompliancePublicKey(
  publicKey: CompliancePublicKey,
  fail: (message: string, cause?: unknown) => Error,
): Promise<CryptoKey | KeyObject> {
  if (publicKey === null || typeof publicKey !== 'object') throw fail('the public key is missing');
  if ('kty' in publicKey) {
    const jwk = publicKey as JWK;
    if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') {
      throw fail('the public key must be an Ed25519 JWK (kty OKP, crv Ed25519, x)');
    }
    try {
      return (await jose().importJWK({ kty: 'OKP', crv: 'Ed25519', x: jwk.x }, 'EdDSA')) as CryptoKey;
    } catch (err) {
      throw fail('the public key is not a usable Ed25519 key', err);
    }
  }
  return publicKey as CryptoKey | KeyObject;
}

/**
 * Verifies a compact JWS of one purpose and returns its payload and header. Only EdDSA with the
 * purpose's `typ` is accepted. Errors are BulwarkComplianceError with `code`.
 */
export async function verifyComplianceJws(
  jws: string,
  purpose: CompliancePurpose,
  publicKey: CompliancePublicKey,
  code: ErrorCode,
  what: string,
  maxLength = 64 * 1024 * 1024,
): Promise<{ payload: Uint8Array; header: ProtectedHeaderParameters }> {
  const fail = (message: string, cause?: unknown): BulwarkComplianceError =>
    new BulwarkComplianceError(
      code,
      `${what}: ${message}`,
      undefined,
      cause === undefined ? undefined : { cause },
    );
  if (typeof jws !== 'string' || jws.length > maxLength || jws.split('.').length !== 3) {
    throw fail('not a compact JWS');
  }
  let header: ProtectedHeaderParameters;
  try {
    header = jose().decodeProtectedHeader(jws);
  } catch (err) {
    throw fail('the JWS header is malformed', err);
  }
  if (header.alg !== 'EdDSA' || header.typ !== typeOf(purpose)) {
    throw fail(`must be an EdDSA JWS of type ${typeOf(purpose)}`);
  }
  const key = await importCompliancePublicKey(publicKey, fail);
  try {
    const { payload } = await jose().compactVerify(jws, key, { algorithms: ['EdDSA'] });
    return { payload, header };
  } catch (err) {
    throw fail('the signature does not verify with the given public key', err);
  }
}
