import { clearSiteDataValue, type ClearSiteDataType } from '@bulwark/core/http';
import type { RequestHandler } from 'express';

/**
 * For the logout route: sets `Clear-Site-Data` (default `"cache", "cookies", "storage"`), so the
 * browser drops the origin's cached pages, cookies and storage with the session (ASVS 5.0 V14.3.1).
 */
export function clearSiteData(types?: readonly ClearSiteDataType[]): RequestHandler {
  const value = clearSiteDataValue(types);
  return (_req, res, next) => {
    res.setHeader('Clear-Site-Data', value);
    next();
  };
}
