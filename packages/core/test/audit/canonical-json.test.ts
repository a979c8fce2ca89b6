import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { auditEntryOf, normalizeAuditEvent, type AuditEntry } from '../../src/audit/audit-event';
import { EntryHasher } from '../../src/audit/entry-hasher';
import { BulwarkAuditError, ErrorCodes } from '../../src/errors';
import {
  canonicalAsciiBytes,
  canonicalBuiltEntryAsciiBytes,
  canonicalBytes,
  canonicalEntryAsciiBytes,
  canonicalize,
  canonicalizeFast,
  canonicalizeReference,
} from '../../src/audit/canonical-json';

// cyberphone/json-canonicalization testdata (RFC 8785). A missing folder fails the suite.
const JCS = path.resolve(__dirname, '../vectors/jcs');
const jcsCases = fs
  .readdirSync(path.join(JCS, 'input'))
  .filter((name) => name.endsWith('.json'))
  .sort();

function expectInvalid(value: unknown): BulwarkAuditError {
  let caught: unknown;
  try {
    canonicalize(value);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(BulwarkAuditError);
  expect((caught as BulwarkAuditError).code).toBe(ErrorCodes.AUDIT_INVALID_EVENT);
  return caught as BulwarkAuditError;
}

describe('canonicalize: RFC 8785 vectors', () => {
  it('found the six cyberphone cases', () => {
    expect(jcsCases).toEqual([
      'arrays.json',
      'french.json',
      'structures.json',
      'unicode.json',
      'values.json',
      'weird.json',
    ]);
  });

  it.each(jcsCases)('%s canonicalises to exactly the expected bytes', (name) => {
    const input: unknown = JSON.parse(fs.readFileSync(path.join(JCS, 'input', name), 'utf8'));
    const expected = fs.readFileSync(path.join(JCS, 'output', name));
    expect(canonicalBytes(input).equals(expected)).toBe(true);
    expect(canonicalize(input)).toBe(expected.toString('utf8'));
  });
});

describe('canonicalize: numbers (RFC 8785 §3.2.2.3, ECMAScript Number.prototype.toString)', () => {
  it.each([
    [0, '0'],
    [-0, '0'],
    [1, '1'],
    [-1, '-1'],
    [1e21, '1e+21'],
    [1e20, '100000000000000000000'],
    [1e-7, '1e-7'],
    [1e-6, '0.000001'],
    [0.1 + 0.2, '0.30000000000000004'],
    [2 ** 53, '9007199254740992'],
    [2 ** 53 + 2, '9007199254740994'],
    [Number.MAX_SAFE_INTEGER, '9007199254740991'],
    [Number.MAX_VALUE, '1.7976931348623157e+308'],
    [Number.MIN_VALUE, '5e-324'],
    [-1.5e-9, '-1.5e-9'],
    [Number('333333333.33333329'), '333333333.3333333'],
    [4.5, '4.5'],
    [123456789012345680000, '123456789012345680000'],
  ])('%p -> %s', (value, text) => {
    expect(canonicalize(value)).toBe(text);
    expect(canonicalize([value])).toBe(`[${text}]`);
  });

  // RFC 8785 Appendix B (selection): IEEE-754 bit patterns and their canonical text.
  it.each([
    ['0000000000000000', '0'],
    ['8000000000000000', '0'],
    ['0000000000000001', '5e-324'],
    ['8000000000000001', '-5e-324'],
    ['7fefffffffffffff', '1.7976931348623157e+308'],
    ['ffefffffffffffff', '-1.7976931348623157e+308'],
    ['4340000000000000', '9007199254740992'],
    ['c340000000000000', '-9007199254740992'],
    ['4430000000000000', '295147905179352830000'],
    ['44b52d02c7e14af5', '9.999999999999997e+22'],
    ['44b52d02c7e14af6', '1e+23'],
    ['44b52d02c7e14af7', '1.0000000000000001e+23'],
    ['444b1ae4d6e2ef4e', '999999999999999700000'],
    ['444b1ae4d6e2ef4f', '999999999999999900000'],
    ['444b1ae4d6e2ef50', '1e+21'],
    ['3eb0c6f7a0b5ed8c', '9.999999999999997e-7'],
    ['3eb0c6f7a0b5ed8d', '0.000001'],
    ['41b3de4355555553', '333333333.3333332'],
    ['41b3de4355555554', '333333333.33333325'],
    ['41b3de4355555555', '333333333.3333333'],
    ['41b3de4355555556', '333333333.3333334'],
    ['41b3de4355555557', '333333333.33333343'],
    ['becbf647612f3696', '-0.0000033333333333333333'],
    ['43143ff3c1cb0959', '1424953923781206.2'],
  ])('IEEE-754 %s -> %s', (bits, text) => {
    expect(canonicalize(Buffer.from(bits, 'hex').readDoubleBE(0))).toBe(text);
  });

  it('rejects NaN and ±Infinity anywhere with ERR_AUDIT_INVALID_EVENT', () => {
    for (const bad of [Number.NaN, Infinity, -Infinity]) {
      expectInvalid(bad);
      expectInvalid({ a: bad });
      expectInvalid([1, bad]);
      expectInvalid(new Number(bad));
    }
  });

  it('rejects bigint instead of losing precision', () => {
    expectInvalid(10n);
    expect(expectInvalid({ amount: { cents: 10n } }).details).toEqual({ path: '$.amount.cents' });
  });
});

describe('canonicalize: strings (RFC 8785 §3.2.2.2)', () => {
  it('escapes only ", \\ and control characters, with short forms where JSON has them', () => {
    expect(canonicalize('"\\\b\f\n\r\t')).toBe('"\\"\\\\\\b\\f\\n\\r\\t"');
    expect(canonicalize('\u0000\u0001\u000b\u001f')).toBe('"\\u0000\\u0001\\u000b\\u001f"');
    expect(canonicalize('\u007f\u0080/</script>€😂\u2028')).toBe('"\u007f\u0080/</script>€😂\u2028"');
  });

  it('does not normalise Unicode (NFC and NFD stay different)', () => {
    expect(canonicalize('\u00c5')).not.toBe(canonicalize('A\u030a'));
  });

  it('writes lone surrogates as \\u escapes so the UTF-8 bytes stay unambiguous', () => {
    expect(canonicalize('\ud800')).toBe('"\\ud800"');
    expect(canonicalize('a\udc00b')).toBe('"a\\udc00b"');
    // Raw lone surrogates would both become U+FFFD in UTF-8: the hashes must differ.
    expect(canonicalBytes('\ud800').equals(canonicalBytes('\ud801'))).toBe(false);
    expect(canonicalBytes('\ud800').equals(canonicalBytes('\ufffd'))).toBe(false);
    expect(canonicalBytes('\ud83d\ude02').toString('hex')).toBe('22f09f988222');
  });
});

describe('canonicalize: objects and arrays', () => {
  it('sorts member names by UTF-16 code units, not code points or locale', () => {
    const value = {
      '\u20ac': 1,
      '\r': 2,
      '1': 3,
      a: 4,
      '\ud83d\ude02': 5,
      '\ufb33': 6,
      A: 7,
      '': 8,
      '10': 9,
    };
    // U+1F602 is the surrogate pair D83D DE02, so it sorts before U+FB33 (code point order
    // would put it last).
    expect(canonicalize(value)).toBe(
      '{"":8,"\\r":2,"1":3,"10":9,"A":7,"a":4,"\u20ac":1,"\ud83d\ude02":5,"\ufb33":6}',
    );
  });

  it('gives the same text whatever order members were inserted in', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ unit: 'binary' }), fc.jsonValue()), (dict) => {
        const reversed = Object.fromEntries(Object.entries(dict).reverse());
        expect(canonicalize(reversed)).toBe(canonicalize(dict));
      }),
      { numRuns: 200 },
    );
  });

  it('round-trips: JSON.parse of the canonical text canonicalises to the same text', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = canonicalize(value);
        expect(canonicalize(JSON.parse(text))).toBe(text);
        // Same data model as JSON.stringify (-0 aside, which JSON.parse cannot tell apart anyway).
        expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(value)));
      }),
      { numRuns: 300 },
    );
  });

  it('omits undefined members like JSON.stringify', () => {
    expect(canonicalize({ b: undefined, a: 1 })).toBe('{"a":1}');
    expect(canonicalize({ a: undefined })).toBe('{}');
  });

  it('keeps array order and handles nesting and empty containers', () => {
    expect(canonicalize([3, 1, [2, {}], [], { z: [], y: {} }])).toBe('[3,1,[2,{}],[],{"y":{},"z":[]}]');
    expect(canonicalize(null)).toBe('null');
    expect(canonicalize(true)).toBe('true');
    expect(canonicalize({ a: false })).toBe('{"a":false}');
  });

  it('honours toJSON (Dates become ISO strings) and unwraps boxed primitives', () => {
    const at = new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 6));
    expect(canonicalize({ at })).toBe('{"at":"2024-01-02T03:04:05.006Z"}');
    expect(canonicalize(at)).toBe('"2024-01-02T03:04:05.006Z"');
    const keyed = { toJSON: (key: string) => `key=${key}` };
    expect(canonicalize({ x: keyed, list: [keyed] })).toBe('{"list":["key=0"],"x":"key=x"}');
    expect(canonicalize([new String('s'), new Number(2), new Boolean(false)])).toBe('["s",2,false]');
    expect(canonicalize(Buffer.from([1, 2]))).toBe('{"data":[1,2],"type":"Buffer"}');
  });

  it('accepts null-prototype objects and shared (non-cyclic) references', () => {
    const bare = Object.create(null) as Record<string, unknown>;
    bare.b = 2;
    bare.a = 1;
    expect(canonicalize(bare)).toBe('{"a":1,"b":2}');
    const shared = { k: 1 };
    expect(canonicalize({ x: shared, y: [shared] })).toBe('{"x":{"k":1},"y":[{"k":1}]}');
  });
});

