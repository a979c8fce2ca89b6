import fc from 'fast-check';
import { AuditLog } from '../../src/audit/audit-log';
import type { AuditEntry, AuditEvent } from '../../src/audit/audit-event';
import type { Checkpoint } from '../../src/audit/checkpoint';
import { CheckpointSigner } from '../../src/audit/checkpoint-signer';
import { MemoryAuditStore } from '../../src/audit/memory-audit-store';
import { verifyAuditLog, type AuditFaultReason } from '../../src/audit/verify-audit-log';
import { copyEntries, steppingClock } from './audit-helpers';

const HMAC_KEY = Buffer.alloc(32, 7);

const eventArb = fc.record({
  actor: fc.record({
    id: fc.string({ minLength: 1, maxLength: 12 }),
    type: fc.constantFrom('user' as const, 'service' as const, 'system' as const, 'anonymous' as const),
  }),
  action: fc.constantFrom('patient.read', 'patient.update', 'auth.login', 'export.csv'),
  resource: fc.option(
    fc.record({ type: fc.constantFrom('patient', 'invoice'), id: fc.string({ maxLength: 8 }) }),
    {
      nil: undefined,
    },
  ),
  outcome: fc.constantFrom('success' as const, 'failure' as const, 'denied' as const),
  details: fc.option(fc.dictionary(fc.constantFrom('a', 'b', 'note'), fc.oneof(fc.integer(), fc.string())), {
    nil: undefined,
  }),
});

type Mutation =
  | { kind: 'field'; k: number; field: string }
  | { kind: 'seq'; k: number; to: number }
  | { kind: 'delete'; k: number }
  | { kind: 'insert'; p: number; copyOf: number }
  | { kind: 'swap'; a: number; b: number }
  | { kind: 'truncate'; m: number };

const FIELDS = [
  'time',
  'actor.id',
  'actor.type',
  'action',
  'outcome',
  'resource',
  'category',
  'details',
  'reason',
  'prevHash',
  'leafHash',
  'extra',
];

function mutationArb(n: number): fc.Arbitrary<Mutation> {
  const idx = fc.integer({ min: 0, max: n - 1 });
  const arbs: fc.Arbitrary<Mutation>[] = [
    fc.record({ kind: fc.constant('field' as const), k: idx, field: fc.constantFrom(...FIELDS) }),
    fc.record({ kind: fc.constant('seq' as const), k: idx, to: fc.integer({ min: 0, max: n + 3 }) }),
    fc.record({ kind: fc.constant('delete' as const), k: idx }),
    fc.record({ kind: fc.constant('insert' as const), p: fc.integer({ min: 0, max: n }), copyOf: idx }),
    fc.record({ kind: fc.constant('truncate' as const), m: fc.integer({ min: 0, max: n - 1 }) }),
  ];
  if (n >= 2) {
    arbs.push(
      fc
        .tuple(idx, idx)
        .filter(([a, b]) => a !== b)
        .map(([a, b]) => ({ kind: 'swap' as const, a: Math.min(a, b), b: Math.max(a, b) })),
    );
  }
  return fc.oneof(...arbs);
}

/** Changes one field to a value it certainly did not have. */
function mutateField(e: AuditEntry, field: string): void {
  const r = e as unknown as Record<string, unknown>;
  switch (field) {
    case 'time':
      e.time = new Date(Date.parse(e.time) + 1).toISOString();
      break;
    case 'actor.id':
      e.actor!.id += 'x';
      break;
    case 'actor.type':
      e.actor!.type = e.actor!.type === 'user' ? 'system' : 'user';
      break;
    case 'action':
      e.action += '.x';
      break;
    case 'outcome':
      e.outcome = e.outcome === 'success' ? 'denied' : 'success';
      break;
    case 'resource':
      e.resource =
        e.resource === undefined ? { type: 'patient' } : { ...e.resource, type: `${e.resource.type}x` };
      break;
    case 'category':
      e.category += 'x';
      break;
    case 'details':
      e.details = { ...(e.details ?? {}), injected: true };
      break;
    case 'reason':
      e.reason = `${e.reason ?? ''}forged`;
      break;
    case 'prevHash':
    case 'leafHash': {
      const h = r[field] as string;
      r[field] = (h[0] === '0' ? '1' : '0') + h.slice(1);
      break;
    }
    case 'extra':
      r.approvedBy = 'mallory';
      break;
  }
}

/** The reference model for sequence faults: first position whose seq is not position + 1. */
function expectedSeqFault(entries: AuditEntry[]): { seq: number; reason: AuditFaultReason } | undefined {
  for (let q = 0; q < entries.length; q++) {
    const s = entries[q]!.seq;
    const e = q + 1;
    if (s === e) continue;
    if (s < e) return { seq: e, reason: 'duplicate' };
    return { seq: e, reason: entries.slice(q + 1).some((x) => x.seq === e) ? 'reordered' : 'gap' };
  }
  return undefined;
}

