import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { ErrorCodes } from '../errors';
import { BulwarkHttpError } from './bulwark-http-error';
import { PROBLEM_CONTENT_TYPE, problemFor } from './problem-details';

/** What Node's HTTP parser reports for a request it refuses before any middleware runs. */
interface ClientError extends Error {
  code?: string;
  /** What the parser had read of the refused request. */
  rawPacket?: unknown;
}

/**
 * Makes the requests Node's HTTP parser refuses before any middleware runs (headers over
 * `maxHeaderSize` -> 431, malformed request lines or headers -> 400) answer with RFC 9457
 * application/problem+json like everything else, instead of a bare status line. Call it on the
 * server Express or Koa listens on: `handleClientErrors(app.listen(3000))`.
 *
 * `onError` sees each refused request's code (no request object exists yet: nothing was parsed,
 * so there is nothing safe to audit beyond the fact and the code). Returns the server.
 */
export function handleClientErrors<S extends Server>(server: S, onError?: (code: string) => void): S {
  server.on('clientError', (err: ClientError, socket: Duplex) => {
    const code =
      err.code === 'HPE_HEADER_OVERFLOW' ? ErrorCodes.HTTP_HEADERS_TOO_LARGE : ErrorCodes.HTTP_BAD_REQUEST;
    try {
      onError?.(code);
    } catch {
      // a throwing observer must not keep the socket open
    }
    // Send nothing, just close, on ECONNRESET, a closed socket, a socket an answer was already
    // written to (as Node's own handler decides), or one whose previous request is still being
    // answered: bytes the parser refuses after a request (the rest of a refused body, junk after a
    // HEAD) would otherwise get an answer the client reads as the answer to that request.
    const state = socket as Duplex & { bytesWritten?: number; _httpMessage?: unknown };
    const busy = (state.bytesWritten ?? 0) > 0 || state._httpMessage != null;
    if (err.code === 'ECONNRESET' || !socket.writable || busy) {
      socket.destroy();
      return;
    }
    const status = code === ErrorCodes.HTTP_HEADERS_TOO_LARGE ? 431 : 400;
    const problem = problemFor(
      new BulwarkHttpError(
        code,
        status,
        status === 431 ? 'Request headers are too large.' : 'The request could not be parsed.',
      ),
    );
    // An answer to a HEAD request carries no body (RFC 9110 §9.3.2): the client would read one as
    // junk after the answer. The method is known from the bytes the parser had read.
    const head =
      Buffer.isBuffer(err.rawPacket) && err.rawPacket.subarray(0, 5).toString('latin1') === 'HEAD ';
    const body = JSON.stringify(problem.body);
    socket.end(
      `HTTP/1.1 ${problem.status} ${problem.body.title}\r\n` +
        `Content-Type: ${PROBLEM_CONTENT_TYPE}\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        'Cache-Control: no-store\r\n' +
        'Connection: close\r\n\r\n' +
        (head ? '' : body),
    );
  });
  return server;
}
