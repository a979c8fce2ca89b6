import { BulwarkError, BulwarkHttpError, ErrorCodes } from '@bulwark/core';
import { InputGuard, lingerOnUnreadBody, type InputGuardOptions } from '@bulwark/core/http';
import type { PlatformMiddleware } from './platform-middleware';

export type InputGuardMiddleware = PlatformMiddleware & { readonly guard: InputGuard };

/**
 * Refuses oversized bodies (413), deep or key-heavy JSON (422), prototype-pollution keys, NUL bytes
 * and path traversal (400). A body already parsed (by Nest's built-in parser, which runs before any
 * module middleware) is checked as parsed; otherwise JSON and urlencoded bodies are read here,
 * bounded by `maxBodyBytes`, as @bulwark/express does. Refusals go to `next(error)`, where Nest's
 * exception layer hands them to BulwarkExceptionFilter.
 */
export function inputGuard(
  options: InputGuardOptions = {},
  /** True when the platform parses the body after middleware (Fastify): only the head is checked here. */
  bodyLater: () => boolean = () => false,
): InputGuardMiddleware {
  const guard = new InputGuard({ configPath: 'BulwarkModule.inputGuard', ...options });
  const middleware: PlatformMiddleware = (req, res, next) => {
    try {
      guard.checkHead({
        method: req.method ?? 'GET',
        url: req.originalUrl ?? req.url ?? '/',
        headers: req.headers,
      });
      if (bodyLater()) return next();
      if (req.body !== undefined || !guard.parseBody) {
        guard.checkValue(req.body, 'body');
        return next();
      }
      // No body to read (most GETs): on synchronously, no promise per request (readBody would
      // give undefined, as @bulwark/express's guard does).
      if (!guard.hasBody(req.headers)) return next();
    } catch (error) {
      return refuse(req, res, next, error);
    }
    // Core's bounded reader never destroys the request when it stops early (an oversize body): a
    // destroyed request loses its socket before the refusal is written.
    guard.readBody(req, req.headers).then(
      (body) => {
        if (body !== undefined) req.body = body;
        next();
      },
      (error: unknown) => refuse(req, res, next, error),
    );
  };
  return Object.assign(middleware, { guard });
}

/** Answers a refusal of the guard (or a body that stopped arriving) through `next(error)`. */
function refuse(
  req: Parameters<PlatformMiddleware>[0],
  res: Parameters<PlatformMiddleware>[1],
  next: Parameters<PlatformMiddleware>[2],
  error: unknown,
): void {
  // The body was not read to its end: the rest is read and dropped, and the socket closed if
  // it never ends (closing at once could reset the connection before the client reads the 413).
  lingerOnUnreadBody({ request: req, response: res });
  next(error instanceof BulwarkError ? error : incomplete(error));
}

/**
 * A body that stopped arriving (the client hung up, or sent less than its Content-Length and
 * closed): the client's doing, so a 400 like body-parser's `request.aborted`, never a 500.
 */
function incomplete(cause: unknown): BulwarkHttpError {
  return new BulwarkHttpError(
    ErrorCodes.HTTP_BAD_REQUEST,
    400,
    'The request body was not received completely.',
    { location: 'body' },
    { cause },
  );
}
