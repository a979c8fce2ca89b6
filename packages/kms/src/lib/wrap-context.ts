import { createHash } from 'node:crypto';
import { BulwarkCryptoError, ErrorCodes, type KeyWrapContext } from '@bulwark/core';

const LABEL = 'bulwark/key-wrap/v1';
const SUBJECT_PREFIX = '$subject:';

/** Refuses anything but a `{ keyId: string, version: safe integer }` context. @internal */
export function checkContext(context: KeyWrapContext): void {
  if (
    context === null ||
    typeof context !== 'object' ||
    typeof context.keyId !== 'string' ||
    context.keyId === '' ||
    !Number.isSafeInteger(context.version)
  ) {
    throw new BulwarkCryptoError(ErrorCodes.CRYPTO_INVALID_ARGUMENT, 'Invalid key wrap context');
  }
}

/**
 * The context as associated data (AES-GCM AAD, Cloud KMS additionalAuthenticatedData, Vault
 * associated_data): a fixed label and the JSON of a fixed-shape array, an unambiguous encoding of
 * (key id, version), the same as core's local master key uses. AAD is authenticated but never
 * logged by the services, so the subject reference may appear in it.
 * @internal
 */
export function contextAad(context: KeyWrapContext): Buffer {
  checkContext(context);
  return Buffer.from(`${LABEL}${JSON.stringify([context.keyId, context.version])}`, 'utf8');
}

/** SHA-256 of contextAad (Azure Key Vault: bound inside the wrapped payload). @internal */
export function contextDigest(context: KeyWrapContext): Buffer {
  return createHash('sha256').update(contextAad(context)).digest();
}

/**
 * The context as a KMS encryption context (AWS): string pairs that the service binds to the
 * ciphertext AND writes in clear to its audit log (CloudTrail). Key ids and versions are
 * operational names and stay readable there; a data subject's reference is personal data, so
 * only its SHA-256 goes out.
 * @internal
 */
export function contextFields(context: KeyWrapContext): Record<string, string> {
  checkContext(context);
  const fields: Record<string, string> = { 'bulwark:version': String(context.version) };
  if (context.keyId.startsWith(SUBJECT_PREFIX)) {
    fields['bulwark:key'] = '$subject';
    fields['bulwark:subject-sha256'] = createHash('sha256')
      .update(context.keyId.slice(SUBJECT_PREFIX.length), 'utf8')
      .digest('base64url');
  } else {
    fields['bulwark:key'] = context.keyId;
  }
  return fields;
}
