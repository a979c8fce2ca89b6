/**
 * A hand-driven HTTP/1.1 client on a raw TCP socket, for attacks fetch cannot make: bodies that
 * stop before their Content-Length, chunked bodies that never end, clients that hang up (TCP RST)
 * mid-body.
 */
import { connect, type Socket } from 'node:net';

export interface RawExchange {
  /** The status of the response, if one arrived. */
  status?: number;
  /** Every byte received (the response head and body), as latin1 text. */
  received: string;
  /** A socket error seen on the client side (EPIPE / ECONNRESET after the server closed). */
  error?: string;
  /** True once the server closed the connection. */
  closed: boolean;
}

export interface RawConversation {
  readonly socket: Socket;
  /** Writes bytes; resolves false when the connection is already gone. */
  write(data: string | Buffer): Promise<boolean>;
  /** Resolves once a response head arrived, the connection closed, or `ms` passed. */
  response(ms?: number): Promise<RawExchange>;
  /** True while no response head has arrived and the connection is open. */
  open(): boolean;
  /** Half-closes (FIN): the client sends nothing more. */
  end(): void;
  /** Hangs up with a TCP RST, as a client that crashed or lost its network. */
  reset(): void;
  /** What was exchanged so far. */
  state(): RawExchange;
}

export async function rawConversation(baseUrl: string, head: string): Promise<RawConversation> {
  const url = new URL(baseUrl);
  const socket = connect(Number(url.port), url.hostname);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const exchange: RawExchange = { received: '', closed: false };
  const waiters = new Set<() => void>();
  const wake = (): void => {
    for (const w of waiters) w();
  };
  socket.on('data', (chunk: Buffer) => {
    exchange.received += chunk.toString('latin1');
    const m = /^HTTP\/1\.1 (\d{3})/.exec(exchange.received);
    if (m) exchange.status = Number(m[1]);
    wake();
  });
  socket.on('error', (err: NodeJS.ErrnoException) => {
    exchange.error ??= err.code ?? err.message;
    wake();
  });
  socket.on('close', () => {
    exchange.closed = true;
    wake();
  });
  const open = (): boolean => exchange.status === undefined && !exchange.closed && !socket.destroyed;
  const headText = head.endsWith('\r\n\r\n') ? head : `${head}\r\n\r\n`;
  socket.write(headText);
  return {
    socket,
    open,
    write: (data) =>
      new Promise<boolean>((resolve) => {
        if (socket.destroyed || exchange.closed) return resolve(false);
        socket.write(data, (err) => resolve(err == null));
      }),
    response: (ms = 10_000) =>
      new Promise<RawExchange>((resolve) => {
        const done = (): void => {
          if (exchange.status !== undefined || exchange.closed) finish();
        };
        const timer = setTimeout(() => finish(), ms);
        const finish = (): void => {
          clearTimeout(timer);
          waiters.delete(done);
          resolve({ ...exchange });
        };
        waiters.add(done);
        done();
      }),
    end: () => socket.end(),
    reset: () => socket.resetAndDestroy(),
    state: () => ({ ...exchange }),
  };
}

/** One chunk of a `Transfer-Encoding: chunked` body. */
export function chunk(data: Buffer | string): Buffer {
  const buf = typeof data === 'string' ? Buffer.from(data) : data;
  return Buffer.concat([Buffer.from(`${buf.length.toString(16)}\r\n`), buf, Buffer.from('\r\n')]);
}

export const LAST_CHUNK = '0\r\n\r\n';

/** Sends raw bytes; resolves with what came back ('' when the server closed without answering). */
export function rawExchange(
  app: { port: number },
  write: (socket: ReturnType<typeof connect>) => void,
  waitMs = 5_000,
): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(app.port, '127.0.0.1');
    let data = '';
    const done = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(data);
    };
    const timer = setTimeout(done, waitMs);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (data += chunk));
    socket.on('error', done);
    socket.on('close', done);
    socket.on('connect', () => write(socket));
  });
}
