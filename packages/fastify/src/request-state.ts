import {
  captureRequestArrival,
  TrustedProxies,
  type HttpRequestState,
  type RequestArrival,
} from '@bulwark/core/http';
import type { AuthzResource, HttpPrincipal, HttpSession } from '@bulwark/core';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** What Bulwark's hooks learn about a request, read by `audit` when the response ends. */
export type BulwarkRequestState = HttpRequestState;

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by `authenticate` (or a signed-in `session`). */
    principal?: HttpPrincipal;
    /** Set by `requestId` (the bundle's first step); echoed in X-Request-Id and problem bodies. */
    requestId?: string;
    /** Set by `csrf` (csurf's API): the token to embed in forms / send in a csrf-token header. */
    csrfToken?: () => string;
    /** Set by `authorize`: the resource the decision was about (what a loader returned). */
    authorizedResource?: AuthzResource;
    /** Bulwark's per-request state. */
    bulwark?: BulwarkRequestState;
    /** Set by `session` (not `request.session`, so @fastify/session can run beside it during a migration). */
    bulwarkSession?: HttpSession;
  }
}

/** A Bulwark hook: an async Fastify hook or route `preHandler` (`{ preHandler: [bw.authorize(...)] }`). */
export type BulwarkHook = (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

/** The request's Bulwark state, created on first use. */
export function requestState(request: FastifyRequest): BulwarkRequestState {
  return (request.bulwark ??= {});
}

const NO_PROXIES = new TrustedProxies(false);

/**
 * The request's arrival facts, taken by `requestId` (the bundle's first step) with its
 * `trustProxy` setting, or here on first use without trusted proxies. Never throws, also once the
 * socket is gone.
 */
export function requestArrival(
  request: FastifyRequest,
  proxies: TrustedProxies = NO_PROXIES,
): RequestArrival {
  const state = requestState(request);
  return (state.arrival ??= captureRequestArrival(
    { headers: request.raw.headers, remoteAddress: request.raw.socket?.remoteAddress },
    proxies,
  ));
}

/**
 * The client address Bulwark uses (audit, brute-force counters, `context.ip`), decided by core's
 * `TrustedProxies` from the socket and X-Forwarded-For with the bundle's `trustProxy` setting.
 * Fastify's own `request.ip` (its `trustProxy` setting) is not consulted: use this instead.
 */
export function clientIp(request: FastifyRequest): string | undefined {
  return requestArrival(request).ip;
}

/** The request path without the query string (what `publicPaths` and the privacy prefix match). */
export function requestPath(request: FastifyRequest): string {
  const url = request.raw.url ?? '/';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

/** Appends `field` to the response's Vary header (once). */
export function vary(reply: FastifyReply, field: string): void {
  const current = reply.getHeader('vary');
  const list = typeof current === 'string' ? current.split(',').map((v) => v.trim()) : [];
  if (list.includes('*') || list.some((v) => v.toLowerCase() === field.toLowerCase())) return;
  reply.header('vary', [...list.filter((v) => v.length > 0), field].join(', '));
}
