import { SetMetadata, type CustomDecorator } from '@nestjs/common';
import { BodyAllowlist, type BodyAllowlistOptions } from '@bulwark/core/http';

/** Metadata key of `@AllowFields()`. */
export const BULWARK_ALLOW_FIELDS = 'bulwark:allow-fields';

/**
 * The route's request-body allowlist against mass assignment (ASVS 5.0 V15.3.3), applied by
 * BulwarkGuard before the handler and its pipes see the body: a field outside the list is refused
 * with 400 ERR_HTTP_UNKNOWN_FIELD naming it, or dropped with `{ unknown: 'strip' }`. Fields are
 * names or dotted paths (`address.city`). Checked when the class is defined (a bad list fails the
 * boot). A method's own `@AllowFields` replaces the controller's.
 */
export function AllowFields(
  fields: readonly string[],
  options: BodyAllowlistOptions = {},
): CustomDecorator<string> {
  return SetMetadata(
    BULWARK_ALLOW_FIELDS,
    new BodyAllowlist(fields, { configPath: 'AllowFields', ...options }),
  );
}
