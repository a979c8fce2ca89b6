import { FetchMetadataPolicy, type FetchMetadataOptions } from '@bulwark/core/http';
import type { Middleware } from 'koa';

/**
 * Fetch Metadata resource isolation (core's FetchMetadataPolicy): cross-site requests that are not
 * top-level GET navigations are refused with 403 ERR_HTTP_CROSS_SITE_REFUSED; requests without
 * `Sec-Fetch-Site` (old browsers, non-browser clients) pass on to the CSRF check.
 */
export function fetchMetadata(options: FetchMetadataOptions = {}): Middleware {
  const policy = new FetchMetadataPolicy(options);
  return (ctx, next) => {
    policy.check({ method: ctx.method, path: ctx.path, headers: ctx.req.headers });
    return next();
  };
}
