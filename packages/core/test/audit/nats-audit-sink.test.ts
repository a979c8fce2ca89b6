import { randomBytes } from 'node:crypto';
import {
  connect,
  headers,
  nanos,
  StorageType,
  type JetStreamClient,
  type JetStreamManager,
  type NatsConnection,
  type StoredMsg,
} from 'nats';
import { describeWithService, SERVICE_URLS } from '../../../../test/support/services';
import type { AuditEntry } from '../../src/audit/audit-event';
import { AuditLog } from '../../src/audit/audit-log';
import type { AuditSink } from '../../src/audit/audit-sink';
import { canonicalBytes } from '../../src/audit/canonical-json';
import { EntryHasher } from '../../src/audit/entry-hasher';
import { MemoryAuditStore } from '../../src/audit/memory-audit-store';
import {
  NatsAuditSink,
  type NatsAuditSinkOptions,
  type NatsJetStreamPublisher,
  type NatsPubAck,
  type NatsPublishOptions,
} from '../../src/audit/nats-audit-sink';
import { BulwarkAuditError, BulwarkConfigError, ErrorCodes } from '../../src/errors';
import { event, steppingClock } from './audit-helpers';

/** A publisher that must never be reached (option validation happens before any publish). */
const unreachable: NatsJetStreamPublisher = {
  publish: () => Promise.reject(new Error('publish must not be called')),
};

function configErrorPath(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(BulwarkConfigError);
    expect((err as BulwarkConfigError).code).toBe(ErrorCodes.CONFIG_INVALID);
    return (err as BulwarkConfigError).details?.path as string;
  }
  throw new Error('expected a BulwarkConfigError');
}

describe('NatsAuditSink options', () => {
  const base: NatsAuditSinkOptions = { logId: 'app' };

  it.each<[string, Record<string, unknown>, string]>([
    ['an empty subject', { subject: '' }, 'audit.nats.subject'],
    ['a subject with a wildcard', { subject: 'bulwark.audit.>' }, 'audit.nats.subject'],
    ['a subject with an empty token', { subject: 'bulwark..audit' }, 'audit.nats.subject'],
    ['a subject with whitespace', { subject: 'bulwark audit' }, 'audit.nats.subject'],
    ['a non-string, non-function subject', { subject: 42 }, 'audit.nats.subject'],
    ['a negative retry count', { retries: -1 }, 'audit.nats.retries'],
    ['a fractional retry count', { retries: 1.5 }, 'audit.nats.retries'],
    ['a retry count given as a string', { retries: '3' }, 'audit.nats.retries'],
    ['an excessive retry count', { retries: 11 }, 'audit.nats.retries'],
    ['a negative retry delay', { retryDelayMs: -5 }, 'audit.nats.retryDelayMs'],
    ['a zero timeout', { timeoutMs: 0 }, 'audit.nats.timeoutMs'],
    ['an empty logId', { logId: '' }, 'audit.nats.logId'],
    ['a logId with a newline (header injection)', { logId: 'app\r\nNats-Msg-Id: x' }, 'audit.nats.logId'],
    ['a missing logId', { logId: undefined }, 'audit.nats.logId'],
    ['a stream name with a dot', { expectStream: 'a.b' }, 'audit.nats.expectStream'],
    ['a headers option that is not a factory', { headers: {} }, 'audit.nats.headers'],
    ['a drainOnClose without drain()', { drainOnClose: {} }, 'audit.nats.drainOnClose'],
  ])('rejects %s with a BulwarkConfigError naming the option', (_name, overrides, path) => {
    const options = { ...base, ...overrides } as NatsAuditSinkOptions;
    expect(configErrorPath(() => new NatsAuditSink(unreachable, options))).toBe(path);
  });

  it('names the option under a custom config path and says what was wrong', () => {
    expect(() => new NatsAuditSink(unreachable, { logId: 'app', retries: -1, configPath: 'bus' })).toThrow(
      /^bus\.retries must be an integer from 0 to 10, got -1$/,
    );
  });

  it('rejects a client without publish()', () => {
    expect(
      configErrorPath(() => new NatsAuditSink({} as unknown as NatsJetStreamPublisher, { logId: 'app' })),
    ).toBe('audit.nats');
  });

  it('accepts the documented defaults and limits', () => {
    expect(() => new NatsAuditSink(unreachable, { logId: 'app' })).not.toThrow();
    expect(
      () =>
        new NatsAuditSink(unreachable, {
          logId: 'app',
          subject: 'x.{category}.y',
          retries: 0,
          retryDelayMs: 0,
          timeoutMs: 1,
          expectStream: 'AUDIT',
          headers,
        }),
    ).not.toThrow();
  });

  it('publishes to bulwark.audit.<category> by default, keeping category dots as levels', async () => {
    const subjects: string[] = [];
    const publisher: NatsJetStreamPublisher = {
      publish: async (subject) => {
        subjects.push(subject);
        return { stream: 'X', seq: subjects.length, duplicate: false };
      },
    };
    const log = await AuditLog.open({
      store: new MemoryAuditStore(),
      logId: 'app',
      sinks: [new NatsAuditSink(publisher, { logId: 'app' })],
      onSinkError: (err) => {
        throw err;
      },
    });
    await log.append(event({ category: 'security.auth' }));
    await log.append(event());
    await log.close();
    expect(subjects).toEqual(['bulwark.audit.security.auth', 'bulwark.audit.default']);
  });

  it('rejects something that is not a stored entry before publishing anything', async () => {
    const sink = new NatsAuditSink(unreachable, { logId: 'app' });
    const bad = { seq: 0, leafHash: 'zz' } as unknown as AuditEntry;
    await expect(sink.write([bad])).rejects.toMatchObject({ code: ErrorCodes.AUDIT_INVALID_ARGUMENT });
    await expect(sink.write('x' as unknown as AuditEntry[])).rejects.toMatchObject({
      code: ErrorCodes.AUDIT_INVALID_ARGUMENT,
    });
  });
});

