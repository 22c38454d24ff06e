/** The TCP listener: accepts connections and shuts down gracefully (stop accepting, answer what was read). */
import { type Server as NetServer, createServer } from 'node:net';
import type { Logger } from '../logger.js';
import { Connection, type ConnectionOptions, type RequestDispatcher } from './connection.js';

export class KafkaServer {
  private readonly server: NetServer;
  private readonly connections = new Set<Connection>();

  constructor(
    dispatcher: RequestDispatcher,
    options: ConnectionOptions,
    private readonly log: Logger,
  ) {
    this.server = createServer({ pauseOnConnect: true, allowHalfOpen: true }, (accepted) => {
      const conn = new Connection(accepted, dispatcher, options, log);
      this.connections.add(conn);
      conn.socket.on('close', () => this.connections.delete(conn));
      log.debug({ connection: conn.id, remote: conn.remote }, 'connection accepted');
    });
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
    const drained = Promise.all([...this.connections].map((c) => c.drain()));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([drained, new Promise((r) => (timer = setTimeout(r, graceMs)))]);
    clearTimeout(timer);
    for (const c of this.connections) c.close('broker shutting down', 'debug');
    await stopped;
  }
}
