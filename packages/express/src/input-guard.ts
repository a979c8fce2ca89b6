import { InputGuard, lingerOnUnreadBody, type InputGuardOptions } from '@bulwark/core/http';
import type { RequestHandler } from 'express';

export type InputGuardMiddleware = RequestHandler & { readonly guard: InputGuard };

/**
 * Refuses oversized bodies (413), deep or key-heavy JSON (422), prototype-pollution keys, NUL bytes
 * and path traversal (400). Parses JSON and urlencoded bodies itself (bounded) when no parser ran
 * before it; a later `express.json()` sees the body as read and skips.
 */
export function inputGuard(options: InputGuardOptions = {}): InputGuardMiddleware {
  const guard = new InputGuard(options);
  const middleware: RequestHandler = (req, res, next) => {
    const refuse = (err: unknown): void => {
      // The body was not read to its end: drop the rest, close the socket if it never ends.
      lingerOnUnreadBody({ request: req, response: res });
      next(err);
    };
    try {
      guard.checkHead({ method: req.method, url: req.originalUrl, headers: req.headers });
      if (req.body !== undefined || !guard.parseBody) {
        guard.checkValue(req.body, 'body');
        return next();
      }
      // No body to read (most GETs): on synchronously, no promise per request.
      if (!guard.hasBody(req.headers)) return next();
    } catch (err) {
      return refuse(err);
    }
    guard.readBody(req, req.headers).then((body) => {
      if (body !== undefined) req.body = body;
      // The stream is consumed. body-parser 2 (Express 5) sees that itself; body-parser 1
      // (Express 4's express.json()) skips only a request flagged `_body`, else it re-reads and fails.
      (req as { _body?: boolean })._body = true;
      next();
    }, refuse);
  };
  return Object.assign(middleware, { guard });
}
