/**
 * The TCP listener: accepts connections within the connection limits (connection-limits.ts) and
 * shuts down gracefully (stop accepting, answer what was read).
 */
import { type Server as NetServer, type Socket, createServer } from 'node:net';
import type { Logger } from '../logger.js';
import { Connection, type ConnectionOptions, type RequestDispatcher } from './connection.js';
import { type ConnectionLimits, normalAddress } from './connection-limits.js';

export class KafkaServer {
  private readonly server: NetServer;
  private readonly connections = new Set<Connection>();
  /** Connections per client address. */
  private readonly perAddress = new Map<string, number>();
  /** Accepted while max.connections were open: not read until one closes, as Kafka leaves them in its backlog. */
  private readonly waiting: Socket[] = [];
  /** Past their address' connection_creation_rate: closed once their throttle time is over. */
  private readonly throttled = new Set<Socket>();

  constructor(
    private readonly dispatcher: RequestDispatcher,
    private readonly options: ConnectionOptions,
    private readonly limits: ConnectionLimits,
    private readonly log: Logger,
  ) {
    this.server = createServer({ pauseOnConnect: true, allowHalfOpen: true }, (accepted) => {
      if (this.connections.size < limits.maxConnections) return this.admit(accepted);
      this.waiting.push(accepted);
      // A client that resets while it waits must not take the process with it (an 'error' without a listener throws).
      accepted.on('error', () => undefined);
      accepted.once('close', () => {
        const i = this.waiting.indexOf(accepted);
        if (i >= 0) this.waiting.splice(i, 1);
      });
      log.debug({ remote: `${accepted.remoteAddress}:${accepted.remotePort}`, waiting: this.waiting.length }, 'max.connections reached: the connection waits for a slot');
    });
  }

  private admit(accepted: Socket): void {
    const address = normalAddress(accepted.remoteAddress ?? '');
    const throttleMs = this.limits.rateThrottleMs(address);
    if (throttleMs > 0) {
      // Kafka's acceptor keeps such a connection, unread, for the throttle time, then closes it.
      this.log.debug({ address, throttleMs }, `Delaying closing of connection from ${address} for ${throttleMs} ms`);
      accepted.on('error', () => undefined);
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
    const conn = new Connection(accepted, this.dispatcher, this.options, this.log);
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

  private admitWaiting(): void {
    while (this.waiting.length > 0 && this.connections.size < this.limits.maxConnections && this.server.listening) this.admit(this.waiting.shift()!);
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /** What each connection holds right now (for metrics and tests). */
  connectionStats(): { id: number; remote: string; inFlight: number; unsentBytes: number; reading: boolean }[] {
    return [...this.connections].map((c) => ({ id: c.id, remote: c.remote, inFlight: c.inFlight, unsentBytes: c.socket.writableLength, reading: !c.socket.isPaused() }));
  }

  listen(host: string, port: number): Promise<{ host: string; port: number }> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.server.once('error', onError);
      this.server.listen({ host, port, backlog: 1024 }, () => {
        this.server.off('error', onError);
        // From now on an error is the listener's (a failed listen is the caller's to report).
        this.server.on('error', (err) => this.log.error({ err }, 'listener error'));
        const addr = this.server.address();
        if (addr === null || typeof addr === 'string') return reject(new Error('listener has no TCP address'));
        resolve({ host: addr.address, port: addr.port });
      });
    });
  }

  /** Stops accepting, lets every connection answer the request it is handling (up to graceMs), then closes them. */
  async close(graceMs = 10_000): Promise<void> {
    const stopped = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of [...this.waiting.splice(0), ...this.throttled]) s.destroy();
    const drained = Promise.all([...this.connections].map((c) => c.drain()));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([drained, new Promise((r) => (timer = setTimeout(r, graceMs)))]);
    clearTimeout(timer);
    for (const c of this.connections) c.close('broker shutting down', 'debug');
    await stopped;
  }
}