describeWithService('nats', 'NATS JetStream audit sink', () => {
  const run = randomBytes(6).toString('hex');
  const stream = `BW_TEST_${run}`;
  const prefix = `bwtest.${run}`;
  const connections: NatsConnection[] = [];
  let nc: NatsConnection;
  let js: JetStreamClient;
  let jsm: JetStreamManager;

  async function newConnection(): Promise<NatsConnection> {
    const c = await connect({ servers: SERVICE_URLS.nats, name: `bulwark-test-${run}` });
    connections.push(c);
    return c;
  }

  beforeAll(async () => {
    nc = await newConnection();
    js = nc.jetstream();
    jsm = await nc.jetstreamManager();
    await jsm.streams.add({
      name: stream,
      subjects: [`${prefix}.>`],
      storage: StorageType.Memory,
      duplicate_window: nanos(120_000),
    });
  });

  afterAll(async () => {
    try {
      await jsm?.streams.delete(stream);
    } finally {
      for (const c of connections) if (!c.isClosed()) await c.close();
    }
  });

  // Each test publishes under its own subject prefix so it can count its own messages.
  let testNo = 0;
  let subjectBase: string;
  // Message ids are `<logId>:<seq>`, so logs sharing a stream need distinct ids (as in production).
  let logId: string;
  beforeEach(() => {
    subjectBase = `${prefix}.t${++testNo}`;
    logId = `app-${run}-t${testNo}`;
  });

  async function messagesUnder(base: string): Promise<StoredMsg[]> {
    const info = await jsm.streams.info(stream);
    const out: StoredMsg[] = [];
    for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
      const m = await jsm.streams.getMessage(stream, { seq }).catch(() => undefined);
      if (m !== undefined && m.subject.startsWith(`${base}.`)) out.push(m);
    }
    return out;
  }

  /** Wraps a publisher to record acks and optionally inject failures before or after the real publish. */
  function recording(
    inner: NatsJetStreamPublisher,
    inject?: (call: number, subject: string, options?: NatsPublishOptions) => 'before' | 'after' | undefined,
  ) {
    const acks: NatsPubAck[] = [];
    const calls: { subject: string; msgID?: string }[] = [];
    const publisher: NatsJetStreamPublisher = {
      async publish(subject, data, options) {
        calls.push({ subject, msgID: options?.msgID });
        const fault = inject?.(calls.length, subject, options);
        const timeout = Object.assign(new Error('TIMEOUT'), { code: 'TIMEOUT' });
        if (fault === 'before') throw timeout;
        const ack = await inner.publish(subject, data, options);
        acks.push(ack);
        // The stream stored it but the PubAck "got lost": the sink must retry with the same msg id.
        if (fault === 'after') throw timeout;
        return ack;
      },
    };
    return { publisher, acks, calls };
  }

  async function openLog(sinks: AuditSink[], extra: { logId?: string; store?: MemoryAuditStore } = {}) {
    const errors: unknown[] = [];
    const log = await AuditLog.open({
      store: extra.store ?? new MemoryAuditStore(),
      logId: extra.logId ?? logId,
      clock: steppingClock(),
      sinks,
      onSinkError: (err) => errors.push(err),
      closeStore: extra.store === undefined,
    });
    return { log, errors };
  }

  it('delivers appended entries in seq order as canonical JSON with msg ids, headers and category subjects', async () => {
    const sink = new NatsAuditSink(js, {
      logId,
      subject: `${subjectBase}.{category}`,
      headers,
      expectStream: stream,
    });
    const { log, errors } = await openLog([sink]);
    const appended: AuditEntry[] = [];
    appended.push(await log.append(event({ category: 'security.auth', action: 'auth.login' })));
    appended.push(
      ...(await Promise.all([
        log.append(event({ action: 'patient.read', details: { note: 'ok', n: 1 } })),
        log.append(event({ action: 'patient.update', outcome: 'denied' })),
        log.append(event({ category: 'billing', action: 'invoice.export' })),
      ])),
    );
    await log.flush();
    expect(errors).toEqual([]);

    const stored = await messagesUnder(subjectBase);
    expect(stored.map((m) => m.header.get('Nats-Msg-Id'))).toEqual([
      `${logId}:1`,
      `${logId}:2`,
      `${logId}:3`,
      `${logId}:4`,
    ]);
    expect(stored.map((m) => m.subject)).toEqual([
      `${subjectBase}.security.auth`,
      `${subjectBase}.default`,
      `${subjectBase}.default`,
      `${subjectBase}.billing`,
    ]);
    const hasher = new EntryHasher();
    const fromStore = await log.query({});
    for (const [i, m] of stored.entries()) {
      const original = fromStore.entries.find((e) => e.seq === i + 1)!;
      // The payload is byte-for-byte the canonical form of the stored entry...
      expect(Buffer.from(m.data).equals(canonicalBytes(original))).toBe(true);
      expect(Buffer.from(m.data).equals(canonicalBytes(appended[i]))).toBe(true);
      // ...so a consumer recomputes the leaf hash from the message alone.
      const received = JSON.parse(Buffer.from(m.data).toString('utf8')) as AuditEntry;
      expect(hasher.matches(received)).toBe(true);
      expect(hasher.hash(received).toString('hex')).toBe(original.leafHash);
      expect(m.header.get('Bulwark-Audit-Seq')).toBe(String(i + 1));
      expect(m.header.get('Bulwark-Audit-Leaf-Hash')).toBe(original.leafHash);
      expect(m.header.get('Bulwark-Audit-Log-Id')).toBe(logId);
    }
    // A tampered payload would not match: the check above is meaningful.
    const forged = JSON.parse(Buffer.from(stored[1]!.data).toString('utf8')) as AuditEntry;
    forged.action = 'patient.delete';
    expect(hasher.matches(forged)).toBe(false);

    expect(sink.stats).toMatchObject({ published: 4, duplicates: 0, failedWrites: 0 });
    await log.close();
  });

  it('is deduplicated by the stream when the same entries are published again', async () => {
    const { publisher, acks } = recording(js);
    const sink = new NatsAuditSink(publisher, { logId, subject: `${subjectBase}.{category}` });
    const { log, errors } = await openLog([sink]);
    await Promise.all([
      log.append(event()),
      log.append(event({ action: 'patient.update' })),
      log.append(event()),
    ]);
    await log.flush();
    const first = await messagesUnder(subjectBase);
    expect(first).toHaveLength(3);
    const { messages: countBefore } = (await jsm.streams.info(stream)).state;

    // A retry from the app (or a re-sync) hands the same entries over again.
    const entries = (await log.query({})).entries;
    await sink.write(entries);
    await sink.write([...entries].reverse()); // order of the caller's array does not matter

    expect((await jsm.streams.info(stream)).state.messages).toBe(countBefore);
    expect(await messagesUnder(subjectBase)).toHaveLength(3);
    expect(acks.map((a) => a.duplicate)).toEqual([false, false, false, true, true, true, true, true, true]);
    expect(acks.slice(3).map((a) => a.seq)).toEqual(
      [...acks.slice(0, 3), ...acks.slice(0, 3)].map((a) => a.seq),
    );
    expect(sink.stats).toMatchObject({ published: 3, duplicates: 6 });
    expect(errors).toEqual([]);
    await log.close();
  });

  it('retries a lost PubAck with the same msg id, so the entry is stored exactly once', async () => {
    // Call 1: stored, ack lost (timeout). Call 2: the retry, answered as a duplicate.
    // Call 3: timeout before reaching the server. Call 4: stored.
    const { publisher, calls, acks } = recording(js, (n) =>
      n === 1 ? 'after' : n === 3 ? 'before' : undefined,
    );
    const sink = new NatsAuditSink(publisher, {
      logId,
      subject: `${subjectBase}.{category}`,
      retries: 2,
      retryDelayMs: 1,
    });
    const { log, errors } = await openLog([sink]);
    await log.append(event());
    await log.append(event({ action: 'patient.update' }));
    await log.flush();

    expect(errors).toEqual([]);
    expect(calls.map((c) => c.msgID)).toEqual([`${logId}:1`, `${logId}:1`, `${logId}:2`, `${logId}:2`]);
    expect(acks.map((a) => a.duplicate)).toEqual([false, true, false]);
    const stored = await messagesUnder(subjectBase);
    expect(stored.map((m) => m.header.get('Nats-Msg-Id'))).toEqual([`${logId}:1`, `${logId}:2`]);
    // Entry 1 is acknowledged only as a duplicate: its first, unacknowledged attempt was the one stored.
    expect(sink.stats).toMatchObject({
      published: 1,
      duplicates: 1,
      delivered: 2,
      failedAttempts: 2,
      failedWrites: 0,
    });
    await log.close();
  });

  it('loses nothing when two app instances publish concurrently', async () => {
    const ncA = await newConnection();
    const ncB = await newConnection();
    const sinkA = new NatsAuditSink(ncA.jetstream(), {
      logId: `${logId}-inst-a`,
      subject: `${subjectBase}.a`,
    });
    const sinkB = new NatsAuditSink(ncB.jetstream(), {
      logId: `${logId}-inst-b`,
      subject: `${subjectBase}.b`,
    });
    const a = await openLog([sinkA], { logId: `${logId}-inst-a` });
    const b = await openLog([sinkB], { logId: `${logId}-inst-b` });

    // Two instances over one shared store (one chain, one logId) as well.
    const shared = new MemoryAuditStore();
    const sinkC = new NatsAuditSink(ncA.jetstream(), {
      logId: `${logId}-shared`,
      subject: `${subjectBase}.shared`,
    });
    const sinkD = new NatsAuditSink(ncB.jetstream(), {
      logId: `${logId}-shared`,
      subject: `${subjectBase}.shared`,
    });
    const c = await openLog([sinkC], { logId: `${logId}-shared`, store: shared });
    const d = await openLog([sinkD], { logId: `${logId}-shared`, store: shared });

    const n = 40;
    const writes: Promise<AuditEntry>[] = [];
    for (let i = 0; i < n; i++) {
      writes.push(a.log.append(event({ requestId: `a-${i}` })));
      writes.push(b.log.append(event({ requestId: `b-${i}` })));
      writes.push(c.log.append(event({ requestId: `c-${i}` })));
      writes.push(d.log.append(event({ requestId: `d-${i}` })));
      if (i % 7 === 0) await new Promise((r) => setImmediate(r)); // several batches per log
    }
    await Promise.all(writes);
    await Promise.all([a.log.flush(), b.log.flush(), c.log.flush(), d.log.flush()]);
    expect([...a.errors, ...b.errors, ...c.errors, ...d.errors]).toEqual([]);

    const stored = await messagesUnder(subjectBase);
    const ids = (sub: string) =>
      stored.filter((m) => m.subject === `${subjectBase}.${sub}`).map((m) => m.header.get('Nats-Msg-Id'));
    const expected = (id: string, count: number) => Array.from({ length: count }, (_, i) => `${id}:${i + 1}`);
    // One writer per log: its entries arrive complete and in seq order.
    expect(ids('a')).toEqual(expected(`${logId}-inst-a`, n));
    expect(ids('b')).toEqual(expected(`${logId}-inst-b`, n));
    // Two writers on one chain: every seq exactly once (each writer in its own seq order).
    expect([...ids('shared')].sort((x, y) => Number(x.split(':')[1]) - Number(y.split(':')[1]))).toEqual(
      expected(`${logId}-shared`, 2 * n),
    );
    const requestIds = stored
      .filter((m) => m.subject === `${subjectBase}.shared`)
      .map((m) => (JSON.parse(Buffer.from(m.data).toString('utf8')) as AuditEntry).requestId)
      .sort();
    expect(requestIds).toEqual(
      [
        ...Array.from({ length: n }, (_, i) => `c-${i}`),
        ...Array.from({ length: n }, (_, i) => `d-${i}`),
      ].sort(),
    );
    for (const x of [a, b, c, d]) await x.log.close();
    await shared.close();
  });

  it('reports ERR_AUDIT_SINK through onSinkError when no stream takes the subject, leaving the log intact', async () => {
    const { publisher, calls } = recording(js);
    const sink = new NatsAuditSink(publisher, {
      logId,
      subject: `bwtest.nostream.${run}.{category}`,
      retries: 2,
      retryDelayMs: 1,
    });
    const { log, errors } = await openLog([sink]);
    const first = await log.append(event());
    await Promise.all([log.append(event({ action: 'patient.update' })), log.append(event())]);
    await log.flush();

    // One error per durable batch; each names the first unpublished seq.
    expect(errors.length).toBeGreaterThanOrEqual(2);
    for (const err of errors) {
      expect(err).toBeInstanceOf(BulwarkAuditError);
      expect(err).toMatchObject({
        code: ErrorCodes.AUDIT_SINK,
        details: { logId, attempts: 3, published: 0 },
      });
    }
    expect((errors[0] as BulwarkAuditError).details).toMatchObject({
      seq: 1,
      unpublished: 1,
      natsCode: '503',
    });
    expect((errors[0] as Error).message).toMatch(/re-publish from seq 1/);
    // Bounded: retries + 1 attempts per batch, all with the same msg id.
    expect(calls.filter((c) => c.msgID === `${logId}:1`)).toHaveLength(3);
    expect(calls).toHaveLength(3 * errors.length);

    // The store is the source of truth: everything is there and verifies.
    expect(log.size).toBe(3);
    expect(await log.get(1)).toEqual(first);
    const report = await log.verify();
    expect(report.ok).toBe(true);
    // A direct write surfaces the same typed error.
    await expect(sink.write([first])).rejects.toMatchObject({
      code: ErrorCodes.AUDIT_SINK,
      details: { seq: 1 },
    });
    expect(sink.stats).toMatchObject({ published: 0, failedWrites: errors.length + 1 });
    await log.close();
  });

  it('does not retry a permanent error (wrong expected stream) and stops the batch there', async () => {
    const { publisher, calls } = recording(js);
    const sink = new NatsAuditSink(publisher, {
      logId,
      subject: `${subjectBase}.{category}`,
      expectStream: 'SOME_OTHER_STREAM',
      retries: 3,
      retryDelayMs: 1,
    });
    const entries = await appendedEntries(3);
    const err = await sink.write(entries).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BulwarkAuditError);
    expect(err).toMatchObject({
      code: ErrorCodes.AUDIT_SINK,
      details: { seq: 1, attempts: 1, unpublished: 3 },
    });
    expect((err as BulwarkAuditError).details?.natsCode).toMatch(/^400/);
    expect(calls).toHaveLength(1);
    expect(await messagesUnder(subjectBase)).toHaveLength(0);
  });

  it('never lets a later entry overtake a failed one', async () => {
    const { publisher, calls } = recording(js, (_n, _s, options) =>
      options?.msgID === `${logId}:2` ? 'before' : undefined,
    );
    const sink = new NatsAuditSink(publisher, {
      logId,
      subject: `${subjectBase}.x`,
      retries: 1,
      retryDelayMs: 1,
    });
    const entries = await appendedEntries(4);
    await expect(sink.write(entries)).rejects.toMatchObject({
      code: ErrorCodes.AUDIT_SINK,
      details: { seq: 2, published: 1, unpublished: 3, natsCode: 'TIMEOUT', attempts: 2 },
    });
    expect(calls.map((c) => c.msgID)).toEqual([`${logId}:1`, `${logId}:2`, `${logId}:2`]);
    expect((await messagesUnder(subjectBase)).map((m) => m.header.get('Nats-Msg-Id'))).toEqual([
      `${logId}:1`,
    ]);

    // Re-sync: publishing the whole range again fills the gap without duplicating seq 1.
    const resync = new NatsAuditSink(js, { logId, subject: `${subjectBase}.x` });
    await resync.write(entries);
    expect(resync.stats).toMatchObject({ published: 3, duplicates: 1 });
    expect((await messagesUnder(subjectBase)).map((m) => m.header.get('Nats-Msg-Id'))).toEqual([
      `${logId}:1`,
      `${logId}:2`,
      `${logId}:3`,
      `${logId}:4`,
    ]);
  });

  it('close() waits for in-flight publishes, keeps the app connection open, and refuses later writes', async () => {
    const sink = new NatsAuditSink(js, { logId, subject: `${subjectBase}.x` });
    const entries = await appendedEntries(20);
    const pending = [sink.write(entries.slice(0, 10)), sink.write(entries.slice(10))];
    await sink.close();
    // Everything queued before close() is in the stream by the time close() resolves.
    expect(await messagesUnder(subjectBase)).toHaveLength(20);
    await Promise.all(pending);
    expect(nc.isClosed()).toBe(false);
    await expect(sink.write(entries)).rejects.toMatchObject({ code: ErrorCodes.AUDIT_CLOSED });
    await sink.close(); // idempotent
  });

  it('drains its own connection on close() when drainOnClose is given', async () => {
    const own = await newConnection();
    const sink = new NatsAuditSink(own.jetstream(), {
      logId,
      subject: `${subjectBase}.x`,
      drainOnClose: own,
    });
    const { log } = await openLog([sink]);
    await log.append(event());
    await log.close(); // AuditLog.close() flushes, then closes its sinks
    expect(own.isClosed()).toBe(true);
    expect(await messagesUnder(subjectBase)).toHaveLength(1);
  });

  /** Entries from a real log (no sink), to hand to a sink directly. */
  async function appendedEntries(count: number): Promise<AuditEntry[]> {
    const { log } = await openLog([]);
    for (let i = 0; i < count; i++) await log.append(event({ requestId: `r-${i}` }));
    const { entries } = await log.query({ limit: count });
    await log.close();
    return entries;
  }
});
