/**
 * Kafka's ConnectionQuotas for the client listener: max.connections (past it the listener stops
 * taking connections until one closes: Kafka's acceptor waits, its clients sit in the backlog),
 * the connection_creation_rate quota of the client's address (a connection past it is closed after
 * the throttle time), and max.connections.per.ip with max.connections.per.ip.overrides (a
 * connection past its address' limit is closed at once). All are dynamic, read at each new connection.
 */
import { promises as dns } from 'node:dns';
import { isIP } from 'node:net';
import { parseHostCounts } from '../cluster/config-schema.js';
import type { Logger } from '../logger.js';

export interface ConnectionLimitSettings {
  maxConnections: number;
  maxConnectionsPerIp: number;
  /** max.connections.per.ip.overrides: `host:count,…` */
  perIpOverrides: string;
}

/** An IPv4 client of a dual-stack listener shows as ::ffff:a.b.c.d; Java sees a.b.c.d. */
export const normalAddress = (address: string): string => (address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address);

export class ConnectionLimits {
  private overridesText = '';
  /** Per address (host names resolved, as Kafka's InetAddress.getByName). */
  private overrides = new Map<string, number>();

  constructor(
    private readonly settings: () => ConnectionLimitSettings,
    /** Records a new connection from an address in its connection_creation_rate; the ms it must wait to be closed, 0 if it is taken. */
    readonly rateThrottleMs: (address: string) => number,
    private readonly log: Logger,
  ) {}

  get maxConnections(): number {
    return this.settings().maxConnections;
  }

  /** The most connections `address` may hold. */
  perIp(address: string): number {
    const s = this.settings();
    if (s.perIpOverrides !== this.overridesText) this.loadOverrides(s.perIpOverrides);
    return this.overrides.get(address) ?? s.maxConnectionsPerIp;
  }

  private loadOverrides(text: string): void {
    this.overridesText = text;
    const parsed = parseHostCounts(text);
    const next = new Map<string, number>();
    this.overrides = next;
    if (typeof parsed === 'string') return; // the config's validator refuses such a value first
    for (const [host, count] of parsed) {
      if (isIP(host)) next.set(normalAddress(host), count);
      else {
        // A name counts once resolved (a connection before that gets the default).
        dns.lookup(host).then(
          ({ address }) => {
            if (this.overrides === next) next.set(normalAddress(address), count);
          },
          (err: unknown) => this.log.warn({ err, host }, 'max.connections.per.ip.overrides names a host that does not resolve'),
        );
      }
    }
  }
}
