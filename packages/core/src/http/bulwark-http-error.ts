import { BulwarkError } from '../errors';

/**
 * A request the HTTP layer refuses: bad input, missing credentials, CSRF, lockout. Carries the
 * HTTP status the problem-details mapping answers with. `statusCode` and `expose` mirror the
 * http-errors shape (csurf's EBADCSRFTOKEN error was one), so existing Express / Koa error
 * handlers that read `err.status` or `err.expose` keep working.
 */
export class BulwarkHttpError extends BulwarkError {
  readonly status: number;
  readonly statusCode: number;
  /** 4xx messages are written for the client and safe to show. */
  readonly expose: boolean;

  constructor(
    code: string,
    status: number,
    message: string,
    details?: Record<string, unknown>,
    options?: { cause?: unknown },
  ) {
    super(code, message, details, options);
    this.status = status;
    this.statusCode = status;
    this.expose = status < 500;
  }
}
