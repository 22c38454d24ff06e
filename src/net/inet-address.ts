/**
 * Addresses compared as Java's InetAddress compares them, which is how Kafka matches a client's
 * address against per-address settings (max.connections.per.ip.overrides, ip quota entities).
 */
import { promises as dns } from 'node:dns';
import { isIP } from 'node:net';

/**
 * One spelling per address: an IPv4-mapped IPv6 address (::ffff:a.b.c.d, as a dual-stack listener
 * shows an IPv4 client, however spelt) is a.b.c.d, as Java's InetAddress makes it an Inet4Address,
 * and IPv6 addresses take their compressed form.
 */
export function normalAddress(address: string): string {
  if (address.startsWith('::ffff:') && isIP(address.slice(7)) === 4) return address.slice(7);
  if (isIP(address) !== 6) return address;
  const compressed = new URL(`http://[${address}]`).hostname.slice(1, -1);
  // The URL form of any IPv4-mapped spelling (upper case, zeros written out, hex groups) is ::ffff:hhhh:hhhh.
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(compressed);
  if (mapped === null) return compressed;
  const high = parseInt(mapped[1]!, 16);
  const low = parseInt(mapped[2]!, 16);
  return `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`;
}

/**
 * The address Java's InetAddress.getByName gives for a name: the name itself when it is an
 * address, otherwise the first address it resolves to, IPv4 ones first (Java's default
 * java.net.preferIPv6Addresses=false). Rejects when the name does not resolve.
 */
export async function addressByName(name: string): Promise<string> {
  if (isIP(name)) return normalAddress(name);
  const all = await dns.lookup(name, { all: true });
  const first = all.find((a) => a.family === 4) ?? all[0];
  if (first === undefined) throw new Error(`${name} resolves to no address`);
  return normalAddress(first.address);
}
