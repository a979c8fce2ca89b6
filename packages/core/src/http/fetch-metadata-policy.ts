import { ErrorCodes } from '../errors';
import { configError } from '../util/options';
import { BulwarkHttpError } from './bulwark-http-error';
import { isPublicPath } from './plan-bulwark-bundle';

export interface FetchMetadataOptions {
  /**
   * Paths meant to be called cross-site (a webhook, an embeddable widget, an OAuth callback
   * posted by the provider): exact paths, or `/prefix/*` for a subtree. Default none.
   */
  allowCrossSite?: readonly string[];
  /**
   * Treat `Sec-Fetch-Site: same-site` (a sibling subdomain) as trusted. Default true, as the
   * web.dev resource isolation policy does; false when sibling subdomains are not under the
   * app's control (user content on `*.example.com`).
   */
  allowSameSite?: boolean;
  /**
   * Cross-site origins allowed beyond navigation (the CORS allowlist: its pages call this API on
   * purpose). Set by the bundle from `cors.origins`.
   */
  trustedOrigins?: (origin: string | undefined) => boolean;
  /** Config path used in error messages. Default `fetchMetadata`. */
  configPath?: string;
}

/** What the policy reads of a request. */
export interface FetchMetadataRequest {
  readonly method: string;
  /** The URL path (no query). */
  readonly path: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

const SITES = ['same-origin', 'same-site', 'cross-site', 'none'];
/** Destinations of a navigation that may still embed the response as a plugin resource. */
const PLUGIN_DESTS = ['object', 'embed'];

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(',') : value;
}

/**
 * Fetch Metadata resource isolation (W3C Fetch Metadata Request Headers; the web.dev "resource
 * isolation policy"; ASVS 5.0 V3.5.3 / V3.2.1): a browser says where a request comes from in
 * `Sec-Fetch-Site`, and the policy refuses cross-site requests that are not top-level
 * navigations — the shape of CSRF, XSSI and cross-site leak attacks — with 403
 * ERR_HTTP_CROSS_SITE_REFUSED before the route runs. Allowed: same-origin, same-site (unless
 * `allowSameSite: false`), `none` (the user typed the URL or used a bookmark), GET navigations
 * that do not embed as object/embed, the `allowCrossSite` paths and the CORS-trusted origins.
 * A request without `Sec-Fetch-Site` (an old browser, a server-to-server client) is let through
 * to the CSRF token check, which runs as well: the two defences are layered, not alternatives.
 * An unknown or repeated `Sec-Fetch-Site` value is refused (fail closed).
 */
export class FetchMetadataPolicy {
  readonly #allowCrossSite: readonly string[];
  readonly #allowSameSite: boolean;
  readonly #trustedOrigins?: (origin: string | undefined) => boolean;

  constructor(options: FetchMetadataOptions = {}) {
    const path = options?.configPath ?? 'fetchMetadata';
    if (typeof options !== 'object' || options === null) throw configError(path, 'must be an object');
    const known = ['allowCrossSite', 'allowSameSite', 'trustedOrigins', 'configPath'];
    for (const key of Object.keys(options)) {
      if (!known.includes(key)) throw configError(`${path}.${key}`, 'is not a known option');
    }
    const paths = options.allowCrossSite ?? [];
    if (!Array.isArray(paths) || !paths.every((p) => typeof p === 'string' && p.startsWith('/'))) {
      throw configError(`${path}.allowCrossSite`, 'must be paths starting with / (or /prefix/*)');
    }
    if (options.allowSameSite !== undefined && typeof options.allowSameSite !== 'boolean') {
      throw configError(`${path}.allowSameSite`, 'must be a boolean');
    }
    if (options.trustedOrigins !== undefined && typeof options.trustedOrigins !== 'function') {
      throw configError(`${path}.trustedOrigins`, 'must be a function of the Origin header');
    }
    this.#allowCrossSite = [...paths];
    this.#allowSameSite = options.allowSameSite ?? true;
    this.#trustedOrigins = options.trustedOrigins;
  }

  /** Throws 403 ERR_HTTP_CROSS_SITE_REFUSED for a request the policy refuses. */
  check(req: FetchMetadataRequest): void {
    const site = single(req.headers['sec-fetch-site']);
    // No Fetch Metadata (old browser, non-browser client): the CSRF token check decides.
    if (site === undefined) return;
    if (!SITES.includes(site)) throw refused('site');
    if (site === 'same-origin' || site === 'none') return;
    if (site === 'same-site' && this.#allowSameSite) return;
    const mode = single(req.headers['sec-fetch-mode']);
    const dest = single(req.headers['sec-fetch-dest']) ?? '';
    if (mode === 'navigate' && req.method.toUpperCase() === 'GET' && !PLUGIN_DESTS.includes(dest)) return;
    if (this.#allowCrossSite.length > 0 && isPublicPath(req.path, this.#allowCrossSite)) return;
    const origin = req.headers.origin;
    if (this.#trustedOrigins !== undefined && typeof origin === 'string' && this.#trustedOrigins(origin))
      return;
    throw refused(mode === 'navigate' ? 'navigation' : 'resource');
  }
}

function refused(location: 'site' | 'navigation' | 'resource'): BulwarkHttpError {
  return new BulwarkHttpError(
    ErrorCodes.HTTP_CROSS_SITE_REFUSED,
    403,
    'Cross-site requests to this resource are not allowed.',
    { location },
  );
}
