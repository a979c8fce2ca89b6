/**
 * Which key a wrapped data key belongs to. Providers MUST bind it to the wrapping (as AEAD
 * associated data, a KMS encryption context, or Vault Transit `context`), so a wrapped key copied
 * to another key id / version in the store fails to unwrap instead of silently swapping keys.
 *
 * Bulwark passes ordinary key ids (`/^[A-Za-z0-9_-]{1,64}$/`) and two reserved forms that cannot
 * collide with them: `$ring` (the ring's internal secret) and `$subject:<ref>` (a data subject's key).
 */
export interface KeyWrapContext {
  readonly keyId: string;
  readonly version: number;
}

/**
 * Source of the master key (key-encryption key, KEK). Bulwark never sees a KMS-held master key:
 * it generates random 32-byte data keys and asks the provider to wrap (encrypt) them for the key
 * store and to unwrap them when the ring opens. Calls are rare (open, create, rotate, new subject),
 * so a network round trip per call is fine; encryption of values never calls the provider.
 *
 * Implementing a cloud KMS or Vault Transit provider:
 * - AWS KMS: `wrapKey` = `Encrypt({ KeyId, Plaintext: dataKey, EncryptionContext: { keyId, version: String(version) } })`,
 *   return the CiphertextBlob as base64; `unwrapKey` = `Decrypt` with the SAME EncryptionContext.
 * - Google Cloud KMS: `encrypt` / `decrypt` with `additionalAuthenticatedData` = a canonical
 *   encoding of the context (e.g. `JSON.stringify([keyId, version])`).
 * - Azure Key Vault: `wrapKey` / `unwrapKey` (RSA-OAEP-256 or AES-KW); bind the context by
 *   storing it beside the blob and checking it, or by using an AEAD-capable key.
 * - HashiCorp Vault Transit: `POST transit/encrypt/<name>` with `plaintext` = base64(dataKey) and
 *   `context` = base64 of the canonical context on a `derived` key; `transit/decrypt` likewise.
 *   Vault's rewrap (`transit/rewrap`) can re-wrap stored keys after a master-key rotation.
 *
 * Contract:
 * - `wrapKey` returns an opaque ASCII string (stored as-is; keep it under a few KiB).
 * - `unwrapKey` returns the exact 32 bytes, or throws `BulwarkCryptoError` with
 *   `ERR_CRYPTO_KEY_UNWRAP_FAILED` when the blob or context does not verify (wrong master key,
 *   tampered store) and `ERR_CRYPTO_KEY_PROVIDER` when the master key itself is unavailable.
 *   Other errors are wrapped by the key ring as `ERR_CRYPTO_KEY_PROVIDER`.
 * - Never log or put the data key or master key in an error message.
 * - `close()` releases master key material and connections; later calls should throw.
 */
export interface KeyProvider {
  /** Short, non-secret description for logs and reports (e.g. `env:BULWARK_MASTER_KEY`). */
  readonly name: string;
  wrapKey(dataKey: Buffer, context: KeyWrapContext): Promise<string>;
  unwrapKey(wrapped: string, context: KeyWrapContext): Promise<Buffer>;
  /**
   * A stable, non-secret name of the master key itself (e.g. a KMS key ARN and key version, or
   * the local providers' fingerprint `k1-…`), matching `/^[A-Za-z0-9_:/+=-]{1,200}$/`. Optional,
   * but needed for master-key rotation: the ring records it with every key it wraps
   * (`mk1.<id>.<wrapped>`), which is how a rotation knows what is done, and how a ring opened
   * with a `previousProvider` picks the provider for each wrapped key. Two different master keys
   * must never share an id.
   */
  masterKeyId?(): Promise<string>;
  close?(): Promise<void>;
}
