/**
 * A minimal Kafka client over our own codecs, for tests that need exact control of versions,
 * bytes and timing. Requests are pipelined; responses are matched by correlation id.
 */
import { Socket, connect } from 'node:net';
import { decodeResponse, encodeRequest } from '../../protocol/frames.js';

export class RawClient {
  private nextCorrelation = 1;
  private buf: Buffer = Buffer.alloc(0);
  private readonly waiting = new Map<number, { apiKey: number; version: number; resolve: (b: any) => void; reject: (e: Error) => void }>();
  private closedError: Error | null = null;

  private constructor(readonly socket: Socket) {
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('close', () => this.fail(new Error('connection closed')));
    socket.on('error', (e) => this.fail(e));
  }

  static connect(port: number, host = '127.0.0.1'): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = connect({ port, host }, () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }

  get closed(): boolean {
    return this.closedError !== null;
  }

  /** Sends a request; resolves with the decoded response body. */
  send(apiKey: number, version: number, body: unknown, clientId: string | null = 'raw-client'): Promise<any> {
    if (this.closedError) return Promise.reject(this.closedError);
    const { bytes, response } = this.prepare(apiKey, version, body, clientId);
    this.socket.write(bytes);
    return response;
  }

  /** A request's bytes, for the caller to write however it likes, and its awaited response. */
  prepare(apiKey: number, version: number, body: unknown, clientId: string | null = 'raw-client'): { bytes: Buffer; response: Promise<any> } {
    const correlationId = this.nextCorrelation++;
    const response = new Promise<any>((resolve, reject) => this.waiting.set(correlationId, { apiKey, version, resolve, reject }));
    return { bytes: encodeRequest(apiKey, version, correlationId, clientId, body), response };
  }

  /** Sends a request that gets no response (acks=0 produce). */
  sendNoResponse(apiKey: number, version: number, body: unknown): void {
    this.socket.write(encodeRequest(apiKey, version, this.nextCorrelation++, 'raw-client', body));
  }

  writeRaw(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** Resolves when the broker closes the connection (or after timeoutMs with false). */
  waitClosed(timeoutMs = 5000): Promise<boolean> {
    if (this.closedError) return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(false), timeoutMs);
      this.socket.once('close', () => {
        clearTimeout(t);
        resolve(true);
      });
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private onData(d: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    while (this.buf.length >= 4) {
      const size = this.buf.readInt32BE(0);
      if (this.buf.length < 4 + size) break;
      const frame = this.buf.subarray(4, 4 + size);
      this.buf = this.buf.subarray(4 + size);
      const correlationId = frame.readInt32BE(0);
      const w = this.waiting.get(correlationId);
      if (!w) {
        this.fail(new Error(`response with unknown correlation id ${correlationId}`));
        return;
      }
      this.waiting.delete(correlationId);
      try {
        w.resolve(decodeResponse(w.apiKey, w.version, frame).body);
      } catch (e) {
        w.reject(e as Error);
      }
    }
  }

  private fail(e: Error): void {
    this.closedError ??= e;
    for (const w of this.waiting.values()) w.reject(e);
    this.waiting.clear();
  }
}
