import type { ExecutionContext } from '@nestjs/common';
import type { IncomingHttpHeaders } from 'node:http';
import type { HttpPrincipal } from './core-http';

/**
 * What resource resolvers (`@Authorize`, `@Audited`) and `authzContext` see: the parsed request
 * (route params, query, body), the authenticated principal, and the Nest execution context for
 * anything else (the handler, the class, the raw request).
 */
export interface BulwarkRequestContext {
  readonly params: Readonly<Record<string, string>>;
  readonly query: Readonly<Record<string, unknown>>;
  readonly body: unknown;
  readonly headers: IncomingHttpHeaders;
  /** The authenticated caller (undefined on a @Public route called without a token). */
  readonly principal: HttpPrincipal | undefined;
  /** Alias of `principal` (Nest / Passport convention). */
  readonly user: HttpPrincipal | undefined;
  readonly execution: ExecutionContext;
}
