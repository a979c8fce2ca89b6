/**
 * An in-process TCP proxy for fault injection in front of a real service (PostgreSQL on 5432):
 * the service itself is never stopped. Modes:
 *   - forward (default): bytes pass both ways;
 *   - blackhole: bytes are swallowed both ways and sockets stay open (a network partition);
 *   - `resetAll()`: every connection is reset at once (RST to the client, upstream closed);
 *   - `onClientData(hook)`: inspect each client->server chunk, e.g. to cut the connections right
 *     after a COMMIT is forwarded (before the reply can reach the client).
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export type ProxyHook = (
  chunk: Buffer,
  pair: ProxyPair,
) => 'forward' | 'forward-then-reset' | 'drop-and-reset';

export interface ProxyPair {
  client: Socket;
  upstream: Socket;
}

export class TcpProxy {
  private readonly pairs = new Set<ProxyPair>();
  private mode: 'forward' | 'blackhole' = 'forward';
  private hook?: ProxyHook;
  /** Connections accepted so far. */
  accepted = 0;

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(target: { host: string; port: number }): Promise<TcpProxy> {
    const ref: { proxy?: TcpProxy } = {};
    const server = createServer((client) => ref.proxy?.accept(client, target));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    ref.proxy = new TcpProxy(server, (server.address() as { port: number }).port);
    return ref.proxy;
  }

  private accept(client: Socket, target: { host: string; port: number }): void {
    this.accepted++;
    const upstream = createConnection(target);
    const pair = { client, upstream };
    this.pairs.add(pair);
    const drop = (): void => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop);
    upstream.on('error', drop);
    client.on('close', drop);
    upstream.on('close', drop);
    client.on('data', (chunk) => {
      if (this.mode === 'blackhole') return;
      const action = this.hook?.(chunk, pair) ?? 'forward';
      if (action === 'drop-and-reset') {
        this.reset(pair);
        return;
      }
      upstream.write(chunk);
      if (action === 'forward-then-reset') {
        // end() flushes the chunk to the server before the FIN; the client is reset at once, so
        // the server's answer can never reach it.
        upstream.end();
        this.pairs.delete(pair);
        client.resetAndDestroy();
      }
    });
    upstream.on('data', (chunk) => {
      if (this.mode === 'blackhole') return;
      client.write(chunk);
    });
  }

  private reset(pair: ProxyPair): void {
    this.pairs.delete(pair);
    pair.client.resetAndDestroy();
    pair.upstream.destroy();
  }

  /** Live connections. */
  get connections(): number {
    return this.pairs.size;
  }

  blackhole(): void {
    this.mode = 'blackhole';
  }

  forward(): void {
    this.mode = 'forward';
  }

  onClientData(hook: ProxyHook | undefined): void {
    this.hook = hook;
  }

  resetAll(): void {
    for (const pair of [...this.pairs]) this.reset(pair);
  }

  async close(): Promise<void> {
    this.resetAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Whether a client->server PostgreSQL chunk carries a simple-protocol `COMMIT` query ('Q' message). */
export function isCommit(chunk: Buffer): boolean {
  for (let i = chunk.indexOf(0x51); i >= 0 && i + 5 < chunk.length; i = chunk.indexOf(0x51, i + 1)) {
    const len = chunk.readUInt32BE(i + 1);
    const text = chunk.subarray(i + 5, i + 1 + len - 1).toString('utf8');
    if (/^\s*COMMIT\s*;?\s*$/i.test(text)) return true;
  }
  return false;
}
