import { BlockList, isIP } from 'node:net';

/**
 * CIDR ranges for `context.ip` conditions, on node:net BlockList (IPv4 and IPv6; an
 * IPv4-mapped IPv6 address such as `::ffff:10.0.0.1`, which dual-stack servers report, matches
 * the IPv4 ranges).
 */

export interface ParsedCidr {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

const PREFIX_RE = /^(0|[1-9]\d{0,2})$/;

/** Parses `10.0.0.0/8`, `2001:db8::/32` or a bare address (a single host); `undefined` if invalid. */
export function parseCidr(value: string): ParsedCidr | undefined {
  if (value.length === 0 || value.length > 64) return undefined;
  const slash = value.indexOf('/');
  const address = slash === -1 ? value : value.slice(0, slash);
  const version = isIP(address);
  if (version === 0) return undefined;
  const max = version === 4 ? 32 : 128;
  let prefix = max;
  if (slash !== -1) {
    const raw = value.slice(slash + 1);
    if (!PREFIX_RE.test(raw)) return undefined;
    prefix = Number(raw);
    if (prefix > max) return undefined;
  }
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

export interface CompiledIpRange {
  test(ip: unknown): boolean;
}

export function compileIpRange(cidrs: readonly string[]): CompiledIpRange {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const p = parseCidr(cidr)!;
    list.addSubnet(p.address, p.prefix, p.family);
  }
  return {
    test(ip) {
      if (typeof ip !== 'string' || ip.length > 64) return false;
      const version = isIP(ip);
      if (version === 0) return false;
      return list.check(ip, version === 4 ? 'ipv4' : 'ipv6');
    },
  };
}
