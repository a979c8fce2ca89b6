import { EventEmitter } from 'node:events';
import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { handleClientErrors } from '@bulwark/core/http';

/**
 * For Fastify's `clientErrorHandler` server option: requests Node's HTTP parser refuses before any
 * hook (headers over `maxHeaderSize` -> 431, malformed request lines or headers -> 400) answer with
 * RFC 9457 problem+json, exactly as core's `handleClientErrors` answers them for Express and Koa.
 * (Fastify installs its own 'clientError' listener, so `handleClientErrors(app.server)` would
 * answer second: pass this instead, `Fastify({ clientErrorHandler: clientErrorHandler() })`.)
 * `onError` sees each refused request's code.
 */
export function clientErrorHandler(onError?: (code: string) => void): (error: Error, socket: Duplex) => void {
  // Core's handler, registered on a private emitter and called for each error Fastify hands over.
  const emitter = new EventEmitter();
  handleClientErrors(emitter as unknown as Server, onError);
  return (error, socket) => {
    emitter.emit('clientError', error, socket);
  };
}
