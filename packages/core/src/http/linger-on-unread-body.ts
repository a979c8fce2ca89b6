/** The request and response of a Node HTTP exchange, as `lingerOnUnreadBody` uses them. */
export interface UnreadBodyExchange {
  request: {
    readonly complete: boolean;
    readonly socket?: { destroy(): unknown; once(event: 'close', fn: () => void): unknown } | null;
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
 * not ended `lingerMs` after the answer, the socket is closed. Closing at once (`Connection:
 * close`) would reset a connection the client is still writing to, and a reset can discard the
 * answer before the client reads it (the lingering close of RFC 9112 §9.6, as nginx does);
 * keeping the connection open for the whole body would let an endless chunked body hold it.
 * Never throws.
 */
export function lingerOnUnreadBody(
  { request, response }: UnreadBodyExchange,
  lingerMs = UNREAD_BODY_LINGER_MS,
): void {
  if (request.complete) return;
  request.on('error', () => {});
  request.resume();
  response.once('finish', () => {
    if (request.complete) return;
    const socket = request.socket;
    if (socket == null) return;
    const timer = setTimeout(() => {
      if (!request.complete) socket.destroy();
    }, lingerMs);
    timer.unref();
    request.once('end', () => clearTimeout(timer));
    socket.once('close', () => clearTimeout(timer));
  });
}