describe('canonicalize: non-JSON values are rejected with ERR_AUDIT_INVALID_EVENT', () => {
  it('rejects undefined at the top level and in arrays (JSON.stringify would write null)', () => {
    expectInvalid(undefined);
    expect(expectInvalid([1, undefined]).details).toEqual({ path: '$[1]' });
    // eslint-disable-next-line no-sparse-arrays
    expectInvalid([1, , 3]);
  });

  it('rejects functions and symbols, even as object members', () => {
    expectInvalid(() => 1);
    expectInvalid(Symbol('s'));
    expectInvalid({ f: () => 1 });
    expectInvalid({ s: Symbol('s') });
    expectInvalid([Symbol('s')]);
  });

  it('rejects cycles with a typed error instead of a stack overflow', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    expect(expectInvalid(cyclic).details).toEqual({ path: '$.self' });
    const list: unknown[] = [];
    list.push({ inner: list });
    expectInvalid(list);
  });

  it('rejects pathological nesting with a typed error', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 5000; i++) deep = [deep];
    expectInvalid(deep);
  });

  it('rejects objects JSON.stringify would silently empty (Map, Set, RegExp, class instances)', () => {
    class Point {
      constructor(
        readonly x: number,
        readonly y: number,
      ) {}
    }
    for (const bad of [
      new Map([['a', 1]]),
      new Set([1]),
      /re/,
      new Point(1, 2),
      new Error('x'),
      new Uint8Array(2),
    ]) {
      expectInvalid(bad);
      expectInvalid({ nested: bad });
    }
  });

  it('rejects invalid Dates and wraps a throwing toJSON in the typed error', () => {
    expectInvalid(new Date(Number.NaN));
    const err = expectInvalid({
      toJSON() {
        throw new Error('boom');
      },
    });
    expect((err as Error & { cause?: unknown }).cause).toBeInstanceOf(Error);
  });

  it('does not put the rejected value in the message', () => {
    const err = expectInvalid({ secret: 'hunter2', amount: 1n });
    expect(err.message).not.toContain('hunter2');
    expect(err.message).not.toContain('1n');
  });
});

