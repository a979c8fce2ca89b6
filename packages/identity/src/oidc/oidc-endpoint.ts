import { BulwarkError, BulwarkHttpError, ErrorCodes, type HttpPrincipal } from '@bulwark/core';
import { readBoundedBody, type BodyStream } from '@bulwark/core/http';
import type { OidcRelyingParty, OidcSignIn } from './oidc-relying-party';

/** A request to one of the OIDC routes, as plain data (the adapters fill it from their framework). */
export interface OidcEndpointRequest {
  readonly method: string;
  /** Path below the mount point: `/login`, `/callback`, `/logout`, `/backchannel-logout`. */
  readonly path: string;
  /** The raw query string (without `?`). */
  readonly query: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** A body the framework already parsed (`req.body`), if any. */
  readonly body?: unknown;
  /** The request stream, read (bounded) when no parsed body is there. */
  readonly stream?: BodyStream;
  readonly ip?: string;
  readonly requestId?: string;
}

/** A plain answer: the adapter writes status, headers and (JSON) body. */
export interface OidcEndpointAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[]>>;
  readonly body?: unknown;
}

/** What the app decides, through the adapter's options. */
export interface OidcEndpointHooks {
  /**
   * A user signed in: send `signIn.clearCookie` and issue the app's session or token. Resolves
   * `true` when it wrote the response itself; otherwise the browser is redirected (303) to the
   * login's `returnTo`.
   */
  signedIn(signIn: OidcSignIn): Promise<boolean>;
  /**
   * The user asked to sign out: end the app's session and return the principal (for the audit
   * event) and the ID token kept at sign-in (the provider's `id_token_hint`), if there was one.
   */
  signingOut?(): Promise<{ principal?: HttpPrincipal; idToken?: string } | undefined>;
  respond(answer: OidcEndpointAnswer): void;
  /** Errors: write them as problem+json; `setCookie` must be sent with them. */
  fail(error: unknown, setCookie?: string): void;
}

const NO_STORE = { 'cache-control': 'no-store' } as const;
const LOGOUT_BODY_LIMIT = 16 * 1024;

function header(headers: OidcEndpointRequest['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

function notFound(): BulwarkHttpError {
  return new BulwarkHttpError(ErrorCodes.HTTP_NOT_FOUND, 404, 'Not found.');
}

function badLogoutRequest(reason = 'invalid_logout_token'): BulwarkHttpError {
  // Back-Channel Logout 1.0 §2.8: a refused logout request is a 400.
  return new BulwarkHttpError(ErrorCodes.HTTP_BAD_REQUEST, 400, 'The logout request is not valid.', {
    reason,
  });
}

async function logoutToken(request: OidcEndpointRequest): Promise<unknown> {
  const parsed = request.body as Record<string, unknown> | undefined;
  if (typeof parsed === 'object' && parsed !== null && !Buffer.isBuffer(parsed) && 'logout_token' in parsed) {
    return parsed.logout_token;
  }
  const type = header(request.headers, 'content-type') ?? '';
  if (!/^application\/x-www-form-urlencoded\s*(;|$)/i.test(type) || request.stream === undefined) {
    throw badLogoutRequest();
  }
  const raw = await readBoundedBody(request.stream, LOGOUT_BODY_LIMIT);
  const tokens = new URLSearchParams(raw.toString('utf8')).getAll('logout_token');
  return tokens.length === 1 ? tokens[0] : undefined;
}

/**
 * The four OIDC routes, framework free: `GET /login`, `GET /callback`, `POST /logout` and
 * `POST /backchannel-logout`. The Express, Koa and NestJS adapters only translate requests and
 * answers. Every answer is `Cache-Control: no-store`.
 */
export class OidcEndpoint {
  readonly #rp: OidcRelyingParty;

  constructor(rp: OidcRelyingParty) {
    this.#rp = rp;
  }

  /** Serves `request`; never throws (errors go to `hooks.fail`). */
  async serve(request: OidcEndpointRequest, hooks: OidcEndpointHooks): Promise<void> {
    let clearCookie: string | undefined;
    try {
      const route = `${request.method.toUpperCase()} ${request.path}`;
      const facts = {
        ...(request.ip !== undefined ? { ip: request.ip } : {}),
        ...(request.requestId !== undefined ? { requestId: request.requestId } : {}),
        ...(header(request.headers, 'user-agent') !== undefined
          ? { userAgent: header(request.headers, 'user-agent')!.slice(0, 256) }
          : {}),
      };
      switch (route) {
        case 'GET /login': {
          const query = new URLSearchParams(request.query);
          const out = await this.#rp.login({
            ...(query.get('returnTo') !== null ? { returnTo: query.get('returnTo')! } : {}),
            ...(query.get('login_hint') !== null ? { loginHint: query.get('login_hint')! } : {}),
          });
          hooks.respond({
            status: 302,
            headers: { ...NO_STORE, location: out.location, 'set-cookie': out.setCookie },
          });
          return;
        }
        case 'GET /callback': {
          clearCookie = this.#rp.clearCookie();
          const cookie = header(request.headers, 'cookie');
          const signIn = await this.#rp.callback(request.query, {
            ...facts,
            ...(cookie !== undefined ? { cookie } : {}),
          });
          if (await hooks.signedIn(signIn)) return;
          hooks.respond({ status: 303, headers: { ...NO_STORE, location: signIn.returnTo } });
          return;
        }
        case 'POST /logout': {
          if (hooks.signingOut === undefined) throw notFound();
          const session = await hooks.signingOut();
          if (session?.principal !== undefined) await this.#rp.recordLogout(session.principal, facts);
          const location = await this.#rp.logoutUrl(session?.idToken);
          hooks.respond({ status: 303, headers: { ...NO_STORE, location } });
          return;
        }
        case 'POST /backchannel-logout': {
          if (!this.#rp.backchannelLogoutEnabled) throw notFound();
          const token = await logoutToken(request);
          try {
            await this.#rp.backchannelLogout(token);
          } catch (error) {
            if (error instanceof BulwarkError && error.code === ErrorCodes.SIGNIN_FAILED) {
              throw badLogoutRequest(String(error.details?.reason));
            }
            throw error;
          }
          hooks.respond({ status: 200, headers: NO_STORE });
          return;
        }
        default:
          throw notFound();
      }
    } catch (error) {
      hooks.fail(error, clearCookie);
    }
  }
}
