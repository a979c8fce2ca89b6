import fc from 'fast-check';
import { AuditLog } from '../../src/audit/audit-log';
import { MemoryAuditStore } from '../../src/audit/memory-audit-store';
import {
  AUDIT_LIMITS,
  auditDetailsSizeBound,
  auditEntryOf,
  auditTimeOfMs,
  cloneAuditDetails,
  normalizeAuditEvent,
  normalizeAuditTime,
  type AuditJsonValue,
} from '../../src/audit/audit-event';
import { BulwarkAuditError, ErrorCodes } from '../../src/errors';

/** normalizeAuditTime as it was before its fast path for already-normal strings: Date decides. */
function viaDate(value: string): string {
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) throw new Error('invalid');
  if (!/(Z|[+-]\d{2}:?\d{2})$/i.test(value)) throw new Error('invalid');
  const iso = date.toISOString();
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/.test(iso)) throw new Error('invalid');
  return iso;
}

function outcome(fn: () => string): string {
  try {
    return fn();
  } catch (err) {
    return err instanceof BulwarkAuditError ? `error ${err.code}` : 'error';
  }
}

const pad = (n: number, width: number) => String(n).padStart(width, '0');

describe('normalizeAuditTime', () => {
  it('gives what Date gives for every string of the normal shape, in range or not', () => {
    const field = (max: number, width: number) => fc.integer({ min: 0, max }).map((n) => pad(n, width));
    fc.assert(
      fc.property(
        fc.oneof(field(9999, 4), fc.constantFrom('0000', '1900', '2000', '2024', '2100', '2025', '9999')),
        // Biased towards the edges where a hand-written check could differ from Date.
        fc.oneof(field(14, 2), fc.constantFrom('02', '04', '12')),
        fc.oneof(field(32, 2), fc.constantFrom('28', '29', '30', '31')),
        field(25, 2),
        field(61, 2),
        field(61, 2),
        field(999, 3),
        (y, mo, d, h, mi, s, ms) => {
          const time = `${y}-${mo}-${d}T${h}:${mi}:${s}.${ms}Z`;
          const expected = outcome(() => viaDate(time));
          const got = outcome(() => normalizeAuditTime(time));
          expect(got).toBe(expected === 'error' ? `error ${ErrorCodes.AUDIT_INVALID_EVENT}` : expected);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it.each([
    ['2024-02-29T23:59:59.999Z', '2024-02-29T23:59:59.999Z'],
    ['0000-02-29T00:00:00.000Z', '0000-02-29T00:00:00.000Z'],
    // Not in normal form: Date decides (roll-over, offsets, 24:00).
    ['2025-02-30T00:00:00.000Z', '2025-03-02T00:00:00.000Z'],
    ['1900-02-29T00:00:00.000Z', '1900-03-01T00:00:00.000Z'],
    ['2025-01-01T24:00:00.000Z', '2025-01-02T00:00:00.000Z'],
    ['2025-03-04T07:00:00+02:00', '2025-03-04T05:00:00.000Z'],
  ])('%s -> %s', (input, expected) => {
    expect(normalizeAuditTime(input)).toBe(expected);
  });

  it.each([
    '2025-13-01T00:00:00.000Z',
    '2025-01-01T23:60:00.000Z',
    '+010000-01-01T00:00:00.000Z',
    '2025-01-01T00:00:00',
  ])('rejects %s', (input) => {
    expect(outcome(() => normalizeAuditTime(input))).toBe(`error ${ErrorCodes.AUDIT_INVALID_EVENT}`);
  });
});

describe('normalizeAuditTime of Dates (the per-second cache of the log clock)', () => {
  const MAX = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
  const MIN = -62_167_219_200_000; // 0000-01-01T00:00:00.000Z

  it('gives toISOString for every Date (and every clock ms), whether or not the one before was in the same second', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            // Jumps anywhere in the supported range (years 0000-9999, before and after 1970)...
            fc.integer({ min: MIN, max: MAX }).map((t) => ({ jump: t })),
            // ...and steps within or just past the current second, as a clock gives them.
            fc.integer({ min: -1500, max: 1500 }).map((d) => ({ step: d })),
          ),
          { minLength: 1, maxLength: 40 },
        ),
        fc.array(fc.boolean(), { minLength: 40, maxLength: 40 }),
        (moves, asMs) => {
          let t = Date.UTC(2026, 0, 1);
          moves.forEach((m, i) => {
            t = 'jump' in m ? m.jump : Math.min(Math.max(t + m.step, MIN), MAX);
            const date = new Date(t);
            // Dates and the system clock's milliseconds share the cache: interleave them.
            expect(asMs[i] ? auditTimeOfMs(t) : normalizeAuditTime(date)).toBe(date.toISOString());
          });
        },
      ),
      { numRuns: 300 },
    );
  });

  it('pads the milliseconds of a cached second (000, 007, 042, 999)', () => {
    const second = Date.UTC(2026, 11, 5, 21, 0, 0);
    normalizeAuditTime(new Date(second + 500));
    for (const ms of [0, 7, 42, 999]) {
      expect(normalizeAuditTime(new Date(second + ms))).toBe(`2026-12-05T21:00:00.${pad(ms, 3)}Z`);
    }
  });

  it('still rejects an invalid Date and one outside years 0000-9999 after a cached second', () => {
    normalizeAuditTime(new Date(Date.UTC(2026, 0, 1)));
    expect(outcome(() => normalizeAuditTime(new Date(Number.NaN)))).toBe(
      `error ${ErrorCodes.AUDIT_INVALID_EVENT}`,
    );
    expect(outcome(() => normalizeAuditTime(new Date(Date.UTC(10000, 0, 1))))).toBe(
      `error ${ErrorCodes.AUDIT_INVALID_EVENT}`,
    );
    expect(outcome(() => normalizeAuditTime(new Date(MIN - 1)))).toBe(
      `error ${ErrorCodes.AUDIT_INVALID_EVENT}`,
    );
  });

  it('asks a Date subclass its own toISOString every time (never the cache)', () => {
    class ShiftedDate extends Date {
      override toISOString(): string {
        return '2001-02-03T04:05:06.789Z';
      }
    }
    const t = Date.UTC(2026, 0, 1, 0, 0, 1);
    normalizeAuditTime(new Date(t));
    expect(normalizeAuditTime(new ShiftedDate(t + 1))).toBe('2001-02-03T04:05:06.789Z');
    expect(normalizeAuditTime(new Date(t + 2))).toBe('2026-01-01T00:00:01.002Z');
  });
});

