import { SetMetadata, type CustomDecorator } from '@nestjs/common';

/** Metadata key of `@Public()`. */
export const BULWARK_PUBLIC = 'bulwark:public';

/**
 * Lets a route (or every route of a controller) through without a bearer token. A token that is
 * sent anyway is still verified (a bad one is a 401, as RFC 6750 expects), so `@Authorize` and
 * `@RequireConsent` keep working for callers who do authenticate. `@Public(false)` on a method
 * re-protects it inside a public controller (method metadata overrides class metadata).
 */
export function Public(isPublic = true): CustomDecorator<string> {
  return SetMetadata(BULWARK_PUBLIC, isPublic !== false);
}
