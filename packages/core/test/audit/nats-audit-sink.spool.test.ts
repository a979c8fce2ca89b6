import { appendFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog } from '../../src/audit/audit-log';
import type { AuditSink } from '../../src/audit/audit-sink';
import { MemoryAuditStore } from '../../src/audit/memory-audit-store';
import {
  NatsAuditSink,
  type NatsAuditSinkOptions,
  type NatsJetStreamPublisher,
  type NatsPubAck,
} from '../../src/audit/nats-audit-sink';
import { BulwarkAuditError, BulwarkConfigError, ErrorCodes } from '../../src/errors';
import { event } from './audit-helpers';

async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/**
 * A JetStream stand-in with the stream's dedupe by msg id: `away` makes every publish time out
 * (the bus is unreachable), `refuse` answers a permanent JetStream API error for chosen seqs.
 */
function fakeStream() {
  const stored: string[] = [];
  const state = { away: false, refuse: new Set<number>(), attempts: 0 };
  const publisher: NatsJetStreamPublisher = {
    publish: async (_subject, _data, options): Promise<NatsPubAck> => {
      state.attempts++;
      await Promise.resolve();
      if (state.away) throw Object.assign(new Error('TIMEOUT'), { code: 'TIMEOUT' });
      const id = options!.msgID!;
      const seq = Number(id.split(':')[1]);
      if (state.refuse.has(seq))
        throw Object.assign(new Error('denied'), { api_error: { code: 403, err_code: 10999 } });
      const duplicate = stored.includes(id);
      if (!duplicate) stored.push(id);
      return { stream: 'S', seq: stored.length, duplicate };
    },
  };
  return { publisher, stored, state };
}

const ids = (logId: string, from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => `${logId}:${from + i}`);

describe('AuditLog.verify with a stalled sink', () => {
  it('verifies and checkpoints without waiting for a sink that never finishes', async () => {
    // A sink stuck as one awaiting a bus that is away, until released.
    let released = false;
    const waiting: (() => void)[] = [];
    const stuck: AuditSink = {
      write: () => (released ? undefined : new Promise<void>((r) => waiting.push(r))),
    };
    const release = (): void => {
      released = true;
      for (const r of waiting.splice(0)) r();
    };
    const log = await AuditLog.open({ store: new MemoryAuditStore(), sinks: [stuck] });
    await log.append(event());
    await log.append(event());
    // record: false: the run's own audit.verified entry would be a third event for the sink.
    const report = await log.verify({ record: false });
    expect(report.ok).toBe(true);
    expect(await log.refresh()).toBe(2);
    // flush() still means "delivered to the sinks": it completes once the sink does.
    let flushed = false;
    const flushing = log.flush().then(() => (flushed = true));
    await new Promise((r) => setImmediate(r));
    expect(flushed).toBe(false);
    release();
    await flushing;
    await log.close();
  });
});