describe('auditDetailsSizeBound (the size check serialises only what it cannot bound)', () => {
  const json = fc.letrec((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.string({ unit: 'binary' }),
      fc.string({
        unit: fc.constantFrom('"', '\\', '\n', '\u0001', '\u2028', '\ud800', '\udc00', '😀', 'é'),
      }),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.integer(),
      fc.constantFrom(-0, 1e21, -1.7976931348623157e308, 5e-324, -1e-7 / 3, -1e-5 / 3),
      fc.boolean(),
      fc.constant(null),
      fc.array(tie('value'), { maxLength: 5 }),
      fc.dictionary(fc.string({ unit: 'binary', maxLength: 8 }), tie('value'), { maxKeys: 5 }),
    ),
  })).value as fc.Arbitrary<AuditJsonValue>;

  it('is never below the exact serialised size, and is Infinity once past the limit', () => {
    fc.assert(
      fc.property(json, fc.integer({ min: 0, max: 2000 }), (value, limit) => {
        const exact = Buffer.byteLength(JSON.stringify(value));
        const bound = auditDetailsSizeBound(value, limit);
        if (bound !== Infinity) {
          expect(bound).toBeLessThanOrEqual(limit);
          expect(bound).toBeGreaterThanOrEqual(exact);
        }
        expect(auditDetailsSizeBound(value, Number.MAX_SAFE_INTEGER)).toBeGreaterThanOrEqual(exact);
      }),
      { numRuns: 2000 },
    );
  });

  it('gives exactly the bound of the original closure-based walk', () => {
    // The implementation before it became a plain recursive function, kept as the reference.
    const reference = (value: AuditJsonValue, limit: number): number => {
      let total = 0;
      const add = (v: AuditJsonValue): boolean => {
        if (typeof v === 'string') total += 6 * v.length + 2;
        else if (typeof v === 'number') total += 25;
        else if (v === null || typeof v === 'boolean') total += 5;
        else if (Array.isArray(v)) {
          total += 2 + v.length;
          for (const item of v) if (!add(item)) return false;
        } else {
          const keys = Object.keys(v);
          total += 2 + keys.length;
          for (const key of keys) {
            total += 6 * key.length + 3;
            if (!add(v[key]!)) return false;
          }
        }
        return total <= limit;
      };
      return add(value) ? total : Infinity;
    };
    fc.assert(
      fc.property(json, fc.integer({ min: 0, max: 400 }), (value, limit) => {
        expect(auditDetailsSizeBound(value, limit)).toBe(reference(value, limit));
      }),
      { numRuns: 2000 },
    );
  });

  it('lets AuditLog still refuse details over 64 KiB, whether the bound or the exact size decides', async () => {
    const log = await AuditLog.open({ store: new MemoryAuditStore() });
    const event = (details: Record<string, unknown>) => ({
      actor: { id: 'u', type: 'user' as const },
      action: 'x.y',
      outcome: 'success' as const,
      details,
    });
    // 11,000 escaped controls: 66,002 bytes serialised (bound and exact both over).
    await expect(log.append(event({ s: '\u0001'.repeat(11_000) }))).rejects.toMatchObject({
      code: ErrorCodes.AUDIT_INVALID_EVENT,
    });
    // 65,600 ASCII letters: bound 6x over, exact 65,608 bytes: still over.
    await expect(log.append(event({ s: 'a'.repeat(65_600) }))).rejects.toMatchObject({
      code: ErrorCodes.AUDIT_INVALID_EVENT,
    });
    // 60,000 ASCII letters: the bound is over 64 KiB, the exact size (60,008) is not: stored.
    await expect(log.append(event({ s: 'a'.repeat(60_000) }))).resolves.toMatchObject({ seq: 1 });
    await log.close();
  });
});

