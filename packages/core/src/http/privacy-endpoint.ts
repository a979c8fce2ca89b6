import { BulwarkConfigError, ErrorCodes } from '../errors';
import { BearerAuthenticator } from './bearer-authenticator';
import type { BulwarkHttpKit } from './http-kit';
import type { HttpPrincipal } from './http-principal';
import { InputGuard } from './input-guard';
import { PrivacyApi, type PrivacyApiResponse } from './privacy-api';
import { problemFor } from './problem-details';
import { RequestAuditor } from './request-auditor';

/** One request to the privacy endpoints, as an adapter reads it from its framework. */
export interface PrivacyEndpointRequest {
  method: string;
  /** The path relative to where the endpoints are mounted (`/consents/marketing`). */
  path: string;
  /** The full path, for the audit event's route. */
  route: string;
  headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The raw body stream, read (size-limited) only when no body parser ran before. */
  stream: AsyncIterable<Buffer | string>;
  /** The body an app-level parser already produced, else undefined. */
  body?: unknown;
  /** A principal an earlier middleware set; else the endpoint authenticates with kit.tokens. */
  principal?: HttpPrincipal;
  ip?: string;
  requestId?: string;
  /** The client's own X-Request-Id (sanitised), audited apart from `requestId`. */
  clientRequestId?: string;
}

/** How the adapter answers: the endpoint decides, the adapter writes the framework response. */
export interface PrivacyEndpointResponder {
  /** Stores the authenticated principal on the request. */
  setPrincipal(principal: HttpPrincipal): void;
  /** Writes the endpoint's answer (and records `out.resource` in the request's state). */
  respond(out: PrivacyApiResponse): void;
  /** Writes a refusal as problem+json. */
  fail(error: unknown): void;
  /** The resource and error code the request's state holds once answered, for the audit event. */
  auditFacts(): { resource?: { type: string; id?: string }; errorCode?: string; errorReason?: string };
}

/**
 * The privacy endpoints (PrivacyApi) with what every adapter wraps around them: bearer
 * authentication with kit.tokens unless a principal is already set, a small body limit, and one
 * audit event per call (action `privacy.consent.grant`, `privacy.dsr.export`...; refused calls too)
 * in category `privacy` of kit.auditLog, which is therefore required.
 */
export class PrivacyEndpoint {
  readonly #api: PrivacyApi;
  readonly #auditor: RequestAuditor;
  readonly #authenticator?: BearerAuthenticator;
  readonly #guard = new InputGuard({ maxBodyBytes: 16 * 1024 });

  constructor(kit: BulwarkHttpKit) {
    this.#api = new PrivacyApi({
      ...(kit?.consent !== undefined ? { consent: kit.consent as never } : {}),
      ...(kit?.dsr !== undefined ? { dsr: kit.dsr } : {}),
    });
    if (kit.auditLog === undefined) {
      throw new BulwarkConfigError(
        ErrorCodes.CONFIG_INVALID,
        'privacyRouter needs kit.auditLog: privacy calls are audited',
        {
          path: 'kit.auditLog',
        },
      );
    }
    this.#auditor = new RequestAuditor({ log: kit.auditLog, category: 'privacy' });
    if (kit.tokens !== undefined) {
      this.#authenticator = new BearerAuthenticator({
        tokens: kit.tokens,
        ...(kit.revocation !== undefined ? { revocation: kit.revocation } : {}),
      });
    }
  }

  /** Answers one request through `io`; never throws (refusals go to `io.fail`). */
  async serve(req: PrivacyEndpointRequest, io: PrivacyEndpointResponder): Promise<void> {
    const start = performance.now();
    let action = 'privacy.request';
    let status: number;
    let principal = req.principal;
    const userAgent = req.headers['user-agent'];
    try {
      principal ??= await this.#authenticator?.authenticate(req.headers.authorization);
      if (principal !== undefined) io.setPrincipal(principal);
      const body = req.body !== undefined ? req.body : await this.#guard.readBody(req.stream, req.headers);
      this.#guard.checkValue(body, 'body');
      const out = await this.#api.handle({
        method: req.method,
        path: req.path,
        ...(principal !== undefined ? { principal } : {}),
        body,
        ...(req.ip !== undefined ? { ip: req.ip } : {}),
        ...(typeof userAgent === 'string' ? { userAgent } : {}),
      });
      action = out.action;
      status = out.status;
      io.respond(out);
    } catch (err) {
      status = problemFor(err).status;
      io.fail(err);
    }
    const { resource, errorCode, errorReason } = io.auditFacts();
    this.#auditor.record({
      method: req.method,
      route: req.route,
      action,
      status,
      latencyMs: performance.now() - start,
      ...(req.requestId !== undefined ? { requestId: req.requestId } : {}),
      ...(req.clientRequestId !== undefined ? { clientRequestId: req.clientRequestId } : {}),
      ...(principal !== undefined ? { principal } : {}),
      ...(req.ip !== undefined ? { ip: req.ip } : {}),
      ...(resource !== undefined ? { resource } : {}),
      ...(errorCode !== undefined ? { errorCode } : {}),
      ...(errorReason !== undefined ? { errorReason } : {}),
    });
  }
}
