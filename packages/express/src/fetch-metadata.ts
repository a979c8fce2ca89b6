import { FetchMetadataPolicy, type FetchMetadataOptions } from '@bulwark/core/http';
import type { RequestHandler } from 'express';

/**
 * Fetch Metadata resource isolation (core's FetchMetadataPolicy): cross-site requests that are not
 * top-level GET navigations are refused with 403 ERR_HTTP_CROSS_SITE_REFUSED; requests without
 * `Sec-Fetch-Site` (old browsers, non-browser clients) pass on to the CSRF check.
 */
export function fetchMetadata(options: FetchMetadataOptions = {}): RequestHandler {
  const policy = new FetchMetadataPolicy(options);
  return (req, _res, next) => {
    try {
      policy.check({ method: req.method, path: req.path, headers: req.headers });
    } catch (err) {
      return next(err);
    }
    next();
  };
}
