import { STATUS_CODES } from 'node:http';
import {
  Catch,
  HttpException,
  Injectable,
  IntrinsicException,
  Logger,
  NotFoundException,
  type ArgumentsHost,
  type ExceptionFilter,
} from '@nestjs/common';
import { BaseExceptionFilter, HttpAdapterHost } from '@nestjs/core';
import { BulwarkError, BulwarkHttpError, ErrorCodes } from '@bulwark/core';
import { bodyParserError, fastifyFrameworkError } from '@bulwark/core/http';
import { BulwarkRuntime } from './bulwark-runtime';
import { PROBLEM_CONTENT_TYPE, problemFor, type ProblemResponse } from './core-http';
import type { MiddlewareRequest } from './platform-middleware';
import { routeAudit } from './route-audit';
import {
  noteError,
  rawResponse,
  trackRequest,
  type BulwarkRequestState,
  type PlatformRequest,
  type PlatformResponse,
} from './request-tracking';

/**
 * Answers Bulwark's errors and unknown errors of an HTTP request as RFC 9457
 * `application/problem+json`, with the request id and the security headers. Bulwark errors are
 * mapped by code (core's problemFor: token failures 401 with a `WWW-Authenticate` challenge,
 * denials 403 with only `reasonId`, missing consent 403 with `purposeId`); two exceptions Nest
 * writes from client input count as Bulwark's refusals: a body parser's error (its message quotes
 * the body) becomes the input guard's refusal with a fixed detail, and Nest's `Cannot GET /path`
 * for an unmatched route (it echoes the URL) becomes a fixed 404. Anything else unknown is a 500
 * whose body says nothing about the cause, logged as Nest logs it (the `ExceptionsHandler`
 * context, through the app's logger), never under `[Bulwark]`.
 *
 * The application's own `HttpException`s (a `UnprocessableEntityException({ errors: {...} })`,
 * a `ValidationPipe` refusal, a string or array body) are the app's API: they pass through
 * untouched, status and body exactly as Nest's BaseExceptionFilter sends them (the security
 * headers and the request id header are still set, and the audit event records the status).
 * Module option `appErrors: 'problem'` answers them as problem+json instead (message as
 * `detail`, validation messages or a field-level `errors` member as `errors`).
 */
const MAX_ERRORS = 50;
const MAX_ERROR_LENGTH = 200;

