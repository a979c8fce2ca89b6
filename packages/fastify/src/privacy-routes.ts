import { BulwarkConfigError, ErrorCodes } from '@bulwark/core';
import { PrivacyEndpoint, type BulwarkHttpKit } from '@bulwark/core/http';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { sendProblem } from './problem-details';
import { requestArrival, requestPath, requestState } from './request-state';

/**
 * Consent and data-subject-request endpoints for the authenticated subject (see PrivacyApi in
 * @bulwark/core for the routes) as a Fastify plugin, answered under `prefix` (default `/privacy`):
 * `await app.register(privacyRoutes(kit))`. Authenticates with kit.tokens unless a principal is
 * already set, and audits every call (refused ones too) to kit.auditLog.
 */
export function privacyRoutes(kit: BulwarkHttpKit, options: { prefix?: string } = {}): FastifyPluginAsync {
  const endpoint = new PrivacyEndpoint(kit);
  const prefix = options.prefix ?? '/privacy';
  if (!/^\/[A-Za-z0-9._~/-]*[^/]$/.test(prefix)) {
    throw new BulwarkConfigError(
      ErrorCodes.CONFIG_INVALID,
      'privacyRoutes.prefix must be a path like /privacy',
      {
        path: 'privacyRoutes.prefix',
      },
    );
  }
  const handler = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const arrival = requestArrival(request);
    const path = requestPath(request);
    await endpoint.serve(
      {
        method: request.method,
        path: path.slice(prefix.length),
        route: path,
        headers: request.raw.headers,
        stream: request.raw,
        body: request.body,
        ...(request.principal !== undefined ? { principal: request.principal } : {}),
        ...(arrival.ip !== undefined ? { ip: arrival.ip } : {}),
        requestId: request.requestId ?? arrival.requestId,
        ...(arrival.clientRequestId !== undefined ? { clientRequestId: arrival.clientRequestId } : {}),
      },
      {
        setPrincipal: (principal) => {
          request.principal = principal;
        },
        respond: (out) => {
          requestState(request).resource = out.resource;
          reply.code(out.status).headers(out.headers);
          void reply.send(out.body);
        },
        fail: (err) => {
          sendProblem(request, reply, err);
        },
        auditFacts: () => requestState(request),
      },
    );
    return reply;
  };
  return async (fastify: FastifyInstance) => {
    fastify.all(prefix, handler);
    fastify.all(`${prefix}/*`, handler);
  };
}