describe('canonicalize: the fast path is the reference serialiser, only faster', () => {
  // Any UTF-16 code unit, lone surrogates, controls, quotes and backslashes included.
  const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));
  const anyString = fc.oneof(
    fc.string({ unit: codeUnit, maxLength: 12 }),
    fc.string({ maxLength: 12 }),
    fc.constantFrom('', 'a', 'b', 'aa', 'é', '\u20ac', '\ud83d\ude00', '\ud800', '"', '\\', '\n'),
  );
  const number = fc.oneof(
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.integer(),
    fc.constantFrom(0, -0, 1e21, 1e-7, Number.MAX_VALUE, Number.MIN_VALUE),
  );
  // JSON data plus the things the fast path must hand over: undefined, Dates, boxed values,
  // NaN, bigint, functions, class instances, toJSON, null prototypes.
  class Point {
    constructor(readonly x: number) {}
  }
  const odd = fc.constantFrom<unknown>(
    undefined,
    Number.NaN,
    Infinity,
    new Date(0),
    new Date(Number.NaN),
    Object(1),
    Object('s'),
    1n,
    () => 1,
    Symbol('s'),
    new Point(1),
    new Map(),
    { toJSON: () => 'custom' },
    Object.assign(Object.create(null), { b: 1, a: 2 }),
  );
  const { tree } = fc.letrec<{ tree: unknown; json: unknown }>((tie) => ({
    json: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      anyString,
      number,
      fc.boolean(),
      fc.constant(null),
      fc.array(tie('json'), { maxLength: 5 }),
      fc.dictionary(anyString, tie('json'), { maxKeys: 6 }),
    ),
    tree: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      tie('json'),
      odd,
      fc.array(tie('tree'), { maxLength: 4 }),
      fc.dictionary(anyString, tie('tree'), { maxKeys: 5 }),
    ),
  }));
  /** JSON values (no odd objects) whose strings and keys come from `strings`. */
  const jsonOf = (strings: fc.Arbitrary<string>, maxLength: number, maxKeys: number): fc.Arbitrary<unknown> =>
    fc.letrec<{ json: unknown }>((tie) => ({
      json: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        strings,
        number,
        fc.boolean(),
        fc.constant(null),
        fc.array(tie('json'), { maxLength }),
        fc.dictionary(strings, tie('json'), { maxKeys }),
      ),
    })).json;
  const jsonOnly = jsonOf(anyString, 5, 6);

  const outcome = (fn: () => string): { text?: string; code?: string } => {
    try {
      return { text: fn() };
    } catch (err) {
      return { code: (err as BulwarkAuditError).code ?? 'untyped' };
    }
  };

  it('handles every JSON value itself and writes exactly the reference text', () => {
    fc.assert(
      fc.property(jsonOnly, (value) => {
        const fast = canonicalizeFast(value, new Set());
        expect(fast).toBeDefined();
        expect(fast).toBe(canonicalizeReference(value));
      }),
      { numRuns: 300 },
    );
  });

  it('gives the same text or the same typed error as the reference on any value', () => {
    fc.assert(
      fc.property(tree, (value) => {
        const fast = canonicalizeFast(value, new Set());
        const reference = outcome(() => canonicalizeReference(value));
        // The fast path either agrees or defers; it never produces text the reference would not.
        if (fast !== undefined) expect(fast).toBe(reference.text);
        expect(outcome(() => canonicalize(value))).toEqual(reference);
      }),
      { numRuns: 300 },
    );
  });

  it('omits top-level members exactly like serialising a copy without them', () => {
    const omit = new Set(['leafHash', 'redacted']);
    fc.assert(
      fc.property(
        fc.dictionary(fc.constantFrom('leafHash', 'redacted', 'seq', 'actor', 'a'), jsonOnly),
        (value) => {
          const { leafHash: _l, redacted: _r, ...rest } = value;
          expect(canonicalizeFast(value, omit)).toBe(canonicalizeReference(rest));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('writes exactly 0x00 || canonicalBytes for ASCII data, and defers on anything else', () => {
    const asciiString = fc.string({ unit: 'binary-ascii', maxLength: 12 });
    const ascii = jsonOf(asciiString, 5, 6);
    const expectSame = (value: unknown, mustHandle: boolean) => {
      const bytes = canonicalAsciiBytes(value, new Set(), 0x00);
      const reference = outcome(() => canonicalizeReference(value));
      if (bytes === undefined) {
        // Only text with a non-printable-ASCII character, a quote or a backslash is deferred.
        if (mustHandle)
          expect(reference.text === undefined || /[^\x20-\x7e]|["\\]/.test(reference.text)).toBe(true);
        return;
      }
      expect(reference.text).toBeDefined();
      expect(
        Buffer.from(bytes).equals(Buffer.concat([Buffer.from([0]), Buffer.from(reference.text!, 'utf8')])),
      ).toBe(true);
    };
    fc.assert(
      fc.property(ascii, (value) => expectSame(value, true)),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(tree, (value) => expectSame(value, false)),
      { numRuns: 300 },
    );
    // A value beyond the scratch limit takes the string path instead of failing.
    expect(canonicalAsciiBytes({ big: 'x'.repeat(2 << 20) }, new Set(), 0)).toBeUndefined();
    expect(canonicalAsciiBytes({ a: 'x'.repeat(100_000) }, new Set(), 0)?.length).toBe(100_009);
  });

  it("writes an entry in its members' known order exactly as the general byte path, or defers", () => {
    const unhashed = new Set(['leafHash', 'redacted']);
    const printable = fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c));
    const asciiString = fc.oneof(
      { arbitrary: fc.string({ unit: printable, maxLength: 12 }), weight: 8 },
      { arbitrary: fc.string({ unit: 'binary-ascii', maxLength: 12 }), weight: 1 },
    );
    const ascii = jsonOf(asciiString, 4, 5);
    const members = [
      'seq',
      'time',
      'actor',
      'action',
      'resource',
      'outcome',
      'reason',
      'requestId',
      'category',
      'details',
      'prevHash',
      'leafHash',
      'redacted',
    ];
    // Entries of every member subset, in any insertion order, with any values (odd ones too), and
    // sometimes a member entries do not have.
    const entry = fc
      .tuple(
        fc.shuffledSubarray(members),
        fc.array(
          fc.oneof(
            { arbitrary: ascii, weight: 12 },
            { arbitrary: tree, weight: 1 },
            { arbitrary: fc.constant(undefined), weight: 1 },
          ),
          { minLength: 13, maxLength: 13 },
        ),
        fc.oneof(
          { arbitrary: fc.constant(null), weight: 4 },
          { arbitrary: fc.constantFrom('extra', 'a', 'zzz', '__proto__', 'toJSON'), weight: 1 },
        ),
        fc.constantFrom(Object.prototype, null),
      )
      .map(([names, values, extra, proto]) => {
        const obj = Object.create(proto) as Record<string, unknown>;
        names.forEach((name, i) => (obj[name] = values[i]));
        if (extra !== null) Object.defineProperty(obj, extra, { value: 1, enumerable: true, writable: true });
        return obj;
      });
    let written = 0;
    const check = (value: unknown) => {
      const general = canonicalAsciiBytes(value, unhashed, 0x00);
      const generalCopy = general === undefined ? undefined : Buffer.from(general);
      const bytes = canonicalEntryAsciiBytes(value, 0x00);
      if (bytes === null) {
        // Deferred only for something that is no entry: not an object, or a member outside the set.
        const isObject = value !== null && typeof value === 'object' && !Array.isArray(value);
        expect(!isObject || Object.keys(value).some((k) => !members.includes(k))).toBe(true);
        return;
      }
      if (generalCopy === undefined) expect(bytes).toBeUndefined();
      else expect(bytes !== undefined && Buffer.from(bytes).equals(generalCopy)).toBe(true);
      if (bytes !== undefined) written++;
    };
    fc.assert(fc.property(entry, check), { numRuns: 1000 });
    expect(written).toBeGreaterThan(200); // the property exercised the writing path, not only deferral
    fc.assert(fc.property(tree, check), { numRuns: 200 });
    // A prototype's property is no member, even under an entry member's name.
    const inherited = Object.create({ action: 'inherited' }) as Record<string, unknown>;
    inherited.seq = 1;
    expect(canonicalEntryAsciiBytes(inherited, 0)).toBeUndefined(); // not plain: the string path decides
    const polluted = { seq: 1 };
    (Object.prototype as Record<string, unknown>).reason = 'polluted';
    try {
      expect(Buffer.from(canonicalEntryAsciiBytes(polluted, 0)!).toString('latin1')).toBe('\u0000{"seq":1}');
    } finally {
      delete (Object.prototype as Record<string, unknown>).reason;
    }
  });

  it("writes the writer's own entries (normalised events) exactly as the general path, or defers", () => {
    const printable = fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c));
    const text = (max: number) =>
      fc.oneof(
        { arbitrary: fc.string({ unit: printable, minLength: 1, maxLength: max }), weight: 8 },
        { arbitrary: fc.string({ minLength: 1, maxLength: max }), weight: 1 },
        { arbitrary: fc.constantFrom('"', '\\', 'é', '\u0001', '\ud800'), weight: 1 },
      );
    const optional = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined, freq: 3 });
    const event = fc.record(
      {
        actor: fc.record(
          {
            id: text(12),
            type: fc.constantFrom('user', 'service', 'system', 'anonymous'),
            ip: optional(fc.constantFrom('127.0.0.1', '::1', '2001:db8::1', 'fe80::1%eth0')),
            userAgent: optional(text(20)),
            sessionId: optional(text(12)),
          },
          { requiredKeys: ['id', 'type'] },
        ),
        action: fc.constantFrom('http.get', 'a.b', 'patient.read', 'x:y/z-1'),
        outcome: fc.constantFrom('success', 'failure', 'denied'),
        resource: optional(fc.record({ type: text(8), id: optional(text(8)) }, { requiredKeys: ['type'] })),
        reason: optional(text(16)),
        requestId: optional(text(36)),
        category: optional(fc.constantFrom('http', 'security', 'a.b-c_1')),
        time: optional(fc.constantFrom('2026-01-02T03:04:05.678Z', new Date(0))),
        details: optional(fc.dictionary(text(6), jsonOnly, { maxKeys: 5 })),
      },
      { requiredKeys: ['actor', 'action', 'outcome'] },
    );
    const prevHash = fc.oneof(
      fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 64, maxLength: 64 }),
      text(64),
    );
    const unhashed = new Set(['leafHash', 'redacted']);
    const plain = new EntryHasher();
    const keyed = new EntryHasher(Buffer.alloc(32, 3));
    let written = 0;
    fc.assert(
      fc.property(event, fc.integer({ min: 1, max: 2 ** 40 }), prevHash, (e, seq, prev) => {
        const entry = auditEntryOf(
          seq,
          normalizeAuditEvent(e, () => new Date(1e12)),
          prev,
        );
        const general = canonicalAsciiBytes(entry, unhashed, 0x00);
        const generalCopy = general === undefined ? undefined : Buffer.from(general);
        const bytes = canonicalBuiltEntryAsciiBytes(entry, 0x00);
        if (bytes !== undefined) {
          written++;
          expect(generalCopy !== undefined && Buffer.from(bytes).equals(generalCopy)).toBe(true);
        } else {
          expect(generalCopy).toBeUndefined(); // deferred only where the general byte path defers too
        }
        for (const hasher of [plain, keyed]) expect(hasher.hashBuiltHex(entry)).toBe(hasher.hashHex(entry));
        const withHash = { ...entry, leafHash: plain.hashBuiltHex(entry) } as AuditEntry;
        expect(plain.matches(withHash)).toBe(true);
      }),
      { numRuns: 1000 },
    );
    // The fast path must have written a good share of the entries, not a rate: about 22% of these
    // events are all ASCII (mean 222 of 1,000, sd about 10 over 16 seeds). The bound was 200,
    // which a seed in a few hundred missed.
    expect(written).toBeGreaterThan(100);
  });

  it('sorts correctly when objects share a first member name but differ in the others', () => {
    // The remembered sort order is keyed by the first name: a differing list must not reuse it.
    const names = fc.uniqueArray(fc.constantFrom('b', 'a', 'c', 'Z', 'é', '\ud83d\ude00', 'aa', '10', '9'), {
      minLength: 3,
      maxLength: 9,
    });
    fc.assert(
      fc.property(fc.array(names, { minLength: 2, maxLength: 6 }), (lists) => {
        for (const list of lists) {
          const obj: Record<string, number> = { first: 0 };
          list.forEach((name, i) => (obj[name] = i));
          expect(canonicalize(obj)).toBe(canonicalizeReference(obj));
        }
      }),
      { numRuns: 200 },
    );
  });
});
