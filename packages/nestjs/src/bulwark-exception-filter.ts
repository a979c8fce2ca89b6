import { STATUS_CODES } from 'node:http';
import {
  Catch,
  HttpException,
  Injectable,
  Logger,
  type ArgumentsHost,
  type ExceptionFilter,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { BulwarkError } from '@bulwark/core';
import { BulwarkRuntime } from './bulwark-runtime';
import { PROBLEM_CONTENT_TYPE, problemFor, type ProblemResponse } from './core-http';
import {
  noteError,
  trackRequest,
  type BulwarkRequestState,
  type PlatformRequest,
  type PlatformResponse,
} from './request-tracking';

const MAX_ERRORS = 50;
const MAX_ERROR_LENGTH = 200;

/**
 * Answers every exception of an HTTP request as RFC 9457 `application/problem+json`, with the
 * request id. Bulwark errors are mapped by code (core's problemFor: token failures 401 with a
 * `WWW-Authenticate: Bearer` challenge, denials 403 with only `reasonId`, missing consent 403
 * with `purposeId`); Nest HttpExceptions keep their status and, below 500, their message
 * (validation messages become an `errors` list). Anything else is a 500 whose body says nothing
 * about the cause; the error itself is logged server-side.
 */
@Catch()
@Injectable()
export class BulwarkExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('Bulwark');

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly runtime: BulwarkRuntime,
  ) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    // RPC and websocket errors have their own protocols; leave them to Nest's default handling.
    if (host.getType() !== 'http') throw exception;
    const http = host.switchToHttp();
    const req = http.getRequest<PlatformRequest>();
    const res = http.getResponse<PlatformResponse>();
    const state = trackRequest(this.runtime, req, res);
    noteError(state, exception);

    const problem = this.problem(exception, state);
    if (problem.status >= 500) this.log(exception, state);
    const adapter = this.adapterHost.httpAdapter;
    if (adapter.isHeadersSent(res)) {
      // Part of the body is out: the status cannot change any more, only the stream can be ended.
      adapter.end(res);
      return;
    }
    for (const [name, value] of Object.entries(problem.headers)) adapter.setHeader(res, name, value);
    adapter.setHeader(res, 'Content-Type', PROBLEM_CONTENT_TYPE);
    adapter.reply(res, problem.body, problem.status);
  }

  private problem(exception: unknown, state: BulwarkRequestState): ProblemResponse {
    const context = { requestId: state.requestId, realm: this.runtime.realm };
    if (!(exception instanceof HttpException)) return problemFor(exception, context);
    const response = exception.getResponse();
    const message =
      typeof response === 'string'
        ? response
        : typeof response === 'object' && response !== null && !(response instanceof Error)
          ? (response as { message?: unknown }).message
          : undefined;
    // A Nest HttpException is written by the application for its clients, like an http-errors
    // error with `expose: true`; problemFor still drops the message of a 5xx.
    const status = exception.getStatus();
    const problem = problemFor(
      {
        status,
        expose: true,
        ...(typeof message === 'string' ? { message } : {}),
      },
      context,
    );
    if (status >= 500 && status <= 599 && problem.status !== status) {
      // e.g. ServiceUnavailableException: keep the status (clients retry on 503), not the message.
      problem.status = status;
      problem.body.status = status;
      problem.body.title = STATUS_CODES[status] ?? problem.body.title;
    }
    if (Array.isArray(message) && problem.status < 500) {
      problem.body.errors = message
        .filter((m): m is string => typeof m === 'string')
        .slice(0, MAX_ERRORS)
        .map((m) => m.slice(0, MAX_ERROR_LENGTH));
    }
    return problem;
  }

  private log(exception: unknown, state: BulwarkRequestState): void {
    if (exception instanceof BulwarkError) {
      // Bulwark messages never hold secrets; the stack adds nothing an operator needs here.
      this.logger.error(`${exception.code}: ${exception.message} (request ${state.requestId})`);
    } else if (exception instanceof Error) {
      this.logger.error(
        `${exception.name}: ${exception.message} (request ${state.requestId})`,
        exception.stack,
      );
    } else {
      this.logger.error(`non-Error thrown (request ${state.requestId})`);
    }
  }
}