describe('verifyAuditLog detects every single tampering (property)', () => {
  let signer: CheckpointSigner;
  beforeAll(async () => {
    signer = await CheckpointSigner.generate();
  });

  async function buildLog(
    events: AuditEvent[],
    hmacKey?: Uint8Array,
  ): Promise<{ entries: AuditEntry[]; cp: Checkpoint }> {
    const store = new MemoryAuditStore();
    const log = await AuditLog.open({ store, clock: steppingClock(), hmacKey, signer });
    await Promise.all(events.map((e) => log.append(e)));
    const cp = await log.checkpoint();
    return { entries: copyEntries(store.rawEntries), cp };
  }

  it.each([
    ['plain SHA-256', undefined],
    ['HMAC', HMAC_KEY],
  ])('%s leaf hashes: reports the first bad seq and reason', async (_mode, hmacKey) => {
    await fc.assert(
      fc.asyncProperty(
        fc
          .array(eventArb, { minLength: 1, maxLength: 60 })
          .chain((events) => fc.tuple(fc.constant(events), mutationArb(events.length))),
        async ([events, mutation]) => {
          const { entries, cp } = await buildLog(events, hmacKey);
          const n = entries.length;
          const opts = { hmacKey, checkpoints: [cp], publicKey: signer.publicKey };
          // The untouched log verifies, against the checkpoint too.
          expect((await verifyAuditLog(entries, opts)).ok).toBe(true);

          const t = copyEntries(entries);
          let want: { seq: number; reason: AuditFaultReason | AuditFaultReason[] };
          switch (mutation.kind) {
            case 'field':
              mutateField(t[mutation.k]!, mutation.field);
              want = {
                seq: mutation.k + 1,
                reason: mutation.field === 'prevHash' ? 'broken-link' : 'hash-mismatch',
              };
              break;
            case 'seq': {
              const to = mutation.to === mutation.k + 1 ? mutation.k + 2 : mutation.to;
              t[mutation.k]!.seq = to;
              want = { seq: mutation.k + 1, reason: to < mutation.k + 1 ? 'duplicate' : 'gap' };
              break;
            }
            case 'delete':
              t.splice(mutation.k, 1);
              want =
                mutation.k === n - 1
                  ? { seq: n, reason: 'truncated' }
                  : { seq: mutation.k + 1, reason: 'gap' };
              break;
            case 'insert':
              t.splice(mutation.p, 0, copyEntries([entries[mutation.copyOf]!])[0]!);
              want = expectedSeqFault(t)!;
              break;
            case 'swap':
              [t[mutation.a], t[mutation.b]] = [t[mutation.b]!, t[mutation.a]!];
              want = { seq: mutation.a + 1, reason: 'reordered' };
              break;
            case 'truncate':
              t.length = mutation.m;
              want = { seq: mutation.m + 1, reason: 'truncated' };
              break;
          }
          const report = await verifyAuditLog(t, opts);
          expect(report.ok).toBe(false);
          expect(report.firstBad?.seq).toBe(want.seq);
          expect(report.firstBad?.reason).toBe(want.reason);
          // Sequence faults are found by position alone, so the model agrees with the verifier.
          if (mutation.kind !== 'field')
            expect(expectedSeqFault(t) ?? { seq: t.length + 1, reason: 'truncated' }).toEqual(want);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('truncation is invisible without a checkpoint and caught with one', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(eventArb, { minLength: 2, maxLength: 30 }), fc.nat(), async (events, cut) => {
        const { entries, cp } = await buildLog(events);
        const m = cut % entries.length;
        const truncated = entries.slice(0, m);
        expect((await verifyAuditLog(truncated)).ok).toBe(true); // a shorter chain is a valid chain
        const report = await verifyAuditLog(truncated, { checkpoints: [cp], publicKey: signer.publicKey });
        expect(report.firstBad).toMatchObject({ seq: m + 1, reason: 'truncated' });
      }),
      { numRuns: 50 },
    );
  });
});

describe('verifyAuditLog: malformed leaf hashes', () => {
  async function entriesOf(hmacKey?: Uint8Array): Promise<AuditEntry[]> {
    const store = new MemoryAuditStore();
    const log = await AuditLog.open({ store, hmacKey, clock: steppingClock() });
    for (let i = 0; i < 5; i++) {
      await log.append({ actor: { id: `u${i}`, type: 'user' }, action: 'patient.read', outcome: 'success' });
    }
    return copyEntries(store.rawEntries);
  }

  const malformed: [string, unknown][] = [
    ['upper-case hex', null], // filled in per entry below
    ['63 digits', 'a'.repeat(63)],
    ['non-hex', 'g'.repeat(64)],
    ['a number', 42],
    ['missing', undefined],
  ];

  it.each([
    ['unkeyed', undefined],
    ['HMAC-keyed', HMAC_KEY],
  ])('%s: reported as "no valid leafHash", before a broken link or a content mismatch', async (_, key) => {
    for (const [what, value] of malformed) {
      const entries = await entriesOf(key);
      const bad = value === null ? entries[2]!.leafHash.toUpperCase() : value;
      (entries[2] as unknown as Record<string, unknown>).leafHash = bad;
      let report = await verifyAuditLog(entries, { hmacKey: key });
      expect([what, report.firstBad]).toEqual([
        what,
        { seq: 3, reason: 'hash-mismatch', message: 'entry 3 has no valid leafHash' },
      ]);
      expect(report.treeSize).toBe(2);
      // Also when the entry's link is broken too: the leaf hash is reported first, as always.
      entries[2]!.prevHash = 'f'.repeat(64);
      report = await verifyAuditLog(entries, { hmacKey: key });
      expect([what, report.firstBad?.message]).toEqual([what, 'entry 3 has no valid leafHash']);
    }
  });

  it('a well-formed but wrong leaf hash is a content mismatch', async () => {
    const entries = await entriesOf();
    entries[2]!.leafHash = 'f'.repeat(64);
    expect((await verifyAuditLog(entries)).firstBad).toEqual({
      seq: 3,
      reason: 'hash-mismatch',
      message: 'content of entry 3 does not match its leaf hash',
    });
  });
});
