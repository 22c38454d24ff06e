/**
 * The TCP listeners: accept connections within the connection limits (connection-limits.ts), which
 * count every listener's connections together, as Kafka's broker-wide limits do, and shut down
 * gracefully (stop accepting, answer what was read).
 */
import { type Server as NetServer, type Socket, createServer } from 'node:net';
import type { Logger } from '../logger.js';
import { Connection, type ConnectionOptions, type RequestDispatcher } from './connection.js';
import type { ConnectionLimits } from './connection-limits.js';
import { normalAddress } from '../net/inet-address.js';

export class KafkaServer {
  private readonly servers: NetServer[] = [];
  private closing = false;
  /** The listener (by name) each accepted socket came in on. */
  private readonly listenerOf = new WeakMap<Socket, string>();
  private readonly connections = new Set<Connection>();
  /** Connections per client address. */
  private readonly perAddress = new Map<string, number>();
  /** Accepted, not yet admitted: unread, in arrival order, while max.connections are open or the listener's connection rate holds them (as Kafka's backlog). */
  private readonly waiting: Socket[] = [];
  /** Past their address' connection_creation_rate: closed once their throttle time is over. */
  private readonly throttled = new Set<Socket>();
  /** max.connection.creation.rate: no connection is taken before this time (Date.now()). */
  private closedUntil = 0;
  private reopen: NodeJS.Timeout | null = null;
  /** Waiting sockets already counted in the listener's connection rate. */
  private readonly counted = new WeakSet<Socket>();

  constructor(
    private readonly dispatcher: RequestDispatcher,
    private readonly options: ConnectionOptions,
    private readonly limits: ConnectionLimits,
    private readonly log: Logger,
  ) {}

  private accepted(accepted: Socket, listener: string): void {
    // A full backlog: the kernel would not have let this one in.
    if (this.waiting.length >= this.limits.backlog) {
      this.log.debug({ remote: `${accepted.remoteAddress}:${accepted.remotePort}` }, 'socket.listen.backlog.size connections already waiting: closed');
      accepted.destroy();
      return;
    }
    this.listenerOf.set(accepted, listener);
    this.waiting.push(accepted);
    // Unread, a waiting socket sees no reset; should it get one all the same, it must not throw.
    accepted.on('error', () => undefined);
    accepted.once('close', () => {
      const i = this.waiting.indexOf(accepted);
      if (i >= 0) this.waiting.splice(i, 1);
    });
    this.admitWaiting();
  }

  /** Dynamic configs changed: more room may admit waiting connections, less closes the least recently active. */
  limitsChanged(): void {
    this.limits.reload();
    const excess = this.connections.size - this.limits.maxConnections;
    if (excess > 0) {
      // Kafka's Processor.closeExcessConnections: the least recently used ones go.
      const idlest = [...this.connections].sort((a, b) => a.lastRequestAt - b.lastRequestAt).slice(0, excess);
      for (const c of idlest) c.close('max.connections lowered', 'info');
    }
    this.admitWaiting();
  }

  private admitWaiting(): void {
    if (this.limits.resolving !== null) {
      void this.limits.resolving.then(() => this.admitWaiting());
      return;
    }
    while (this.waiting.length > 0 && this.connections.size < this.limits.maxConnections && !this.closing) {
      const now = Date.now();
      if (now < this.closedUntil) return this.reopenAt(this.closedUntil - now);
      const next = this.waiting[0]!;
      if (!this.counted.has(next)) {
        this.counted.add(next);
        // As Kafka's acceptor: past the listener's rate it takes nothing for the throttle time, then this one.
        const throttleMs = this.limits.listenerThrottleMs(now);
        if (throttleMs > 0) {
          this.closedUntil = now + throttleMs;
          this.log.debug({ throttleMs }, 'max.connection.creation.rate reached: new connections wait');
          return this.reopenAt(throttleMs);
        }
      }
      this.admit(this.waiting.shift()!);
    }
    if (this.waiting.length > 0) this.log.debug({ waiting: this.waiting.length }, 'max.connections reached: connections wait for a slot');
  }

  private reopenAt(ms: number): void {
    if (this.reopen !== null) return;
    this.reopen = setTimeout(() => {
      this.reopen = null;
      this.admitWaiting();
    }, ms);
  }

  private admit(accepted: Socket): void {
    const address = normalAddress(accepted.remoteAddress ?? '');
    const throttleMs = this.limits.rateThrottleMs(address);
    if (throttleMs > 0) {
      // Kafka's acceptor keeps such a connection, unread, for the throttle time, then closes it.
      this.log.debug({ address, throttleMs }, `Delaying closing of connection from ${address} for ${throttleMs} ms`);
      this.throttled.add(accepted);
      const timer = setTimeout(() => accepted.destroy(), throttleMs);
      accepted.once('close', () => {
        clearTimeout(timer);
        this.throttled.delete(accepted);
      });
      return;
    }
    const count = this.perAddress.get(address) ?? 0;
    const max = this.limits.perIp(address);
    if (count >= max) {
      this.log.info({ address, max }, `Rejected connection from ${address}, address already has the configured maximum of ${max} connections.`);
      accepted.destroy();
      return;
    }
    this.perAddress.set(address, count + 1);
    const conn = new Connection(accepted, this.listenerOf.get(accepted)!, this.dispatcher, this.options, this.log);
    this.connections.add(conn);
    conn.socket.on('close', () => {
      this.connections.delete(conn);
      const left = (this.perAddress.get(address) ?? 1) - 1;
      if (left > 0) this.perAddress.set(address, left);
      else this.perAddress.delete(address);
      this.admitWaiting();
    });
    this.log.debug({ connection: conn.id, remote: conn.remote }, 'connection accepted');
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /** What each connection holds right now (for metrics and tests). */
  connectionStats(): { id: number; remote: string; inFlight: number; unsentBytes: number; reading: boolean }[] {
    return [...this.connections].map((c) => ({ id: c.id, remote: c.remote, inFlight: c.inFlight, unsentBytes: c.socket.writableLength, reading: !c.socket.isPaused() }));
  }

  /** Starts accepting on host:port; connections accepted there belong to `listener` (its name). */
  listen(listener: string, host: string, port: number): Promise<{ host: string; port: number }> {
    const server = createServer({ pauseOnConnect: true, allowHalfOpen: true }, (socket) => this.accepted(socket, listener));
    this.servers.push(server);
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      server.once('error', onError);
      server.listen({ host, port, backlog: 1024 }, () => {
        server.off('error', onError);
        // From now on an error is the listener's (a failed listen is the caller's to report).
        server.on('error', (err) => this.log.error({ err, listener }, 'listener error'));
        const addr = server.address();
        if (addr === null || typeof addr === 'string') return reject(new Error('listener has no TCP address'));
        resolve({ host: addr.address, port: addr.port });
      });
    });
  }

  /** Stops accepting, lets every connection answer the request it is handling (up to graceMs), then closes them. */
  async close(graceMs = 10_000): Promise<void> {
    this.closing = true;
    // (A server that is not listening, its listen failed, calls back at once.)
    const stopped = Promise.all(this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    for (const s of [...this.waiting.splice(0), ...this.throttled]) s.destroy();
    if (this.reopen !== null) clearTimeout(this.reopen);
    const drained = Promise.all([...this.connections].map((c) => c.drain()));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([drained, new Promise((r) => (timer = setTimeout(r, graceMs)))]);
    clearTimeout(timer);
    for (const c of this.connections) c.close('broker shutting down', 'debug');
    await stopped;
  }
}
