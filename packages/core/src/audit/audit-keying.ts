import type { AuditStore } from './audit-store';
import { EntryHasher } from './entry-hasher';

/**
 * Whether a log's leaf hashes are HMAC-keyed, read from the log itself:
 * - `keyed`: not one sampled entry's leaf hash is the plain SHA-256 of the entry (with `hmacKey`:
 *   and every one matches the key). A log written with a key never matches unkeyed (a 2^-256
 *   chance), while tampering with an unkeyed log changes some entries, not all of them.
 * - `unkeyed`: every sampled entry matches the plain hash.
 * - `wrong-key`: given a key, no sampled entry matches it nor the plain hash.
 * - `mixed`: some match, some do not: the entries that do not were changed (tampering), whatever
 *   the key.
 * - `empty`: no entry with content to check (an empty log, or only redacted stubs).
 */
export type AuditKeying = 'keyed' | 'unkeyed' | 'wrong-key' | 'mixed' | 'empty';

export interface AuditKeyingReport {
  keying: AuditKeying;
  /** Entries with content that were hashed. */
  sampled: number;
}

/**
 * Samples the first `sample` (default 32) entries with content and tells whether the log is
 * HMAC-keyed, so a verifier run without the key can say "the log is keyed, pass its key" instead
 * of reporting every entry as tampered. Never needs or reveals the key.
 */
export async function detectAuditKeying(
  store: Pick<AuditStore, 'read'>,
  options: { hmacKey?: Uint8Array; sample?: number } = {},
): Promise<AuditKeyingReport> {
  const want = options.sample ?? 32;
  const plain = new EntryHasher();
  const keyed = options.hmacKey !== undefined ? new EntryHasher(options.hmacKey) : undefined;
  let sampled = 0;
  let plainMatches = 0;
  let keyMatches = 0;
  for (let seq = 1; sampled < want;) {
    const page = await store.read(seq, 256);
    for (const entry of page) {
      // A redaction stub keeps the original hash but not the content it was computed over.
      if (entry.redacted !== undefined) continue;
      sampled++;
      if (plain.matches(entry)) plainMatches++;
      if (keyed?.matches(entry) === true) keyMatches++;
      if (sampled >= want) break;
    }
    if (page.length < 256) break;
    seq += page.length;
  }
  if (sampled === 0) return { keying: 'empty', sampled };
  let keying: AuditKeying;
  if (plainMatches === sampled) keying = 'unkeyed';
  else if (keyed !== undefined && keyMatches === sampled) keying = 'keyed';
  else if (plainMatches === 0 && keyMatches === 0) keying = keyed === undefined ? 'keyed' : 'wrong-key';
  else keying = 'mixed';
  return { keying, sampled };
}
