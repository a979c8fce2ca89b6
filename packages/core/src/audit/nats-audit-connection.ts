import type { NatsJetStreamPublisher } from './nats-audit-sink-options';

/** The connect options the sink hands its connect function (a subset of nats.js `ConnectionOptions`). */
export interface NatsConnectOptions {
  /** Reconnect attempts per server before the client closes for good; -1 = forever. */
  maxReconnectAttempts: number;
  /** Milliseconds between reconnect attempts to one server. */
  reconnectTimeWait: number;
  /**
   * false: a first connect that reaches no server fails at once, and the sink tries again with
   * its own backoff (so close() never waits behind a connect that could wait forever).
   */
  waitOnFirstConnect: boolean;
}

/** A NATS connection (nats.js `NatsConnection`); only these members are used. */
export interface NatsConnectionLike {
  jetstream(): NatsJetStreamPublisher;
  /** Resolves when the connection is closed for good (the client gave up reconnecting, or close()). */
  closed(): Promise<void | Error>;
  drain(): Promise<void>;
  close(): Promise<void>;
  isClosed(): boolean;
  /** Status events; `disconnect` and `reconnect` steer the sink between publishing and spooling. */
  status?(): AsyncIterable<{ type: string }>;
}

/**
 * Opens a connection, e.g. `(o) => connect({ servers: 'nats://bus:4222', ...o })` with `connect`
 * from 'nats'. Called again whenever the previous connection closed for good.
 */
export type NatsConnect = (options: NatsConnectOptions) => Promise<NatsConnectionLike>;

const MAX_DELAY_MS = 5000;

/**
 * Keeps a connection open for the sink: connects, follows status events, and when the client
 * closes for good (its reconnect budget spent) connects again with capped backoff, for as long as
 * the sink is open. `current()` is the publisher while connected, `undefined` while the bus is away.
 */
export class NatsAuditConnection {
  private nc?: NatsConnectionLike;
  private js?: NatsJetStreamPublisher;
  private up = false;
  private stopped = false;
  private loop?: Promise<void>;
  private waiters = new Set<() => void>();
  /** Connections established (the first one included). */
  connections = 0;
  /** Last connect failure code, for stats (never a message: those may carry server URLs with credentials). */
  lastConnectError?: string;

  constructor(
    private readonly connect: NatsConnect,
    private readonly options: NatsConnectOptions,
    private readonly baseDelayMs: number,
    private readonly onChange: () => void,
  ) {}

  start(): void {
    this.loop ??= this.run();
  }

  get connected(): boolean {
    return this.up && this.js !== undefined;
  }

  current(): NatsJetStreamPublisher | undefined {
    return this.connected ? this.js : undefined;
  }

  /** Resolves at the next change of state (or after `ms`), whichever comes first. */
  wait(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref?.();
      this.waiters.add(done);
    });
  }

  private changed(): void {
    for (const w of [...this.waiters]) w();
    this.onChange();
  }

  private async run(): Promise<void> {
    let delay = Math.max(this.baseDelayMs, 10);
    while (!this.stopped) {
      let nc: NatsConnectionLike;
      try {
        nc = await this.connect({ ...this.options });
      } catch (err) {
        this.lastConnectError = String((err as { code?: unknown })?.code ?? 'CONNECT_FAILED');
        await this.wait(delay);
        delay = Math.min(MAX_DELAY_MS, delay * 2);
        continue;
      }
      if (this.stopped) {
        await nc.drain().catch(() => undefined);
        return;
      }
      delay = Math.max(this.baseDelayMs, 10);
      this.nc = nc;
      this.js = nc.jetstream();
      this.up = true;
      this.connections++;
      void this.follow(nc);
      this.changed();
      await nc.closed();
      this.up = false;
      this.js = undefined;
      this.nc = undefined;
      this.changed();
      if (!this.stopped) await this.wait(delay);
    }
  }

  private async follow(nc: NatsConnectionLike): Promise<void> {
    if (typeof nc.status !== 'function') return;
    try {
      for await (const s of nc.status()) {
        if (nc !== this.nc) return;
        if (s.type === 'disconnect') {
          this.up = false;
          this.changed();
        } else if (s.type === 'reconnect') {
          this.up = true;
          this.changed();
        }
      }
    } catch {
      // the iterator ends with the connection
    }
  }

  /** Stops reconnecting and drains the connection this keeper opened. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.changed();
    const nc = this.nc;
    // A connect still in flight drains its connection when it lands (see run). A connection that
    // is reconnecting cannot drain (drain waits for the server): close it.
    if (nc !== undefined && !nc.isClosed()) {
      await (this.up ? nc.drain() : nc.close()).catch(() => undefined);
    }
  }
}
