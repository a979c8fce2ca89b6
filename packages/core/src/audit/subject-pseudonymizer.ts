import { createHmac } from 'node:crypto';
import { BulwarkConfigError, ErrorCodes } from '../errors';
import type { AuditActor, AuditEntry, AuditEvent, AuditJsonValue } from './audit-event';

export interface SubjectPseudonymizerOptions {
  /** HMAC-SHA256 key, at least 32 bytes. Keep it: the same key gives the same pseudonym later. */
  key: Uint8Array;
}

/** `details` key under which a preserved copy names the entry it was made from. */
export const PRESERVED_FROM_KEY = 'erasurePreservedFrom';

/** Identifiers at least this long are replaced wherever they occur; shorter ones only as whole tokens. */
const SUBSTRING_MIN = 8;
/** Extra identifiers shorter than this are not replaced (they would match too much). */
const MIN_EXTRA_IDENTIFIER = 3;
const DOMAIN = 'bulwark/subject-pseudonym/v1\u0000';
const SESSION_DOMAIN = 'bulwark/session-pseudonym/v1\u0000';

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Keyed, stable pseudonyms for a data subject (GDPR Art. 4(5)): `pseudonym:<HMAC-SHA256 of the
 * subject id, 128 bits, base64url>`. The same subject always gets the same pseudonym under one key,
 * so the entries of one actor still correlate after erasure, and the key holder can re-identify
 * a suspect for a legal claim (Art. 17(3)(e)) by recomputing it; without the key it reveals nothing,
 * even for guessable ids.
 *
 * `preserve()` turns an audit entry into an event in which every occurrence of the subject's
 * identifiers is replaced by the pseudonym: the basis of the evidence that erasure keeps.
 */
export class SubjectPseudonymizer {
  readonly #key: Buffer;

  constructor(options: SubjectPseudonymizerOptions) {
    const key = (options as Partial<SubjectPseudonymizerOptions> | undefined)?.key;
    if (!(key instanceof Uint8Array) || key.length < 32) {
      throw new BulwarkConfigError(
        ErrorCodes.CONFIG_INVALID,
        'pseudonymizer.key must be a Uint8Array of at least 32 bytes',
        { path: 'pseudonymizer.key' },
      );
    }
    this.#key = Buffer.from(key);
  }

  /** The subject's pseudonym (stable for a key). */
  pseudonym(subjectId: string): string {
    return `pseudonym:${this.mac(DOMAIN, subjectId)}`;
  }

  /**
   * A copy of `entry`'s content with the subject pseudonymised, as an event to append: every
   * identifier (the subject id first, then e-mail, name...) replaced by `pseudonym(identifiers[0])`
   * in the actor id and user agent, the resource id, the reason and the details (keys and values);
   * a session id replaced by its own keyed pseudonym (a session id is a bearer secret, yet still
   * correlates the entries). Time, action, outcome, category, resource type, request id and the
   * actor's IP address are kept as they are: they are the evidence, and structural fields are
   * never rewritten, so a subject who named themselves `http` cannot garble the actions.
   * `details[PRESERVED_FROM_KEY]` names the original seq and leaf hash.
   *
   * Identifiers other than the subject id that are shorter than 3 characters are ignored. The
   * caller vouches for the identifiers: one a subject chose freely (a display name equal to another
   * user's id) would replace that text too.
   */
  preserve(entry: AuditEntry, identifiers: readonly string[]): AuditEvent {
    if (identifiers.length === 0 || identifiers.some((i) => typeof i !== 'string' || i === '')) {
      throw new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, 'identifiers must be non-empty strings', {
        path: 'pseudonymizer.identifiers',
      });
    }
    if (entry.actor === undefined || entry.action === undefined || entry.outcome === undefined) {
      throw new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, 'a redacted entry cannot be preserved', {
        path: 'pseudonymizer.entry',
        seq: entry.seq,
      });
    }
    const replace = this.replacer([
      identifiers[0]!,
      ...identifiers.slice(1).filter((i) => i.length >= MIN_EXTRA_IDENTIFIER),
    ]);
    const actor: AuditActor = { id: replace(entry.actor.id), type: entry.actor.type };
    if (entry.actor.ip !== undefined) actor.ip = entry.actor.ip;
    if (entry.actor.userAgent !== undefined) actor.userAgent = replace(entry.actor.userAgent);
    if (entry.actor.sessionId !== undefined) {
      actor.sessionId = `session-pseudonym:${this.mac(SESSION_DOMAIN, entry.actor.sessionId)}`;
    }
    const details: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(entry.details ?? {})) details[replace(k)] = this.walk(v, replace);
    details[PRESERVED_FROM_KEY] = { seq: entry.seq, leafHash: entry.leafHash };
    return {
      actor,
      action: entry.action,
      ...(entry.resource === undefined
        ? {}
        : {
            resource: {
              type: entry.resource.type,
              ...(entry.resource.id === undefined ? {} : { id: replace(entry.resource.id) }),
            },
          }),
      outcome: entry.outcome,
      ...(entry.reason === undefined ? {} : { reason: replace(entry.reason) }),
      ...(entry.requestId === undefined ? {} : { requestId: entry.requestId }),
      time: entry.time,
      category: entry.category,
      details,
    };
  }

  private walk(value: AuditJsonValue, replace: (s: string) => string): AuditJsonValue {
    if (typeof value === 'string') return replace(value);
    if (value === null || typeof value !== 'object') return value;
    if (Array.isArray(value)) return value.map((v) => this.walk(v, replace));
    const out: { [key: string]: AuditJsonValue } = {};
    for (const [k, v] of Object.entries(value)) out[replace(k)] = this.walk(v, replace);
    return out;
  }

  /**
   * Case-insensitive replacement of every identifier, longest first. A long identifier (a UUID,
   * an e-mail address) goes wherever it occurs; a short one only as a whole token, so the id `7`
   * does not rewrite `17`.
   */
  private replacer(identifiers: readonly string[]): (text: string) => string {
    const pseudonym = this.pseudonym(identifiers[0]!);
    const sorted = [...new Set(identifiers)].sort((a, b) => b.length - a.length);
    const alternatives = sorted.map((id) =>
      id.length >= SUBSTRING_MIN
        ? escapeRegExp(id)
        : `(?<![\\p{L}\\p{N}])${escapeRegExp(id)}(?![\\p{L}\\p{N}])`,
    );
    const pattern = new RegExp(alternatives.join('|'), 'giu');
    return (text) => text.replace(pattern, pseudonym);
  }

  private mac(domain: string, value: string): string {
    return createHmac('sha256', this.#key)
      .update(domain + value, 'utf8')
      .digest()
      .subarray(0, 16)
      .toString('base64url');
  }
}
