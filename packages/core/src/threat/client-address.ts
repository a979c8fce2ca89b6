import { isIP } from 'node:net';

/** Expands an IPv6 address (no zone id) into eight 16-bit groups. Input already passed isIP. */
function ipv6Groups(ip: string): number[] {
  let text = ip;
  // An embedded IPv4 tail (::ffff:1.2.3.4, ::1.2.3.4) becomes two hex groups.
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted !== null) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const parse = (part: string): number[] =>
    part === '' ? [] : part.split(':').map((g) => Number.parseInt(g, 16));
  const [head, rest] = text.split('::') as [string, string | undefined];
  const left = parse(head);
  if (rest === undefined) return left;
  const right = parse(rest);
  return [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
}

/**
 * The client a counter keys on: an IPv4 address as is (IPv4-mapped IPv6 too), an IPv6 address
 * as its `/v6Bits` prefix (one host usually owns a /64). `undefined` for anything not an address.
 */
export function clientAddressKey(ip: unknown, v6Bits: number): string | undefined {
  if (typeof ip !== 'string' || ip.length > 64) return undefined;
  const address = ip.includes('%') ? ip.replace(/%[A-Za-z0-9_.-]+$/, '') : ip; // drop an IPv6 zone id
  const family = isIP(address);
  if (family === 4) return address;
  if (family !== 6) return undefined;
  const groups = ipv6Groups(address.toLowerCase());
  // IPv4-mapped (::ffff:a.b.c.d): the same client as the IPv4 address.
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return [groups[6]! >> 8, groups[6]! & 255, groups[7]! >> 8, groups[7]! & 255].join('.');
  }
  const masked = groups.map((g, i) => {
    const bits = Math.min(16, Math.max(0, v6Bits - i * 16));
    return bits === 0 ? 0 : g & ((0xffff << (16 - bits)) & 0xffff);
  });
  return `${masked.map((g) => g.toString(16)).join(':')}/${v6Bits}`;
}
