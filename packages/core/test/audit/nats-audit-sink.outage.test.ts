import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, nanos, StorageType, type NatsConnection, type StoredMsg } from 'nats';
import { describeWithBinary, PrivateServer } from '../../../../test/support/private-server';
import { AuditLog } from '../../src/audit/audit-log';
import { MemoryAuditStore } from '../../src/audit/memory-audit-store';
import { NatsAuditSink, type NatsConnect } from '../../src/audit/nats-audit-sink';
import { event } from './audit-helpers';

/** Polls `check` until it holds (fault suites wait for real processes; no fixed sleeps). */
async function until(what: string, check: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describeWithBinary(
  'nats-server',
  'NatsAuditSink across a NATS outage longer than the reconnect budget (private nats-server)',
  () => {
    jest.setTimeout(60_000);
    const STREAM = 'BW_OUTAGE';
    const SUBJECT = 'outage.audit';
    let server: PrivateServer;
    let spoolDir: string;

    async function admin<T>(fn: (nc: NatsConnection) => Promise<T>): Promise<T> {
      const nc = await connect({ servers: server.url, maxReconnectAttempts: 0 });
      try {
        return await fn(nc);
      } finally {
        await nc.close();
      }
    }

    async function storedMessages(): Promise<StoredMsg[]> {
      return admin(async (nc) => {
        const jsm = await nc.jetstreamManager();
        const info = await jsm.streams.info(STREAM);
        const out: StoredMsg[] = [];
        for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
          out.push(await jsm.streams.getMessage(STREAM, { seq }));
        }
        return out;
      });
    }

    beforeAll(async () => {
      server = await PrivateServer.nats();
      await admin(async (nc) => {
        const jsm = await nc.jetstreamManager();
        // File storage in the server's private store dir, so the stream survives the kill.
        await jsm.streams.add({
          name: STREAM,
          subjects: [`${SUBJECT}.>`],
          storage: StorageType.File,
          duplicate_window: nanos(120_000),
        });
      });
    });

    afterAll(async () => {
      await server?.dispose();
    });

    beforeEach(() => {
      spoolDir = mkdtempSync(join(tmpdir(), 'bulwark-nats-spool-'));
    });
    afterEach(() => rmSync(spoolDir, { recursive: true, force: true }));

    it('spools while the bus is away, re-creates the connection the client gave up on, and delivers every event once, in order', async () => {
      let connectCalls = 0;
      // A small reconnect budget (2 attempts, 100 ms apart) so the outage outlasts it in ~1 s.
      const connectFn: NatsConnect = (o) => {
        connectCalls++;
        return connect({ servers: server.url, ...o, reconnectTimeWait: 100, timeout: 1000 });
      };
      const sink = new NatsAuditSink(connectFn, {
        logId: 'outage-1',
        subject: `${SUBJECT}.one`,
        maxReconnectAttempts: 2,
        reconnectTimeWaitMs: 100,
        timeoutMs: 500,
        retryDelayMs: 50,
        spool: { dir: spoolDir, fsync: 'always' },
      });
      const sinkErrors: unknown[] = [];
      const log = await AuditLog.open({
        store: new MemoryAuditStore(),
        logId: 'outage-1',
        sinks: [sink],
        onSinkError: (err) => sinkErrors.push(err),
      });
      await until('the first connection', () => sink.stats.connected);

      for (let i = 0; i < 20; i++) await log.append(event({ action: `before.${i}` }));
      await log.flush();
      // A slow ack on a loaded host spools an entry (timeoutMs is 500 here) and the sink delivers
      // it on its next try: wait for the bus to have all 20 before it goes away.
      await until('the first 20 delivered', () => sink.stats.delivered === 20 && sink.stats.spooled === 0);

      await server.kill();
      // Events written while the bus is away: the writes resolve (spooled), verify stays quick.
      for (let i = 0; i < 30; i++) await log.append(event({ action: `during.${i}` }));
      await log.flush();
      expect((await log.verify({ record: false })).ok).toBe(true); // no extra entry for the stream
      // The client's budget is spent and it closed for good: the sink is already connecting anew.
      await until('the sink to re-create its connection', () => connectCalls >= 3);
      expect(sink.stats.connected).toBe(false);
      for (let i = 0; i < 30; i++) await log.append(event({ action: `after-budget.${i}` }));
      await log.flush();
      const lagging = sink.stats;
      expect(lagging.spooled).toBeGreaterThanOrEqual(59);
      expect(lagging.oldestSpooledAgeMs).toBeGreaterThanOrEqual(0);
      expect(sink.describe()).toMatchObject({
        connection: 'connect',
        maxReconnectAttempts: 2,
        stats: { connected: false },
      });

      await server.start();
      await until('the spool to drain', () => sink.stats.spooled === 0 && sink.stats.delivered >= 80);
      for (let i = 0; i < 5; i++) await log.append(event({ action: `back.${i}` }));
      await log.close();

      expect(sinkErrors).toEqual([]);
      const stored = (await storedMessages()).filter((m) => m.subject === `${SUBJECT}.one`);
      const ids = stored.map((m) => m.header.get('Nats-Msg-Id'));
      // Every one of the 85 entries exactly once, in seq order.
      expect(ids).toEqual(Array.from({ length: 85 }, (_, i) => `outage-1:${i + 1}`));
      const seqs = stored.map((m) => (JSON.parse(new TextDecoder().decode(m.data)) as { seq: number }).seq);
      expect(seqs).toEqual(Array.from({ length: 85 }, (_, i) => i + 1));
      expect(sink.stats.connections).toBeGreaterThanOrEqual(2);
    });

    it('a sink opened on the spool of a closed one delivers what it left behind', async () => {
      const connectFn: NatsConnect = (o) =>
        connect({ servers: server.url, ...o, reconnectTimeWait: 100, timeout: 1000 });
      const options = {
        logId: 'outage-2',
        subject: `${SUBJECT}.two`,
        maxReconnectAttempts: 1,
        timeoutMs: 500,
        retryDelayMs: 50,
        spool: { dir: spoolDir },
      };
      const store = new MemoryAuditStore();
      const first = new NatsAuditSink(connectFn, options);
      const log = await AuditLog.open({ store, logId: 'outage-2', sinks: [first], closeStore: false });
      await until('the first connection', () => first.stats.connected);
      await log.append(event({ action: 'one' }));
      await log.flush();
      await until(
        'the first entry delivered',
        () => first.stats.delivered === 1 && first.stats.spooled === 0,
      );
      await server.kill();
      for (let i = 0; i < 10; i++) await log.append(event({ action: `queued.${i}` }));
      await log.close();
      expect(first.stats.spooled).toBe(10);

      await server.start();
      const second = new NatsAuditSink(connectFn, options);
      await until(
        'the second sink to deliver the leftovers',
        () => second.stats.delivered === 10 && second.stats.spooled === 0,
      );
      await second.close();
      const stored = (await storedMessages()).filter((m) => m.subject === `${SUBJECT}.two`);
      expect(stored.map((m) => m.header.get('Nats-Msg-Id'))).toEqual(
        Array.from({ length: 11 }, (_, i) => `outage-2:${i + 1}`),
      );
    });
  },
);
