import { clearSiteDataValue, type ClearSiteDataType } from '@bulwark/core/http';
import type { Middleware } from 'koa';

/**
 * For the logout route: sets `Clear-Site-Data` (default `"cache", "cookies", "storage"`), so the
 * browser drops the origin's cached pages, cookies and storage with the session (ASVS 5.0 V14.3.1).
 */
export function clearSiteData(types?: readonly ClearSiteDataType[]): Middleware {
  const value = clearSiteDataValue(types);
  return async (ctx, next) => {
    ctx.set('Clear-Site-Data', value);
    await next();
  };
}