describe('NatsAuditSink spool', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'bulwark-sink-spool-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const options = (extra: Partial<NatsAuditSinkOptions> = {}): NatsAuditSinkOptions => ({
    logId: 'app',
    retryDelayMs: 0,
    spool: { dir, fsync: 'never' },
    ...extra,
  });

  it('spools what the bus cannot take, resolves the writes, then delivers in order before anything new', async () => {
    const bus = fakeStream();
    const sink = new NatsAuditSink(bus.publisher, options());
    const errors: unknown[] = [];
    const log = await AuditLog.open({
      store: new MemoryAuditStore(),
      logId: 'app',
      sinks: [sink],
      onSinkError: (e) => errors.push(e),
    });
    await log.append(event());
    await log.flush();
    expect(bus.stored).toEqual(ids('app', 1, 1));

    bus.state.away = true;
    for (let i = 0; i < 5; i++) await log.append(event());
    await log.flush();
    expect(sink.stats).toMatchObject({ spooled: 5, spooledTotal: 5, delivered: 1 });
    expect(sink.stats.oldestSpooledAgeMs).toBeGreaterThanOrEqual(0);
    expect(errors).toEqual([]);

    bus.state.away = false;
    // A write while the spool is still draining queues behind it instead of overtaking.
    await log.append(event());
    await until('the spool to drain', () => sink.stats.spooled === 0 && bus.stored.length === 7);
    await log.append(event());
    await log.close();
    expect(bus.stored).toEqual(ids('app', 1, 8));
    expect(sink.stats).toMatchObject({ spooled: 0, delivered: 8, failedWrites: 0 });
    expect(sink.stats.oldestSpooledAgeMs).toBeUndefined();
    expect(errors).toEqual([]);
  });

  it('does not spool an entry the stream refuses for good (permanent error): the write fails as before', async () => {
    const bus = fakeStream();
    bus.state.refuse.add(2);
    const sink = new NatsAuditSink(bus.publisher, options());
    await sink.write([]);
    const entry = (seq: number) =>
      ({ ...event(), seq, leafHash: 'a'.repeat(64), prevHash: '0'.repeat(64) }) as never;
    await sink.write([entry(1)]);
    const err = await sink.write([entry(2), entry(3)]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BulwarkAuditError);
    expect(err).toMatchObject({ code: ErrorCodes.AUDIT_SINK, details: { seq: 2, natsCode: '403/10999' } });
    expect(sink.stats.spooled).toBe(0);
    await sink.close();
  });

  it("rejects the write with ERR_AUDIT_SINK and counts it when the spool is full (onFull 'refuse')", async () => {
    const bus = fakeStream();
    bus.state.away = true;
    const sink = new NatsAuditSink(
      bus.publisher,
      options({ spool: { dir, maxBytes: 64 * 1024, fsync: 'never' } }),
    );
    const errors: unknown[] = [];
    const log = await AuditLog.open({
      store: new MemoryAuditStore(),
      logId: 'app',
      sinks: [sink],
      onSinkError: (e) => errors.push(e),
    });
    const big = { note: 'x'.repeat(30 * 1024) };
    for (let i = 0; i < 3; i++) await log.append(event({ details: big }));
    await log.flush();
    expect(sink.stats).toMatchObject({ spooled: 2, refused: 1, failedWrites: 1 });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: ErrorCodes.AUDIT_SINK, details: { refused: 1, firstSeq: 3 } });
    // the log itself is whole: the store is the source of truth
    expect((await log.verify({ record: false })).ok).toBe(true); // no extra entry for the sink
    await log.close();
  });

  it('drops a spooled entry the stream keeps refusing, reports it, and delivers the rest', async () => {
    const bus = fakeStream();
    bus.state.away = true;
    const reported: BulwarkAuditError[] = [];
    const sink = new NatsAuditSink(
      bus.publisher,
      options({ retries: 1, onDeliveryError: (e) => reported.push(e) }),
    );
    const log = await AuditLog.open({ store: new MemoryAuditStore(), logId: 'app', sinks: [sink] });
    for (let i = 0; i < 3; i++) await log.append(event());
    await log.flush();
    bus.state.refuse.add(2);
    bus.state.away = false;
    await until('the spool to drain', () => sink.stats.spooled === 0);
    await log.close();
    expect(bus.stored).toEqual(['app:1', 'app:3']);
    expect(reported).toHaveLength(1);
    expect(reported[0]).toMatchObject({
      code: ErrorCodes.AUDIT_SINK,
      details: { seq: 2, natsCode: '403/10999' },
    });
    expect(sink.stats.failedWrites).toBe(1);
  });

  it('skips and reports an unreadable spool line, delivering the entries around it', async () => {
    const bus = fakeStream();
    bus.state.away = true;
    const first = new NatsAuditSink(bus.publisher, options());
    const log = await AuditLog.open({ store: new MemoryAuditStore(), logId: 'app', sinks: [first] });
    await log.append(event());
    await log.close();
    expect(first.stats.spooled).toBe(1);
    const [segment] = readdirSync(dir).filter((f) => f.endsWith('.spool'));
    appendFileSync(join(dir, segment!), 'not a spool record\n');

    bus.state.away = false;
    const reported: BulwarkAuditError[] = [];
    const second = new NatsAuditSink(bus.publisher, options({ onDeliveryError: (e) => reported.push(e) }));
    await until('the leftovers to be delivered', () => second.stats.spooled === 0 && bus.stored.length === 1);
    await second.close();
    expect(bus.stored).toEqual(['app:1']);
    expect(reported).toHaveLength(1);
    expect(reported[0]!.message).toMatch(/unreadable record/);
    expect(second.stats.failedWrites).toBe(1);
  });

  it('describes itself without paths or addresses', () => {
    const sink = new NatsAuditSink(
      fakeStream().publisher,
      options({ spool: { dir, onFull: 'drop-oldest' } }),
    );
    const d = sink.describe();
    expect(d).toMatchObject({
      kind: 'nats',
      logId: 'app',
      connection: 'client',
      spool: { maxBytes: 64 * 1024 ** 2, onFull: 'drop-oldest', fsync: 'always' },
      stats: { connected: true, spooled: 0 },
    });
    expect(JSON.stringify(d)).not.toContain(dir);
    return sink.close();
  });

  it.each<[string, Partial<NatsAuditSinkOptions>, string]>([
    ['a spool without dir', { spool: {} as never }, 'audit.nats.spool.dir'],
    [
      'an unknown onFull policy',
      { spool: { dir: '/x', onFull: 'block' as never } },
      'audit.nats.spool.onFull',
    ],
    [
      'an unknown fsync policy',
      { spool: { dir: '/x', fsync: 'sometimes' as never } },
      'audit.nats.spool.fsync',
    ],
    ['a tiny spool', { spool: { dir: '/x', maxBytes: 10 } }, 'audit.nats.spool.maxBytes'],
    [
      'a reconnect budget for a client the sink did not open',
      { maxReconnectAttempts: -1 },
      'audit.nats.maxReconnectAttempts',
    ],
  ])('rejects %s with a BulwarkConfigError naming the option', (_name, extra, path) => {
    let caught: unknown;
    try {
      new NatsAuditSink(fakeStream().publisher, { logId: 'app', ...extra });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(BulwarkConfigError);
    expect((caught as BulwarkConfigError).details?.path).toBe(path);
  });

  it('rejects a reconnect budget below -1 for a connect function', () => {
    const connectFn = () => Promise.reject(new Error('unused'));
    expect(() => new NatsAuditSink(connectFn, { logId: 'app', maxReconnectAttempts: -2 })).toThrow(
      /maxReconnectAttempts must be an integer from -1/,
    );
  });
});
