import { SetMetadata, type CustomDecorator } from '@nestjs/common';
import { BulwarkConfigError, ErrorCodes } from '@bulwark/core';

/** Metadata key of `@RequireConsent()`. */
export const BULWARK_REQUIRE_CONSENT = 'bulwark:require-consent';

/**
 * Allows the route only if the authenticated principal has a standing consent to every listed
 * purpose, at a text version the purpose still accepts (GDPR Art. 6(1)(a), 7): 401 without a
 * principal, 403 `ERR_CONSENT_REQUIRED` with the `purposeId` (and `state`, `needsRenewal`)
 * otherwise, so the client knows which consent to ask for. Purposes are checked against the
 * ConsentManager when the application starts (a typo fails the boot). On a controller it applies
 * to every route; a method's own `@RequireConsent` replaces the list.
 */
export function RequireConsent(...purposes: string[]): CustomDecorator<string> {
  if (purposes.length === 0 || !purposes.every((p) => typeof p === 'string' && p.length > 0)) {
    throw new BulwarkConfigError(
      ErrorCodes.CONFIG_INVALID,
      '@RequireConsent(...purposes): give one or more purpose ids',
      { path: 'RequireConsent.purposes' },
    );
  }
  return SetMetadata(BULWARK_REQUIRE_CONSENT, Object.freeze([...new Set(purposes)]));
}
