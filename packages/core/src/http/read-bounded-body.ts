import { ErrorCodes } from '../errors';
import { BulwarkHttpError } from './bulwark-http-error';

/** The part of a Node Readable (an `http.IncomingMessage`) the body reader uses. */
export interface BodyStream {
  on(event: 'data', listener: (chunk: Buffer | string) => void): unknown;
  on(event: 'end' | 'close', listener: () => void): unknown;
  on(event: 'error', listener: (error: unknown) => void): unknown;
  removeListener(event: string, listener: (...args: never[]) => void): unknown;
  resume(): unknown;
  readonly readableEnded?: boolean;
}

function isBodyStream(value: unknown): value is BodyStream {
  const s = value as Partial<BodyStream> | null;
  return (
    typeof s?.on === 'function' && typeof s.removeListener === 'function' && typeof s.resume === 'function'
  );
}

function tooLarge(limit: number): BulwarkHttpError {
  return new BulwarkHttpError(
    ErrorCodes.HTTP_BODY_TOO_LARGE,
    413,
    `The request body is larger than ${limit} bytes.`,
    { location: 'body' },
  );
}

function incomplete(): BulwarkHttpError {
  return new BulwarkHttpError(
    ErrorCodes.HTTP_MALFORMED_BODY,
    400,
    'The request body ended before it was complete.',
    { location: 'body' },
  );
}

/**
 * Reads a request body of at most `limit` bytes. Past the limit it stops collecting and rejects
 * with ERR_HTTP_BODY_TOO_LARGE, but never destroys the stream: the rest is discarded as it
 * arrives, so the socket stays open for the 413 (see `lingerOnUnreadBody`). Leaving a `for await`
 * over the request instead destroys it, and with it the socket, before the answer is written. A
 * client that hangs up mid-body rejects with ERR_HTTP_MALFORMED_BODY (400), not a stream error.
 */
export function readBoundedBody(
  stream: BodyStream | AsyncIterable<Buffer | string>,
  limit: number,
): Promise<Buffer> {
  if (!isBodyStream(stream)) return readIterable(stream, limit);
  if (stream.readableEnded === true) return Promise.resolve(Buffer.alloc(0));
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = (): void => {
      stream.removeListener('data', onData);
      stream.removeListener('end', onEnd);
      stream.removeListener('close', onClose);
      stream.removeListener('error', onError);
      // Keeps a listener-less 'error' (a client reset while the rest is discarded) from being thrown.
      stream.on('error', () => {});
    };
    const onData = (chunk: Buffer | string): void => {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      size += buf.length;
      if (size > limit) {
        cleanup();
        // Still flowing with no 'data' listener: Node reads the rest off the socket and drops it.
        stream.resume();
        chunks.length = 0;
        reject(tooLarge(limit));
        return;
      }
      chunks.push(buf);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(Buffer.concat(chunks, size));
    };
    const onClose = (): void => {
      cleanup();
      reject(incomplete());
    };
    const onError = (): void => {
      cleanup();
      reject(incomplete());
    };
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('close', onClose);
    stream.on('error', onError);
    stream.resume();
  });
}

/** For bodies that are not Node streams (tests, web streams): no socket to keep. */
async function readIterable(stream: AsyncIterable<Buffer | string>, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    size += buf.length;
    if (size > limit) throw tooLarge(limit);
    chunks.push(buf);
  }
  return Buffer.concat(chunks, size);
}
