import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import {
  OBSERVED_SECURITY_HEADERS,
  type HttpAppEvidence,
  type HttpTrafficEvidence,
} from '../compliance/evidence';
import { configError } from '../util/options';
import { TrustedProxies } from './trusted-proxies';

// Evidence objects a traffic recorder produced. Only these are `observed` in a compliance report:
// anything else handed to `registerHttpApp()` is `declared`. Module-private; not exported.
const OBSERVED = new WeakSet<object>();

/** True for evidence an `HttpTrafficRecorder` produced (frozen, so it cannot be edited since). */
export function isObservedHttpEvidence(value: unknown): boolean {
  return typeof value === 'object' && value !== null && OBSERVED.has(value);
}

/** Methods CSRF never concerns (no state change by contract). */
const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);
const BEARER = /^bearer\s/i;
const HEADERS = OBSERVED_SECURITY_HEADERS;

export interface HttpTrafficRecorderOptions {
  /** App name in the evidence. */
  name: string;
  /** Whether the bundle runs CSRF protection, and which kind. */
  csrf: { enabled: boolean; method?: string };
  /** Proxies trusted to report `X-Forwarded-Proto` (the bundle's `trustProxy` setting). */
  trustProxy?: TrustedProxies;
}

/** Every entry of X-Forwarded-Proto is `https` (a chain with one plain hop is not HTTPS end to end). */
function forwardedHttps(value: string | string[] | undefined): boolean {
  if (value === undefined) return false;
  const v = typeof value === 'string' ? value : value.join(',');
  if (v.length <= 5) return v.toLowerCase() === 'https';
  return v.split(',').every((p) => p.trim().toLowerCase() === 'https');
}

function freeze<T extends object>(o: T): Readonly<T> {
  return Object.freeze(o);
}

function counts(map: ReadonlyMap<string, number>): Readonly<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const [k, v] of map) out[k] = v;
  return freeze(out);
}

/**
 * Counts what one mounted bundle actually did on real traffic, for compliance evidence: the
 * security headers its responses carried when they finished, the CSRF step's decisions on unsafe
 * methods, the authentication schemes presented, and the transport (TLS terminated in this
 * process, with protocol and cipher; HTTPS reported by a trusted proxy; plain HTTP).
 *
 * The hot path is counters, a few header reads and one shared `finish` listener per request; TLS
 * parameters are read once per connection. No request data is kept: only counts, the first value
 * of each security header, protocol and cipher names, and first / last seen times.
 */
export class HttpTrafficRecorder {
  readonly #name: string;
  readonly #csrf: { enabled: boolean; method?: string };
  readonly #trust: TrustedProxies;
  #requests = 0;
  #first = 0;
  #last = 0;
  #responses = 0;
  readonly #headerCounts: number[] = HEADERS.map(() => 0);
  readonly #headerValues: (string | undefined)[] = HEADERS.map(() => undefined);
  readonly #headerOther: number[] = HEADERS.map(() => 0);
  #bearer = 0;
  #cookie = 0;
  #none = 0;
  #unsafeWithCookies = 0;
  #csrfAccepted = 0;
  #csrfRefused = 0;
  #direct = 0;
  #forwarded = 0;
  #plain = 0;
  readonly #tlsSockets = new WeakSet<object>();
  readonly #protocols = new Map<string, number>();
  readonly #ciphers = new Map<string, number>();
  readonly #onFinish: (this: ServerResponse) => void;