describe('cloneAuditDetails (validated copy of details)', () => {
  /** The copy as it was before primitives were copied inline and ancestors kept in a list. */
  function referenceClone(details: unknown): unknown {
    const fail = (field: string, message: string) => new Error(`${field} ${message}`);
    const clone = (
      value: unknown,
      path: string,
      depth: number,
      seen: Set<object>,
      budget: { keys: number },
    ): unknown => {
      if (value === null) return null;
      switch (typeof value) {
        case 'string':
        case 'boolean':
          return value;
        case 'number':
          if (!Number.isFinite(value)) throw fail(path, 'must be a finite number');
          return value;
        case 'object':
          break;
        default:
          throw fail(path, `is not JSON-serialisable (${typeof value})`);
      }
      if (value instanceof Date) return normalizeAuditTime(value, path);
      if (depth > AUDIT_LIMITS.detailsDepth)
        throw fail(path, `nests deeper than ${AUDIT_LIMITS.detailsDepth} levels`);
      if (seen.has(value)) throw fail(path, 'contains a cycle');
      seen.add(value);
      try {
        if (Array.isArray(value)) {
          budget.keys -= value.length;
          if (budget.keys < 0) throw fail('details', `has more than ${AUDIT_LIMITS.detailsKeys} keys/items`);
          return value.map((item, i) =>
            item === undefined ? null : clone(item, `${path}[${i}]`, depth + 1, seen, budget),
          );
        }
        const proto = Object.getPrototypeOf(value);
        if (proto !== Object.prototype && proto !== null) throw fail(path, 'must be a plain object');
        const out: Record<string, unknown> = {};
        const keys = Object.keys(value);
        budget.keys -= keys.length;
        if (budget.keys < 0) throw fail('details', `has more than ${AUDIT_LIMITS.detailsKeys} keys/items`);
        for (const key of keys) {
          if (key === '__proto__') throw fail(`${path}.__proto__`, 'is not an allowed key');
          const v = (value as Record<string, unknown>)[key];
          if (v === undefined) continue;
          if (typeof v === 'string' || typeof v === 'boolean') out[key] = v;
          else out[key] = clone(v, `${path}.${key}`, depth + 1, seen, budget);
        }
        return out;
      } finally {
        seen.delete(value);
      }
    };
    return clone(details, 'details', 0, new Set(), { keys: AUDIT_LIMITS.detailsKeys });
  }

  const outcomeOf = (fn: () => unknown): { json?: string; error?: string } => {
    try {
      // The member order matters (it is stored), so compare the text; -0 marked, as JSON writes 0.
      return { json: JSON.stringify(fn(), (_k, v: unknown) => (Object.is(v, -0) ? '-0' : v)) };
    } catch (err) {
      const e = err as Error;
      // The message of the copy is `audit event <field> <message>`; the reference's is `<field> <message>`.
      return { error: e.message.replace(/^audit event /, '') };
    }
  };

  it('copies and rejects exactly as before, with the same field in the error', () => {
    const shared = { s: 1 };
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = { back: cyclic };
    class Point {
      x = 1;
    }
    const odd = fc.constantFrom<unknown>(
      undefined,
      Number.NaN,
      Infinity,
      -0,
      new Date(0),
      new Date(Number.NaN),
      1n,
      () => 1,
      Symbol('s'),
      new Point(),
      new Map(),
      shared,
      cyclic,
      Object.assign(Object.create(null), { b: 1, a: 2 }),
    );
    const value = fc.letrec<{ v: unknown }>((tie) => ({
      v: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        fc.string({ maxLength: 6 }),
        fc.double(),
        fc.integer(),
        fc.boolean(),
        fc.constant(null),
        odd,
        fc.array(tie('v'), { maxLength: 4 }),
        fc.dictionary(fc.string({ maxLength: 4 }), tie('v'), { maxKeys: 5 }),
      ),
    })).v;
    const details = fc.oneof(
      fc.dictionary(fc.string({ maxLength: 4 }), value, { maxKeys: 6 }),
      fc.constant({ list: [shared, shared], again: shared }),
      fc.constant(cyclic),
    );
    fc.assert(
      fc.property(details, (d) => {
        expect(outcomeOf(() => cloneAuditDetails(d))).toEqual(outcomeOf(() => referenceClone(d)));
      }),
      { numRuns: 1000 },
    );
    // Nesting and key budget limits still name the same path.
    let deep: unknown = 1;
    for (let i = 0; i < AUDIT_LIMITS.detailsDepth + 2; i++) deep = { d: deep };
    expect(outcomeOf(() => cloneAuditDetails(deep))).toEqual(outcomeOf(() => referenceClone(deep)));
    const wide = Object.fromEntries(
      Array.from({ length: AUDIT_LIMITS.detailsKeys + 1 }, (_, i) => [`k${i}`, i]),
    );
    expect(outcomeOf(() => cloneAuditDetails(wide))).toEqual(outcomeOf(() => referenceClone(wide)));
  });
});

