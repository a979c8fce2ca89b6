import { SetMetadata, type CustomDecorator } from '@nestjs/common';
import type { RateLimitOptions } from '@bulwark/core/http';

/** Metadata key of `@RateLimit()`. */
export const BULWARK_RATE_LIMIT = 'bulwark:rate-limit';

/** A route's own budget: the module's `rateLimit` store settings apply unless given here. */
export type RateLimitMetadata = Omit<RateLimitOptions, 'configPath'> & { name: string };

/**
 * A route's own rate limit, per principal and per client address, on top of the module's app-wide
 * `rateLimit` (like @nestjs/throttler's `@Throttle`): `@RateLimit({ name: 'export', perUser:
 * { limit: 5, windowSec: 60 }, perIp: false })`. The counters use the module's `rateLimit.redis`
 * (shared by every instance) unless `redis` is given. Over budget: 429 problem+json with
 * `Retry-After` and the IETF RateLimit headers. `@RateLimit(false)` exempts a route from the
 * app-wide limit (a health check).
 */
export function RateLimit(options: RateLimitMetadata | false): CustomDecorator<string> {
  return SetMetadata(BULWARK_RATE_LIMIT, options === false ? false : Object.freeze({ ...options }));
}
