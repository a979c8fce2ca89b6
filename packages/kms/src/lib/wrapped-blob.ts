/**
 * Wrapped keys as the key store holds them: `<format>.<part>.<part>…`, each part base64url, so a
 * blob is ASCII without the `.` separator inside a part. The format prefix names the provider and
 * its layout (`p11g1`, `awskms1`…), so a blob of one provider handed to another is refused before
 * any call to the service.
 * @internal
 */
export function formatBlob(format: string, parts: ReadonlyArray<Buffer | string>): string {
  return [format, ...parts.map((p) => (typeof p === 'string' ? p : p.toString('base64url')))].join('.');
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;

/**
 * Splits a blob of `format` into `count` parts; undefined when the prefix, the number of parts or
 * an encoding is wrong (the caller answers ERR_CRYPTO_KEY_UNWRAP_FAILED).
 * @internal
 */
export function parseBlob(wrapped: unknown, format: string, count: number): string[] | undefined {
  if (typeof wrapped !== 'string' || wrapped.length > 16384) return undefined;
  const parts = wrapped.split('.');
  if (parts.length !== count + 1 || parts[0] !== format) return undefined;
  const rest = parts.slice(1);
  return rest.every((p) => BASE64URL.test(p)) ? rest : undefined;
}

/** base64url part -> bytes (parseBlob checked the alphabet). @internal */
export function bytes(part: string): Buffer {
  return Buffer.from(part, 'base64url');
}
