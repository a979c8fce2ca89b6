import { newRequestId, clientRequestIdFrom, REQUEST_ID_HEADER } from './request-id';
import { TrustedProxies, type TrustProxyOption } from './trusted-proxies';

/** What an adapter knows of a request the moment it arrives. */
export interface ArrivingRequest {
  headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The socket's peer address (`req.socket.remoteAddress`); undefined when the socket is gone. */
  remoteAddress: string | undefined;
}

/**
 * The facts about a request that later steps and the audit event need, taken once when it
 * arrives. Read later (in a response 'close' listener) the socket may already be destroyed and
 * the framework's `req.ip` throws; these plain values cannot.
 */
export interface RequestArrival {
  /** Server-generated, always (see `newRequestId`). */
  readonly requestId: string;
  /** The client's own X-Request-Id, sanitised (see `clientRequestIdFrom`). */
  readonly clientRequestId?: string;
  /** The client address under the `trustProxy` setting (see `TrustedProxies`). */
  readonly ip?: string;
  readonly userAgent?: string;
}

/** Takes a request's arrival facts; never throws (a missing socket leaves `ip` undefined). */
export function captureRequestArrival(req: ArrivingRequest, proxies: TrustedProxies): RequestArrival {
  const ip = proxies.clientAddress(req.remoteAddress, req.headers['x-forwarded-for']);
  const clientRequestId = clientRequestIdFrom(req.headers[REQUEST_ID_HEADER]);
  const ua = req.headers['user-agent'];
  const userAgent = typeof ua === 'string' ? ua : undefined;
  // Assigned in the fields' order (no object spreads: this runs on every request).
  const arrival: { -readonly [K in keyof RequestArrival]: RequestArrival[K] } = { requestId: newRequestId() };
  if (clientRequestId !== undefined) arrival.clientRequestId = clientRequestId;
  if (ip !== undefined) arrival.ip = ip;
  if (userAgent !== undefined) arrival.userAgent = userAgent;
  return arrival;
}

/** Options of the adapters' `requestId()` step, which takes the arrival facts. */
export interface RequestIdOptions {
  /** See `TrustProxyOption`. Default false: X-Forwarded-For is ignored. */
  trustProxy?: TrustProxyOption | TrustedProxies;
}
