import { SetMetadata, type CustomDecorator } from '@nestjs/common';
import { clearSiteDataValue, type ClearSiteDataType } from '@bulwark/core/http';

/** Metadata key of `@ClearSiteData()`. */
export const BULWARK_CLEAR_SITE_DATA = 'bulwark:clear-site-data';

/**
 * For the logout route: BulwarkGuard sets `Clear-Site-Data` (default `"cache", "cookies",
 * "storage"`), so the browser drops the origin's cached pages, cookies and storage with the
 * session (ASVS 5.0 V14.3.1).
 */
export function ClearSiteData(types?: readonly ClearSiteDataType[]): CustomDecorator<string> {
  return SetMetadata(BULWARK_CLEAR_SITE_DATA, clearSiteDataValue(types, 'ClearSiteData'));
}
