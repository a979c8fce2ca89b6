import { FetchMetadataPolicy, type FetchMetadataOptions } from '@bulwark/core/http';
import type { PlatformMiddleware } from './platform-middleware';

/**
 * Fetch Metadata resource isolation (core's FetchMetadataPolicy), as @bulwark/express's
 * `fetchMetadata`: a refusal goes to BulwarkExceptionFilter (403 ERR_HTTP_CROSS_SITE_REFUSED).
 */
export function fetchMetadata(options: FetchMetadataOptions): PlatformMiddleware {
  const policy = new FetchMetadataPolicy({ configPath: 'BulwarkModule.fetchMetadata', ...options });
  return (req, _res, next) => {
    // No Sec-Fetch-Site (a non-browser client, an old browser): the policy passes the request at
    // once (FetchMetadataPolicy.check); the path it would be given is not worth splitting out.
    if (req.headers['sec-fetch-site'] === undefined) return next();
    try {
      const path = (req.originalUrl ?? req.url ?? '/').split('?')[0]!;
      policy.check({ method: req.method ?? 'GET', path, headers: req.headers });
    } catch (error) {
      return next(error);
    }
    next();
  };
}