describe('auditEntryOf (the entry the writer stores for an event)', () => {
  it('is { seq, ...event, prevHash }: the same members in the same order', () => {
    const optional = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });
    const event = fc.record(
      {
        actor: fc.record(
          {
            id: fc.string({ minLength: 1, maxLength: 8 }),
            type: fc.constantFrom('user', 'service', 'system', 'anonymous'),
            ip: optional(fc.constantFrom('127.0.0.1', '::1')),
            userAgent: optional(fc.string({ maxLength: 8 })),
            sessionId: optional(fc.string({ maxLength: 8 })),
          },
          { requiredKeys: ['id', 'type'] },
        ),
        action: fc.constantFrom('a.b', 'http.get', 'x'),
        outcome: fc.constantFrom('success', 'failure', 'denied'),
        resource: optional(fc.record({ type: fc.constant('t'), id: optional(fc.constant('1')) })),
        reason: optional(fc.string({ maxLength: 8 })),
        requestId: optional(fc.string({ maxLength: 8 })),
        category: optional(fc.constantFrom('http', 'security')),
        time: optional(fc.constant('2026-01-02T03:04:05.678Z')),
        details: optional(fc.dictionary(fc.string({ maxLength: 4 }), fc.integer(), { maxKeys: 3 })),
      },
      { requiredKeys: ['actor', 'action', 'outcome'] },
    );
    const clock = () => new Date(0);
    fc.assert(
      fc.property(event, fc.integer({ min: 1, max: 1e9 }), (e, seq) => {
        const normalized = normalizeAuditEvent(e, clock);
        const prevHash = 'ab'.repeat(32);
        const entry = auditEntryOf(seq, normalized, prevHash);
        const spread = { seq, ...normalized, prevHash };
        expect(Object.keys(entry)).toEqual(Object.keys(spread));
        expect(entry).toEqual(spread);
      }),
      { numRuns: 500 },
    );
  });
});
