import fc from 'fast-check';
import type { AuditEntry } from '../../src/audit/audit-event';
import { SubjectPseudonymizer } from '../../src/audit/subject-pseudonymizer';

const p = new SubjectPseudonymizer({ key: Buffer.alloc(32, 3) });

/**
 * Text with the identifiers (in any letter case) among arbitrary characters. Parts are joined by a
 * space: an identifier shorter than 8 characters is replaced as a token, not inside a longer word.
 */
function textWith(ids: string[]) {
  return fc
    .array(
      fc.oneof(
        fc.string({ maxLength: 6 }),
        fc.constantFrom(...ids),
        fc.constantFrom(...ids).map((s) => s.toUpperCase()),
      ),
      { maxLength: 6 },
    )
    .map((parts) => parts.join(' '));
}

describe('SubjectPseudonymizer (property)', () => {
  it('no identifier of the subject survives in a preserved entry (long ones anywhere, short ones as tokens)', () => {
    const identifiers = fc.tuple(fc.uuid(), fc.emailAddress(), fc.constantFrom('Alice Martin', 'José Núñez'));
    fc.assert(
      fc.property(
        identifiers.chain((ids) =>
          fc.tuple(
            fc.constant(ids),
            textWith(ids),
            textWith(ids),
            textWith(ids),
            fc.dictionary(textWith(ids), textWith(ids), { maxKeys: 4 }),
            fc.uuid().map((u) => u.replace(/-/g, '')),
          ),
        ),
        ([ids, reason, userAgent, resourceId, details, glued]) => {
          const entry: AuditEntry = {
            seq: 12,
            time: '2025-06-01T10:00:00.000Z',
            actor: { id: ids[0], type: 'user', userAgent, sessionId: `${ids[1]}-session` },
            action: 'http.get',
            resource: { type: 'patients', id: resourceId },
            outcome: 'denied',
            reason,
            category: 'http',
            details: { ...details, nested: [{ who: ids[2] }, ids[1]], glued: `${glued}${ids[0]}${glued}` },
            prevHash: '0'.repeat(64),
            leafHash: 'a'.repeat(64),
          };
          const out = JSON.stringify(p.preserve(entry, ids)).toLowerCase();
          for (const id of ids) expect(out).not.toContain(id.toLowerCase());
        },
      ),
      { numRuns: 300 },
    );
  });
});
