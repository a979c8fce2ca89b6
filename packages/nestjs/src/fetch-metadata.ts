import { FetchMetadataPolicy, type FetchMetadataOptions } from '@bulwark/core/http';
import type { PlatformMiddleware } from './platform-middleware';

/**
 * Fetch Metadata resource isolation (core's FetchMetadataPolicy), as @bulwark/express's
 * `fetchMetadata`: a refusal goes to BulwarkExceptionFilter (403 ERR_HTTP_CROSS_SITE_REFUSED).
 */
export function fetchMetadata(options: FetchMetadataOptions): PlatformMiddleware {
  const policy = new FetchMetadataPolicy({ configPath: 'BulwarkModule.fetchMetadata', ...options });
  return (req, _res, next) => {
    try {
      const path = (req.originalUrl ?? req.url ?? '/').split('?')[0]!;
      policy.check({ method: req.method ?? 'GET', path, headers: req.headers });
    } catch (error) {
      return next(error);
    }
    next();
  };
}
