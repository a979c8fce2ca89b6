import { isIP } from 'node:net';
import { compileIpRange, parseCidr, type CompiledIpRange } from '../authz/ip-range';
import { configError } from '../util/options';

/**
 * Which reverse proxies in front of the app are trusted to tell the client's address in
 * `X-Forwarded-For`:
 * - `false` (default): none; the client is the socket's peer and the header is ignored.
 * - a hop count `n`: the `n` nearest hops (the socket's peer and the `n - 1` rightmost header
 *   entries) are trusted proxies; the client is the entry just left of them.
 * - a list of proxy addresses / CIDR ranges (or `loopback`, `linklocal`, `uniquelocal`): hops are
 *   peeled from the right while they are inside the list.
 */
export type TrustProxyOption = false | number | readonly string[];

const NAMED_RANGES: Readonly<Record<string, readonly string[]>> = {
  loopback: ['127.0.0.0/8', '::1/128'],
  linklocal: ['169.254.0.0/16', 'fe80::/10'],
  uniquelocal: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'],
};

/** Most X-Forwarded-For entries looked at (from the right); no real chain of proxies is longer. */
const MAX_HOPS = 32;

/** `::ffff:10.0.0.1` (a dual-stack socket's IPv4 peer) as `10.0.0.1`; anything not an IP as undefined. */
function normalize(address: string | undefined): string | undefined {
  if (address === undefined) return undefined;
  const a = address.trim();
  const plain = a.toLowerCase().startsWith('::ffff:') && isIP(a.slice(7)) === 4 ? a.slice(7) : a;
  return isIP(plain) !== 0 ? plain : undefined;
}

/**
 * The one place the client address of a request is decided, for audit events, brute-force
 * counters and `context.ip` policy conditions alike, in every adapter: from the socket's peer
 * address and `X-Forwarded-For`, with the `trustProxy` setting. The frameworks' own settings
 * (Express `trust proxy`, Koa `app.proxy`) are not consulted.
 */
export class TrustedProxies {
  readonly #hops: number;
  readonly #range: CompiledIpRange | undefined;
  /** The setting, as given (for evidence and docs). */
  readonly setting: TrustProxyOption;

  constructor(option: TrustProxyOption = false, path = 'trustProxy') {
    this.setting = option;
    this.#hops = 0;
    if (option === false || option === undefined) return;
    if (typeof option === 'number') {
      if (!Number.isSafeInteger(option) || option < 1 || option > MAX_HOPS) {
        throw configError(
          path,
          `must be false, a hop count from 1 to ${MAX_HOPS}, or a list of proxy addresses / CIDR ranges, got ${String(option)}`,
        );
      }
      this.#hops = option;
      return;
    }
    if (!Array.isArray(option) || option.length === 0) {
      // `true` ("trust every hop") is refused on purpose: it lets any client choose its address.
      throw configError(
        path,
        'must be false, a hop count, or a non-empty list of proxy addresses / CIDR ranges (true is not accepted: it lets clients choose their address)',
      );
    }
    const cidrs: string[] = [];
    option.forEach((entry: unknown, i) => {
      const named = typeof entry === 'string' ? NAMED_RANGES[entry] : undefined;
      if (named !== undefined) cidrs.push(...named);
      else if (typeof entry === 'string' && parseCidr(entry) !== undefined) cidrs.push(entry);
      else
        throw configError(
          `${path}[${i}]`,
          `must be an IP address, a CIDR range or loopback / linklocal / uniquelocal, got ${JSON.stringify(String(entry)).slice(0, 80)}`,
        );
    });
    this.#range = compileIpRange(cidrs);
  }

  /** A setting given as an option or already compiled. */
  static from(option: TrustProxyOption | TrustedProxies | undefined, path = 'trustProxy'): TrustedProxies {
    return option instanceof TrustedProxies ? option : new TrustedProxies(option ?? false, path);
  }

  /** True when X-Forwarded-For is read at all. */
  get enabled(): boolean {
    return this.#hops > 0 || this.#range !== undefined;
  }

  /**
   * True when the socket's peer is a trusted proxy (a hop count trusts the nearest hop; a list
   * trusts peers inside it): what a header such as X-Forwarded-Proto may be believed from.
   */
  trustsPeer(remoteAddress: string | undefined): boolean {
    const peer = normalize(remoteAddress);
    if (peer === undefined) return false;
    if (this.#range !== undefined) return this.#range.test(peer);
    return this.#hops > 0;
  }

  /**
   * The client address: the socket's peer, or with trusted proxies the first hop (walking
   * X-Forwarded-For from the right) that is not a trusted proxy. A header entry that is not an IP
   * address stops the walk at the last trusted hop (fail closed: a broken chain never yields a
   * client-chosen value). `undefined` when the peer is unknown (the socket is already gone).
   */
  clientAddress(
    remoteAddress: string | undefined,
    forwardedFor: string | readonly string[] | undefined,
  ): string | undefined {
    const peer = normalize(remoteAddress);
    if (peer === undefined || !this.enabled || forwardedFor === undefined) return peer;
    const header = typeof forwardedFor === 'string' ? forwardedFor : forwardedFor.join(',');
    const entries = header.split(',').slice(-MAX_HOPS);
    let client = peer;
    for (let hop = 1; ; hop++) {
      const trusted = this.#range !== undefined ? this.#range.test(client) : hop <= this.#hops;
      if (!trusted) return client;
      const next = entries.pop();
      if (next === undefined) return client;
      const address = normalize(next);
      if (address === undefined) return client;
      client = address;
    }
  }
}

/**
 * Reads a `trustProxy` setting from an environment variable such as TRUST_PROXY: unset, empty or
 * `false` is false; digits are a hop count; anything else a comma-separated list of addresses /
 * CIDR ranges (checked when the setting is used: `new TrustedProxies(...)`).
 */
export function trustProxyFromEnv(value: string | undefined): TrustProxyOption {
  const v = value?.trim() ?? '';
  if (v === '' || v === 'false') return false;
  if (/^\d+$/.test(v)) return Number(v);
  return v.split(',').map((s) => s.trim());
}
