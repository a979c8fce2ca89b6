import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * The request as Bulwark's middleware reads it: Node's IncomingMessage plus what Express (Nest's
 * default platform) adds. Only Node members are required, so the middleware also runs on the raw
 * request that @nestjs/platform-fastify hands to middleware.
 */
export interface MiddlewareRequest extends IncomingMessage {
  /** Express: the URL as received, before any mount point was stripped. */
  originalUrl?: string;
  /** Set by a body parser that ran before Bulwark (Nest's built-in one), else by the input guard. */
  body?: unknown;
  query?: unknown;
  /** express-session's session id: the default CSRF binding. */
  sessionID?: string;
  /** Set by the CSRF step (csurf's API): the token to embed in forms or send in a csrf-token header. */
  csrfToken?: () => string;
}

/** A Connect-style middleware, the shape both Express and Nest's MiddlewareConsumer take. */
export type PlatformMiddleware = (
  req: MiddlewareRequest,
  res: ServerResponse,
  next: (error?: unknown) => void,
) => void;
