import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { from, mergeMap, type Observable } from 'rxjs';
import { BULWARK_AUTHORIZE, type AuthorizeMetadata } from './authorize-metadata';
import { BulwarkRuntime } from './bulwark-runtime';
import type { PlatformRequest } from './request-tracking';
import { filterResponseFields, type HttpPrincipal } from './core-http';
import type { AuthzResource } from '@bulwark/core';
import { decidedContexts } from './resource-spec';

/**
 * Applied by `@Authorize(..., { filterResponse })`: the handler's answer keeps only the fields the
 * principal may read under the policy's field rules (ASVS V8.2.3). Runs after BulwarkGuard, which
 * decided the request and left the resource on `req.authorizedResource`.
 */
@Injectable()
export class BulwarkFieldFilterInterceptor implements NestInterceptor {
  constructor(
    private readonly reflector: Reflector,
    private readonly runtime: BulwarkRuntime,
  ) {}

  intercept(execution: ExecutionContext, next: CallHandler): Observable<unknown> {
    const meta = this.reflector.getAllAndOverride<AuthorizeMetadata | undefined>(BULWARK_AUTHORIZE, [
      execution.getHandler(),
      execution.getClass(),
    ]);
    const filter = meta?.options.filterResponse;
    if (execution.getType() !== 'http' || meta === undefined || filter === undefined || filter === false) {
      return next.handle();
    }
    const req = execution
      .switchToHttp()
      .getRequest<PlatformRequest & { authorizedResource?: AuthzResource; principal?: HttpPrincipal }>();
    const authorizer = this.runtime.options.authorizer;
    const action = typeof filter === 'object' ? (filter.action ?? meta.action) : meta.action;
    return next
      .handle()
      .pipe(
        mergeMap((body: unknown) =>
          from(
            filterResponseFields(
              authorizer!,
              req.principal!,
              action,
              req.authorizedResource!,
              body,
              decidedContexts.get(req),
            ),
          ),
        ),
      );
  }
}
