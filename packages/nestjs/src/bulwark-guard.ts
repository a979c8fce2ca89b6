import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { BulwarkConfigError, ErrorCodes, type HttpSession } from '@bulwark/core';
import { BULWARK_AUDITED, type AuditedMetadata } from './audited';
import { BULWARK_AUTHORIZE, type AuthorizeMetadata } from './authorize';
import { BulwarkRuntime } from './bulwark-runtime';
import { authorizeRequest, requireConsentFor } from './core-http';
import { BULWARK_PUBLIC } from './public';
import { BULWARK_REQUIRE_CONSENT } from './require-consent';
import { resolveResource } from './resource-spec';
import {
  clientIp,
  noteError,
  requestContext,
  trackRequest,
  type PlatformRequest,
  type PlatformResponse,
} from './request-tracking';

/**
 * The global guard, in order: bearer authentication (every route unless `@Public()`), then
 * `@Authorize` through the Authorizer, then `@RequireConsent` through the ConsentManager.
 * Method metadata overrides class metadata. Refusals are thrown as Bulwark errors, which
 * BulwarkExceptionFilter answers as RFC 9457 problem details (401 with a Bearer challenge, 403
 * with only `reasonId` or `purposeId`). Fails closed: a missing service or a throwing resolver or
 * authorizer refuses the request.
 */
@Injectable()
export class BulwarkGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly runtime: BulwarkRuntime,
  ) {}

  async canActivate(execution: ExecutionContext): Promise<boolean> {
    const targets = [execution.getHandler(), execution.getClass()];
    const isPublic = this.reflector.getAllAndOverride<boolean | undefined>(BULWARK_PUBLIC, targets) === true;
    // Bulwark speaks HTTP only; other transports (microservices, websockets) get nothing but @Public routes.
    if (execution.getType() !== 'http') return isPublic;

    const http = execution.switchToHttp();
    const req = http.getRequest<PlatformRequest>();
    const audited = this.reflector.getAllAndOverride<AuditedMetadata | undefined>(BULWARK_AUDITED, targets);
    const purposes = this.reflector.getAllAndOverride<readonly string[] | undefined>(
      BULWARK_REQUIRE_CONSENT,
      targets,
    );
    // A route that needs consent processes personal data: its audit fails closed (auditFailurePolicy).
    const state = trackRequest(this.runtime, req, http.getResponse<PlatformResponse>(), audited, execution, {
      classified: purposes !== undefined,
    });
    try {
      // A signed-in Bulwark session (module option `sessions`) authenticates a request that
      // carries no bearer token; a bearer token, when sent, is always the one verified.
      const fromSession =
        req.headers.authorization === undefined
          ? (req as { bulwarkSession?: HttpSession }).bulwarkSession?.principal
          : undefined;
      const principal =
        fromSession ?? (await this.runtime.authenticator.authenticate(req.headers.authorization, isPublic));
      if (principal !== undefined) {
        req.principal = principal;
        // Nest / Passport code reads req.user; never overwrite one another guard has set.
        req.user ??= principal;
      }

      const authorize = this.reflector.getAllAndOverride<AuthorizeMetadata | undefined>(
        BULWARK_AUTHORIZE,
        targets,
      );
      if (authorize !== undefined) {
        const authorizer = this.runtime.options.authorizer;
        if (authorizer === undefined) {
          throw new BulwarkConfigError(
            ErrorCodes.CONFIG_INVALID,
            '@Authorize needs BulwarkModule options.authorizer',
            {
              path: 'authorizer',
            },
          );
        }
        const view = requestContext(req, execution);
        const resource = await resolveResource(authorize.resource, view);
        state.resource =
          resource.id !== undefined ? { type: resource.type, id: resource.id } : { type: resource.type };
        // `ip` last: a context function must not be able to replace the server-observed address.
        const ip = clientIp(req);
        const context = {
          ...this.runtime.options.authzContext?.(view),
          ...(ip !== undefined ? { ip } : {}),
        };
        const decision = await authorizeRequest(authorizer, principal, authorize.action, resource, context);
        state.reasonId = decision.reasonId;
      }

      if (purposes !== undefined) {
        const consent = this.runtime.options.consent;
        if (consent === undefined) {
          throw new BulwarkConfigError(
            ErrorCodes.CONFIG_INVALID,
            '@RequireConsent needs BulwarkModule options.consent',
            {
              path: 'consent',
            },
          );
        }
        for (const purpose of purposes) await requireConsentFor(consent, principal, purpose);
      }
      return true;
    } catch (error) {
      noteError(state, error);
      throw error;
    }
  }
}
