import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import { BulwarkConfigError, ErrorCodes } from '@bulwark/core';
import type { MiddlewareRequest } from './platform-middleware';
import { nodeRequest } from './request-tracking';

/**
 * Handler parameter decorator: the CSRF token for this request (csurf's `req.csrfToken()`), to
 * embed in a form or hand to a single-page app, which echoes it in a `csrf-token` header. Sets the
 * CSRF cookie when a new token is minted. Needs BulwarkModule's `csrf` option.
 *
 * @example page(@CsrfToken() csrfToken: string) { return { csrfToken }; }
 */
export const CsrfToken = createParamDecorator((_data: unknown, execution: ExecutionContext): string => {
  const req = nodeRequest(execution.switchToHttp().getRequest<MiddlewareRequest>());
  if (typeof req.csrfToken !== 'function') {
    throw new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, '@CsrfToken() needs BulwarkModule options.csrf', {
      path: 'csrf',
    });
  }
  return req.csrfToken();
});
