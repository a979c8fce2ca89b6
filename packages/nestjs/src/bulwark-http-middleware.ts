import { Injectable, type NestMiddleware } from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import { BulwarkRuntime } from './bulwark-runtime';
import type { MiddlewareRequest } from './platform-middleware';

/**
 * The request-level protections of BulwarkModule, in core's bundle order:
 *   request id -> security headers -> CORS -> Fetch Metadata -> input guard -> CSRF
 * (the same steps and order as @bulwark/express's and @bulwark/koa's `bulwark()` bundle; guards,
 * which authenticate, run after all middleware in Nest). The module applies it to every route,
 * unmatched ones included. A refusal goes to `next(error)`, i.e. to Nest's exception layer and so
 * to BulwarkExceptionFilter, which answers problem+json.
 */
@Injectable()
export class BulwarkHttpMiddleware implements NestMiddleware<MiddlewareRequest, ServerResponse> {
  constructor(private readonly runtime: BulwarkRuntime) {}

  use(req: MiddlewareRequest, res: ServerResponse, next: (error?: unknown) => void): void {
    const steps = this.runtime.http.steps;
    let i = 0;
    const step = (error?: unknown): void => {
      if (error !== undefined && error !== null) return next(error);
      if (i === steps.length) return next();
      try {
        steps[i++]!(req, res, step);
      } catch (thrown) {
        next(thrown);
      }
    };
    step();
  }
}
