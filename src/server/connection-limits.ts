/**
 * Kafka's ConnectionQuotas for the client listener: max.connections (past it the listener takes
 * no more connections until one closes; Kafka's acceptor waits and new clients queue in the
 * listen backlog, here up to socket.listen.backlog.size of them), max.connection.creation.rate
 * (past it the listener takes no connection for the throttle time), the connection_creation_rate
 * quota of the client's address (a connection past it is closed after the throttle time), and
 * max.connections.per.ip with max.connections.per.ip.overrides (a connection past its address'
 * limit is closed at once). All are dynamic.
 */
import { isIP } from 'node:net';
import { parseHostCounts } from '../cluster/config-schema.js';
import type { Logger } from '../logger.js';
import type { QuotaWindowConfig } from '../quotas/quota-manager.js';
import { SampledRate } from '../quotas/rate.js';
import { addressByName, normalAddress } from '../net/inet-address.js';

export interface ConnectionLimitSettings {
  maxConnections: number;
  maxConnectionsPerIp: number;
  /** max.connections.per.ip.overrides: `host:count,…` */
  perIpOverrides: string;
  /** socket.listen.backlog.size: how many connections may wait for a slot. */
  backlog: number;
  /** max.connection.creation.rate: new connections a second, for the whole listener. */
  maxConnectionCreationRate: number;
}

/** Kafka's default for the connection rates: no limit. */
const UNLIMITED_RATE = 2147483647;

export class ConnectionLimits {
  private overridesText: string | null = null;
  /** Per address (host names resolved to one address, as Kafka's InetAddress.getByName does when the setting changes). */
  private overrides = new Map<string, number>();
  /** Set while host names of the overrides are being resolved: connections wait for it. */
  resolving: Promise<void> | null = null;

  /** The listener's connection rate (Kafka's broker connection rate sensor). */
  private readonly rate: SampledRate;

  constructor(
    private readonly settings: () => ConnectionLimitSettings,
    /** Records a new connection from an address in its connection_creation_rate; the ms it must wait to be closed, 0 if it is taken. */
    readonly rateThrottleMs: (address: string) => number,
    private readonly window: QuotaWindowConfig,
    private readonly log: Logger,
  ) {
    this.rate = new SampledRate(window.samples, window.windowSeconds * 1000);
    this.reload();
  }

  /**
   * Records a connection the listener is about to take; how long it must take none (this one
   * included) for its rate to fall back to max.connection.creation.rate, at most a window: Kafka's
   * recordConnectionAndGetThrottleTimeMs.
   */
  listenerThrottleMs(now: number): number {
    const quota = this.settings().maxConnectionCreationRate;
    if (quota >= UNLIMITED_RATE) return 0;
    this.rate.record(1, now);
    return this.rate.throttleMs(quota, now, this.window.windowSeconds * 1000);
  }

  get maxConnections(): number {
    return this.settings().maxConnections;
  }

  get backlog(): number {
    return this.settings().backlog;
  }

  /** The most connections `address` may hold. */
  perIp(address: string): number {
    return this.overrides.get(address) ?? this.settings().maxConnectionsPerIp;
  }

  /** The settings may have changed: resolves the overrides' host names anew when they did. */
  reload(): void {
    const text = this.settings().perIpOverrides;
    if (text === this.overridesText) return;
    this.overridesText = text;
    const parsed = parseHostCounts(text);
    const next = new Map<string, number>();
    if (typeof parsed === 'string') return void (this.overrides = next); // the config's validator refuses such a value first
    const names: [string, number][] = [];
    for (const [host, count] of parsed) {
      if (isIP(host)) next.set(normalAddress(host), count);
      else names.push([host, count]);
    }
    if (names.length === 0) return void (this.overrides = next);
    const resolving = Promise.all(
      names.map(([host, count]) =>
        addressByName(host).then(
          (address) => void next.set(address, count),
          (err: unknown) => this.log.warn({ err, host }, 'max.connections.per.ip.overrides names a host that does not resolve'),
        ),
      ),
    ).then(() => {
      if (this.resolving !== resolving) return;
      this.overrides = next;
      this.resolving = null;
    });
    this.resolving = resolving;
  }
}
