import type { IncomingMessage } from 'node:http';
import { Inject, Injectable } from '@nestjs/common';
import type { OidcEndpoint } from '@bulwark/identity/oidc';
import { BULWARK_OIDC_OPTIONS, type BulwarkOidcOptions } from './oidc-module-options';
import {
  auditActor,
  clientIp,
  rawResponse,
  type PlatformRequest,
  type PlatformResponse,
} from './request-tracking';

/** Serves the OIDC routes through @bulwark/identity's OidcEndpoint on the platform's request. */
@Injectable()
export class BulwarkOidcRoutes {
  readonly #endpoint: OidcEndpoint;

  constructor(@Inject(BULWARK_OIDC_OPTIONS) private readonly options: BulwarkOidcOptions) {
    // Loaded here, not at the top: @bulwark/identity is an optional peer of this package.
    const { OidcEndpoint: Endpoint } =
      require('@bulwark/identity/oidc') as typeof import('@bulwark/identity/oidc');
    this.#endpoint = new Endpoint(options.relyingParty);
  }

  async serve(path: string, req: PlatformRequest, res: PlatformResponse): Promise<void> {
    const raw = rawResponse(res);
    // Fastify hands its own request object; the Node request is `raw`.
    const node = ('raw' in req ? (req as { raw: IncomingMessage }).raw : req) as IncomingMessage;
    const ip = clientIp(req);
    const url = req.url ?? '';
    const { onSignIn, onLogout } = this.options;
    let failure: { error: unknown } | undefined;
    await this.#endpoint.serve(
      {
        method: req.method,
        path,
        query: url.includes('?') ? url.slice(url.indexOf('?') + 1) : '',
        headers: req.headers,
        body: req.body,
        stream: node,
        ...(ip !== undefined ? { ip } : {}),
        ...(req.requestId !== undefined ? { requestId: req.requestId } : {}),
      },
      {
        signedIn: async (signIn) => {
          raw.appendHeader('Set-Cookie', signIn.clearCookie);
          raw.setHeader('Cache-Control', 'no-store');
          // The request's audit event names the account that signed in, not `anonymous`.
          auditActor(req, signIn.principal.id, signIn.principal.type);
          await onSignIn(signIn.principal, { req, res, signIn });
          return raw.headersSent;
        },
        ...(onLogout !== undefined ? { signingOut: async () => onLogout({ req, res }) } : {}),
        respond: (answer) => {
          for (const [name, value] of Object.entries(answer.headers)) {
            if (name === 'set-cookie') raw.appendHeader('Set-Cookie', value);
            else raw.setHeader(name, value);
          }
          raw.statusCode = answer.status;
          if (answer.body === undefined) raw.end();
          else {
            raw.setHeader('Content-Type', 'application/json');
            raw.end(JSON.stringify(answer.body));
          }
        },
        fail: (error, setCookie) => {
          if (raw.headersSent) {
            raw.destroy();
            return;
          }
          if (setCookie !== undefined) raw.appendHeader('Set-Cookie', setCookie);
          failure = { error };
        },
      },
    );
    // Answered like every other Nest route: BulwarkExceptionFilter writes the problem+json, notes
    // the error code and reason for the request's audit event and logs a 5xx server-side.
    if (failure !== undefined) throw failure.error;
  }
}