@Catch()
@Injectable()
export class BulwarkExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('Bulwark');
  /** BaseExceptionFilter's own logger context, for the app's crashes. */
  private readonly appLogger = new Logger('ExceptionsHandler');

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
    // A request refused before Bulwark's guard saw its route (the app's own guard, or Bulwark's
    // middleware) is still audited under the route's @Audited action.
    const seen = trackRequest(this.runtime, req, res);
    const state =
      seen.audited === undefined && this.runtime.auditor !== undefined
        ? trackRequest(this.runtime, req, res, routeAudit(req, this.adapterHost.httpAdapter?.getInstance?.()))
        : seen;
    // Thrown after BulwarkGuard let the request in (a pipe, the handler, its response): noted as
    // thrown, as the route's audit interceptor notes it, for routes that run without one (see
    // BulwarkModule.configure). Before that, a refusal of client input is noted as Bulwark's.
    if (state.admitted === true) noteError(state, exception);
    const refusal = this.clientInputError(exception, req);
    noteError(state, refusal ?? exception);
    const adapter = this.adapterHost.httpAdapter;

    if (refusal === undefined && exception instanceof HttpException && this.runtime.appErrors === 'nest') {
      // The app's own error: Nest's answer, byte for byte (BaseExceptionFilter ends the response
      // itself when part of the body is out).
      if (!adapter.isHeadersSent(res)) {
        this.runtime.http.secure(req as unknown as MiddlewareRequest, rawResponse(res));
      }
      new BaseExceptionFilter(adapter).catch(exception, host);
      return;
    }

    const problem = this.problem(refusal ?? exception, state);
    if (problem.status >= 500) this.log(exception, state);
    if (adapter.isHeadersSent(res)) {
      // Part of the body is out: the status cannot change any more, only the stream can be ended.
      adapter.end(res);
      return;
    }
    // An error raised before Bulwark's middleware (Nest's body parser runs first) has no headers yet.
    this.runtime.http.secure(req as unknown as MiddlewareRequest, rawResponse(res));
    for (const [name, value] of Object.entries(problem.headers)) adapter.setHeader(res, name, value);
    adapter.setHeader(res, 'Content-Type', PROBLEM_CONTENT_TYPE);
    adapter.setHeader(res, 'Cache-Control', 'no-store');
    adapter.reply(res, problem.body, problem.status);
  }

  /**
   * The Bulwark error behind an exception, or the refusal for one Nest made from client input, or
   * undefined: body-parser errors (Nest's adapter wraps them in an HttpException whose `cause` is
   * the parser's error) and the not-found exception of Nest's catch-all handler, recognised by its
   * exact message.
   */
  private clientInputError(exception: unknown, req: PlatformRequest): BulwarkHttpError | undefined {
    const cause = exception instanceof HttpException ? exception.cause : exception;
    // Nest's Express adapter wraps every http-errors-shaped 4xx error passed to next(), Bulwark's
    // own refusals from the middleware included, in an HttpException of the same status: the
    // original is its cause.
    if (
      cause instanceof BulwarkHttpError &&
      exception instanceof HttpException &&
      exception.getStatus() === cause.status
    ) {
      return cause;
    }
    const parserError = bodyParserError(cause);
    if (parserError !== undefined) return parserError;
    // @nestjs/platform-fastify wraps Fastify's own 4xx refusals (its content-type parsing: 415,
    // too large) in an HttpException whose message may echo the URL; its router's (a bad URL, an
    // over-long parameter) come unwrapped, through `bulwarkFrameworkErrors`: answered as
    // Bulwark's refusals with a fixed detail.
    if ((cause as { name?: unknown } | undefined)?.name === 'FastifyError') {
      const fastifyError = fastifyFrameworkError(cause);
      if (fastifyError !== undefined) return fastifyError;
    }
    // Express's router cannot percent-decode a route parameter (`/items/%zz`): a URIError it
    // marks 400, whose message quotes the parameter.
    if (cause instanceof URIError && (cause as { status?: unknown }).status === 400) {
      return new BulwarkHttpError(
        ErrorCodes.HTTP_BAD_REQUEST,
        400,
        'The request URL is not valid.',
        { location: 'path' },
        { cause },
      );
    }
    if (this.runtime.notFound && exception instanceof NotFoundException) {
      const adapter = this.adapterHost.httpAdapter;
      const routeMiss = `Cannot ${adapter.getRequestMethod?.(req) ?? req.method} ${adapter.getRequestUrl?.(req) ?? req.url}`;
      if (exception.message === routeMiss) {
        return new BulwarkHttpError(ErrorCodes.HTTP_NOT_FOUND, 404, 'No resource at this URL.');
      }
    }
    return undefined;
  }

  private problem(exception: unknown, state: BulwarkRequestState): ProblemResponse {
    const context = {
      requestId: state.requestId,
      realm: this.runtime.realm,
      scheme: this.runtime.authenticator.challengeScheme,
    };
    if (!(exception instanceof HttpException)) return problemFor(exception, context);
    // `appErrors: 'problem'`: the app's HttpException as problem+json, its message as `detail`,
    // a validation message list or a field-level `errors` member as `errors`.
    const response = exception.getResponse();
    const body =
      typeof response === 'object' && response !== null && !(response instanceof Error) ? response : {};
    const message = typeof response === 'string' ? response : (body as { message?: unknown }).message;
    const status = exception.getStatus();
    const problem = problemFor(
      { status, expose: true, ...(typeof message === 'string' ? { message } : {}) },
      context,
    );
    if (status >= 500 && status <= 599 && problem.status !== status) {
      // e.g. ServiceUnavailableException: keep the status (clients retry on 503), not the message.
      problem.status = status;
      problem.body.status = status;
      problem.body.title = STATUS_CODES[status] ?? problem.body.title;
    }
    if (problem.status < 500) {
      const errors = (body as { errors?: unknown }).errors;
      if (Array.isArray(message)) {
        problem.body.errors = message
          .filter((m): m is string => typeof m === 'string')
          .slice(0, MAX_ERRORS)
          .map((m) => m.slice(0, MAX_ERROR_LENGTH));
      } else if (typeof errors === 'object' && errors !== null) {
        // The app wrote it for its clients (`{ email: ['taken'] }`): kept as is.
        problem.body.errors = errors;
      }
    }
    return problem;
  }

  private log(exception: unknown, state: BulwarkRequestState): void {
    if (exception instanceof BulwarkError) {
      // Bulwark messages never hold secrets; the stack adds nothing an operator needs here.
      this.logger.error(`${exception.code}: ${exception.message} (request ${state.requestId})`);
    } else if (!(exception instanceof IntrinsicException)) {
      // The app's own crash: logged as Nest's BaseExceptionFilter logs it (context
      // `ExceptionsHandler`, through the logger the app gave Nest), not as Bulwark's.
      this.appLogger.error(exception);
    }
  }
}
