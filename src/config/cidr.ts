// IPv4 CIDR arithmetic for config validation: small enough to read, so no library.

/** The prefix lengths AWS takes for a VPC and for a subnet. */
export const AWS_CIDR_BITS = { min: 16, max: 28 } as const;

export interface Cidr {
  base: number; // network address as an unsigned 32-bit number
  bits: number;
}

export function parseCidr(text: string): Cidr | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(text);
  if (!m) return undefined;
  const octets = m.slice(1, 5).map(Number);
  const bits = Number(m[5]);
  if (octets.some((o) => o > 255) || bits > 32) return undefined;
  const addr = ((octets[0] << 24) | (octets[1] << 16) | (octets[2] << 8) | octets[3]) >>> 0;
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  if ((addr & mask) >>> 0 !== addr) return undefined; // host bits set: 10.0.0.1/16 is not a network
  return { base: addr, bits };
}

function size(c: Cidr): number {
  return 2 ** (32 - c.bits);
}

export function contains(outer: Cidr, inner: Cidr): boolean {
  return inner.bits >= outer.bits && inner.base >= outer.base && inner.base + size(inner) <= outer.base + size(outer);
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  return a.base < b.base + size(b) && b.base < a.base + size(a);
}