  constructor(options: HttpTrafficRecorderOptions) {
    if (typeof options?.name !== 'string' || options.name === '') {
      throw configError('name', 'must be a non-empty string (the app name in compliance evidence)');
    }
    this.#name = options.name;
    this.#csrf = freeze({
      enabled: options.csrf?.enabled === true,
      ...(options.csrf?.method ? { method: options.csrf.method } : {}),
    });
    this.#trust = TrustedProxies.from(options.trustProxy);
    // One listener for every response ('finish' calls it with the response as `this`).
    const response = (res: ServerResponse): void => this.#response(res);
    this.#onFinish = function (this: ServerResponse) {
      response(this);
    };
  }

  /** The app name in the evidence. */
  get name(): string {
    return this.#name;
  }

  /** Call once per request, as the bundle starts on it. */
  request(req: IncomingMessage, res: ServerResponse): void {
    const now = Date.now();
    if (this.#requests++ === 0) this.#first = now;
    this.#last = now;
    const h = req.headers;
    const authorization = h.authorization;
    const bearer = typeof authorization === 'string' && BEARER.test(authorization);
    const cookie = h.cookie !== undefined && h.cookie !== '';
    if (bearer) this.#bearer++;
    else if (cookie) this.#cookie++;
    else this.#none++;
    if (cookie && !bearer && !SAFE_METHODS.has(req.method ?? 'GET')) this.#unsafeWithCookies++;
    const socket = req.socket as TLSSocket | undefined;
    if (socket !== undefined && socket !== null && socket.encrypted === true) {
      this.#direct++;
      if (!this.#tlsSockets.has(socket)) {
        this.#tlsSockets.add(socket);
        const protocol = socket.getProtocol?.() ?? 'unknown';
        const cipher = socket.getCipher?.();
        const cipherName = cipher?.standardName ?? cipher?.name ?? 'unknown';
        this.#protocols.set(protocol, (this.#protocols.get(protocol) ?? 0) + 1);
        this.#ciphers.set(cipherName, (this.#ciphers.get(cipherName) ?? 0) + 1);
      }
    } else if (
      this.#trust.enabled &&
      forwardedHttps(h['x-forwarded-proto']) &&
      this.#trust.trustsPeer(socket?.remoteAddress)
    ) {
      this.#forwarded++;
    } else {
      this.#plain++;
    }
    res.on('finish', this.#onFinish);
  }

  /** The CSRF step's decision on an unsafe-method request (`refused`: no valid token). */
  csrfDecision(refused: boolean): void {
    if (refused) this.#csrfRefused++;
    else this.#csrfAccepted++;
  }

  #response(res: ServerResponse): void {
    this.#responses++;
    for (let i = 0; i < HEADERS.length; i++) {
      const v = res.getHeader(HEADERS[i]!);
      if (v === undefined) continue;
      const value = typeof v === 'string' ? v : Array.isArray(v) ? v.join(', ') : String(v);
      this.#headerCounts[i]!++;
      const first = this.#headerValues[i];
      if (first === undefined) this.#headerValues[i] = value;
      else if (first !== value) this.#headerOther[i]!++;
    }
  }

  /** What was observed so far, as frozen compliance evidence (`observedBy: 'traffic'`). */
  evidence(): HttpAppEvidence {
    const headers: Record<string, HttpTrafficEvidence['headers'][string]> = {};
    const sent: Record<string, string> = {};
    HEADERS.forEach((name, i) => {
      const value = this.#headerValues[i];
      if (value === undefined) return;
      sent[name] = value;
      headers[name] = freeze({
        responses: this.#headerCounts[i]!,
        value,
        otherValues: this.#headerOther[i]!,
      });
    });
    const traffic: HttpTrafficEvidence = freeze({
      requests: this.#requests,
      ...(this.#requests > 0
        ? {
            firstSeenAt: new Date(this.#first).toISOString(),
            lastSeenAt: new Date(this.#last).toISOString(),
          }
        : {}),
      responses: this.#responses,
      headers: freeze(headers),
      auth: freeze({ bearer: this.#bearer, cookie: this.#cookie, none: this.#none }),
      csrf: freeze({
        unsafeWithCookies: this.#unsafeWithCookies,
        accepted: this.#csrfAccepted,
        refused: this.#csrfRefused,
      }),
      tls: freeze({
        direct: this.#direct,
        forwarded: this.#forwarded,
        plain: this.#plain,
        protocols: counts(this.#protocols),
        ciphers: counts(this.#ciphers),
      }),
    });
    const evidence: HttpAppEvidence = freeze({
      name: this.#name,
      securityHeaders: freeze(sent),
      csrf: this.#csrf,
      observedBy: 'traffic' as const,
      traffic,
    });
    OBSERVED.add(evidence);
    return evidence;
  }
}

/**
 * The protections an adapter enabled, in the compliance engine's `HttpAppEvidence` shape. This is
 * configuration: registered with the kit it is `declared` evidence, which passes no control about
 * behaviour. The bundles' `evidence()` reports observed traffic instead.
 */
export function httpAppEvidence(
  name: string,
  securityHeaders: Readonly<Record<string, string>>,
  csrf: { enabled: boolean; method?: string },
): HttpAppEvidence {
  return { name, securityHeaders: { ...securityHeaders }, csrf: { ...csrf }, observedBy: 'config' };
}
