import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { catchError, throwError, type Observable } from 'rxjs';
import { BULWARK_AUDITED, type AuditedMetadata } from './audited';
import { BulwarkRuntime } from './bulwark-runtime';
import { noteError, trackRequest, type PlatformRequest, type PlatformResponse } from './request-tracking';

/**
 * Audits `@Audited` routes (or every route with `audit.allRequests`): one event per call, queued
 * when the response closes so that its outcome is the status the client really got, including
 * exceptions thrown by the handler (answered by the exception filter after this interceptor) and
 * refusals by guards that ran before it. The handler's stream is passed through untouched: the
 * response is never delayed by the audit log. Thrown errors are only noted (their stable code goes
 * into the event's details) and re-thrown.
 */
@Injectable()
export class BulwarkAuditInterceptor implements NestInterceptor {
  constructor(
    private readonly reflector: Reflector,
    private readonly runtime: BulwarkRuntime,
  ) {}

  intercept(execution: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (execution.getType() !== 'http') return next.handle();
    const http = execution.switchToHttp();
    const audited = this.reflector.getAllAndOverride<AuditedMetadata | undefined>(BULWARK_AUDITED, [
      execution.getHandler(),
      execution.getClass(),
    ]);
    const state = trackRequest(
      this.runtime,
      http.getRequest<PlatformRequest>(),
      http.getResponse<PlatformResponse>(),
      audited,
      execution,
    );
    return next.handle().pipe(
      catchError((error: unknown) => {
        noteError(state, error);
        return throwError(() => error);
      }),
    );
  }
}
