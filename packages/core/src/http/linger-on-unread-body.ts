/** The socket of a Node HTTP exchange, as `lingerOnUnreadBody` uses it. */
export interface LingeringSocket {
  destroy(): unknown;
  end(): unknown;
  once(event: 'close' | 'end', fn: () => void): unknown;
  /** Node's server calls it after the last answer on a connection that is not kept alive. */
  destroySoon?: () => void;
}

/** The request and response of a Node HTTP exchange, as `lingerOnUnreadBody` uses them. */
export interface UnreadBodyExchange {
  request: {
    readonly complete: boolean;
    readonly socket?: LingeringSocket | null;
    on(event: 'error', fn: (error: unknown) => void): unknown;
    once(event: 'end', fn: () => void): unknown;
    resume(): unknown;
  };
  response: { once(event: 'finish', fn: () => void): unknown };
}

/** How long the rest of a refused body is read and dropped after the answer, before the socket closes. */
export const UNREAD_BODY_LINGER_MS = 2_000;

/**
 * For an answer sent before the request body was read to its end (413 on a declared or streamed
 * size, a refusal before the body was needed): the rest is read and dropped, and if it has still
 * not ended `lingerMs` after the answer, the socket is closed. This is the lingering close of
 * RFC 9112 §9.6 (as nginx does it): closing a socket with unread bytes makes the kernel answer
 * with a reset, and a reset can discard the answer before the client reads it; keeping the
 * connection open for the whole body would let an endless chunked body hold it.
 *
 * On a connection that is not kept alive (the client sent `Connection: close`, or the server
 * chose to close), Node's server closes the socket right after the answer: that close is turned
 * into a half-close (the answer and a FIN go out, reading goes on) until the body ends or the
 * linger time passes. Never throws.
 */
export function lingerOnUnreadBody(
  { request, response }: UnreadBodyExchange,
  lingerMs = UNREAD_BODY_LINGER_MS,
): void {
  if (request.complete) return;
  request.on('error', () => {});
  request.resume();
  const socket = request.socket;
  if (socket == null) return;
  let closing: ReturnType<typeof setTimeout> | undefined;
  const closeAfterLinger = (): void => {
    if (closing !== undefined) return;
    closing = setTimeout(() => {
      if (!request.complete) socket.destroy();
    }, lingerMs);
    closing.unref();
    request.once('end', () => clearTimeout(closing));
    socket.once('close', () => clearTimeout(closing));
  };
  const destroySoon = socket.destroySoon;
  if (typeof destroySoon === 'function') {
    socket.destroySoon = function lingeringDestroySoon(this: LingeringSocket): void {
      socket.destroySoon = destroySoon;
      if (request.complete) {
        destroySoon.call(this);
        return;
      }
      // Half-close: the answer and a FIN are sent, the rest of the body is still read and dropped;
      // the socket closes when the body or the client's side ends, or after the linger time.
      socket.end();
      const close = (): void => {
        clearTimeout(timer);
        socket.destroy();
      };
      const timer = setTimeout(close, lingerMs);
      timer.unref();
      request.once('end', close);
      socket.once('end', close);
      socket.once('close', () => clearTimeout(timer));
    };
  }
  response.once('finish', () => {
    if (request.complete) return;
    closeAfterLinger();
  });
}
