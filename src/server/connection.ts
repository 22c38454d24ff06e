/**
 * One client connection: frames in, one request handled at a time in arrival order, as Kafka
 * handles a connection's requests, so that each sees what the ones before it did (a ListOffsets
 * after a produce, an OffsetFetch after a commit). Reading pauses while a request is handled,
 * while the client is slow to read responses, and while a quota throttles it.
 */
import type { Socket } from 'node:net';
import { encodeLeniently } from '../../protocol/codec.js';
import { RequestDecodeError, decodeRequest, encodeResponse } from '../../protocol/frames.js';
import type { DecodedRequest } from '../../protocol/frames.js';
import type { Logger } from '../logger.js';
import { FramePool, FrameReader, FrameTooLargeError } from './frame-reader.js';
import { readInto } from './socket-reads.js';

/** What a handler produced: a body to encode at the request's version (or another), or nothing. */
export interface Reply {
  body: unknown;
  /** Differs from the request's version only for the ApiVersions fallback. */
  version?: number;
  /** Runs once the response is written to the socket, or once it never will be. */
  onSent?: () => void;
  /** An error response: fields its version does not have are left out rather than refused. */
  lenient?: boolean;
}

export interface RequestDispatcher {
  /**
   * Called synchronously in arrival order; null means "send no response" (acks=0 produce).
   * The request's bytes fields are views into a frame buffer that is reused once the reply is
   * encoded: a handler that keeps bytes beyond that copies them (produce's logs copy batches).
   */
  dispatch(request: DecodedRequest, connection: Connection): Promise<Reply | null>;
}

export interface ConnectionOptions {
  maxRequestSize: number;
  /** Close a connection idle for this long; null: never. */
  idleTimeoutMs: number | null;
  /** Stop taking requests while this many response bytes wait for the client to read them. */
  maxUnsentBytes: number;
}

interface Slot {
  request: DecodedRequest;
  done: boolean;
  chunks: Buffer[] | null;
  onSent: (() => void) | null;
}

let nextId = 0;
const EMPTY = Buffer.alloc(0);
/**
 * Where reads land between frames. One buffer serves every connection: each read is consumed
 * (copied into its frames) before the next read of any socket can start.
 */
const STAGING = Buffer.allocUnsafe(64 * 1024);
/**
 * Frame buffers come back here once their request is answered (see RequestDispatcher). Shared by
 * every connection with one bound: a pool per connection kept megabytes for each idle client
 * after a burst.
 */
const FRAMES = new FramePool(32 * 1024 * 1024);

export class Connection {
  readonly id = ++nextId;
  /** performance.now() of the last request read (of the connection's start before any): the least recent go first when max.connections is lowered. */
  lastRequestAt = performance.now();
  readonly remote: string;
  readonly socket: Socket;
  private readonly reader: FrameReader;
  private readonly slots: Slot[] = [];
  private closed = false;
  private draining = false;
  /** The client ended its side: what it sent is answered, then the connection closes (pump). */
  private clientEnded = false;
  /**
   * Set once a request cannot be served (unreadable, too large, its handler failed): nothing more
   * is read, the requests before it are answered, then the connection closes. Kafka reads one
   * request at a time, so the requests a client sent before a bad one are answered there too.
   */
  private failed: { reason: string; level: 'debug' | 'info' | 'warn'; extra: object } | null = null;
  /** Frames read but not yet dispatched (the connection was full); from waitingHead on. */
  private readonly waiting: Buffer[] = [];
  private waitingHead = 0;
  private drainWaiters: (() => void)[] = [];
  /** Set while a quota throttles the client: no request is read or dispatched until it fires. */
  private throttleTimer: NodeJS.Timeout | null = null;
  /** Destroys a socket close() ended if the client has not closed its side within a second. */
  private destroyTimer: NodeJS.Timeout | null = null;
  private throttledUntil = 0;
  /** Negotiated per connection, e.g. the SASL handshake version (later issues). */
  readonly state: Record<string, unknown> = {};

  /** `accepted` comes paused (the server's pauseOnConnect); reading starts here. */
  constructor(
    accepted: Socket,
    /** The name of the listener the connection came in on (PLAINTEXT, say). */
    readonly listener: string,
    private readonly dispatcher: RequestDispatcher,
    private readonly options: ConnectionOptions,
    private readonly log: Logger,
  ) {
    this.remote = `${accepted.remoteAddress}:${accepted.remotePort}`;
    this.reader = new FrameReader(options.maxRequestSize, FRAMES);
    const socket = (this.socket = readInto(accepted, {
      target: () => this.reader.target(STAGING),
      landed: (bytes) => {
        try {
          this.onData(bytes);
        } catch (err) {
          // Whatever a client sends costs at most its own connection.
          this.log.error({ err, connection: this.id }, 'unexpected error handling client data');
          this.close('internal error while reading a request', 'warn');
        }
      },
    }));
    socket.setNoDelay(true);
    if (options.idleTimeoutMs !== null) socket.setTimeout(options.idleTimeoutMs);
    socket.on('drain', () => this.pump());
    socket.on('timeout', () => {
      if (this.slots.length === 0) this.close('idle for longer than connections.max.idle.ms', 'debug');
    });
    socket.on('end', () => {
      // Kafka reads a request at a time and sees the end of the stream only after answering
      // every request before it: so here.
      this.clientEnded = true;
      this.pump();
    });
    socket.on('error', (err) => this.close(`socket error: ${err.message}`, 'debug'));
    socket.on('close', () => this.onClosed());
  }

  get inFlight(): number {
    return this.slots.length;
  }

  private onData(bytes: Buffer): void {
    if (this.closed || this.draining || this.failed) return;
    try {
      this.reader.landed(bytes, this.waiting);
    } catch (e) {
      // The frames completed before this one still go through.
      if (!(e instanceof FrameTooLargeError)) throw e;
      this.fail(e.message, 'warn');
    }
    this.pump();
  }

  /** The connection takes no more work: a request is being handled, answers wait for the client to take them, or a quota throttles it. */
  private get full(): boolean {
    return this.slots.some((s) => !s.done) || this.socket.writableLength >= this.options.maxUnsentBytes || this.throttleTimer !== null;
  }

  /**
   * KIP-219: the client exceeded a quota. Its answer still goes out at once, but no further request
   * is read or dispatched for `ms` milliseconds (the longest of overlapping throttles wins).
   */
  throttle(ms: number): void {
    if (ms <= 0 || this.closed) return;
    const until = Date.now() + ms;
    if (this.throttleTimer !== null) {
      if (until <= this.throttledUntil) return;
      clearTimeout(this.throttleTimer);
    }
    this.throttledUntil = until;
    this.throttleTimer = setTimeout(() => {
      this.throttleTimer = null;
      this.pump();
    }, ms);
    this.throttleTimer.unref();
    this.updateFlow();
  }

  /** Dispatches the frames read so far, in order, while there is room; reading stops while any wait. */
  private pump(): void {
    while (this.waitingHead < this.waiting.length && !this.closed && !this.draining && !this.full) {
      const frame = this.waiting[this.waitingHead];
      this.waiting[this.waitingHead++] = EMPTY;
      this.onFrame(frame);
    }
    if (this.waitingHead === this.waiting.length) {
      this.waiting.length = 0;
      this.waitingHead = 0;
    }
    if (this.failed !== null && this.slots.length === 0 && this.waiting.length === 0) {
      const { reason, level, extra } = this.failed;
      return this.close(reason, level, extra);
    }
    if (this.clientEnded && this.slots.length === 0 && this.waiting.length === 0) return this.close('the client closed its side', 'debug');
    this.updateFlow();
  }

  /** Stops taking requests: those before the failed one are answered, then the connection closes (pump). */
  private fail(reason: string, level: 'debug' | 'info' | 'warn', extra: object = {}, dropWaiting = false): void {
    if (this.failed !== null || this.closed) return;
    this.failed = { reason, level, extra };
    if (dropWaiting) {
      for (let i = this.waitingHead; i < this.waiting.length; i++) FRAMES.release(this.waiting[i]);
      this.waiting.length = 0;
      this.waitingHead = 0;
    }
  }

  private onFrame(frame: Buffer): void {
    this.lastRequestAt = performance.now();
    let request: DecodedRequest;
    try {
      request = decodeRequest(frame);
    } catch (e) {
      if (e instanceof RequestDecodeError) {
        FRAMES.release(frame);
        return this.fail(`malformed request: ${e.code} ${e.message}`, 'warn', {
          apiKey: e.apiKey, apiVersion: e.apiVersion, correlationId: e.correlationId,
        }, true);
      }
      throw e;
    }
    const slot: Slot = { request, done: false, chunks: null, onSent: null };
    this.slots.push(slot);
    let pending: Promise<Reply | null>;
    try {
      pending = this.dispatcher.dispatch(request, this);
    } catch (e) {
      pending = Promise.reject(e);
    }
    pending.then(
      (reply) => {
        slot.done = true;
        if (reply !== null) slot.onSent = reply.onSent ?? null;
        if (reply !== null && !this.closed) {
          const h = request.header;
          const encode = () => encodeResponse(h.requestApiKey, h.requestApiVersion, h.correlationId, reply.body, reply.version ?? h.requestApiVersion);
          try {
            slot.chunks = reply.lenient ? encodeLeniently(encode) : encode();
          } catch (err) {
            // A value this version cannot carry is a broker bug; log it, and answer without that value.
            this.log.error({ err, apiKey: h.requestApiKey, apiVersion: h.requestApiVersion, clientId: h.clientId }, `${request.api.name} response does not fit its version`);
            try {
              slot.chunks = encodeLeniently(encode);
            } catch {
              Connection.sent(slot);
              return this.close(`cannot encode ${request.api.name} response`, 'warn');
            }
          }
        }
        FRAMES.release(frame);
        if (this.closed) Connection.sent(slot);
        this.writeReady();
      },
      (err: unknown) => {
        slot.done = true;
        FRAMES.release(frame);
        const h = request.header;
        this.log.error({ err, apiKey: h.requestApiKey, apiVersion: h.requestApiVersion, clientId: h.clientId }, `${request.api.name} failed`);
        this.fail(`handler error in ${request.api.name}`, 'warn', {}, true);
        this.writeReady();
      },
    );
  }

  /** Writes every finished response at the head of the queue: responses never overtake each other. */
  private writeReady(): void {
    if (this.closed) return;
    let wrote = false;
    while (this.slots.length > 0 && this.slots[0].done) {
      const slot = this.slots.shift()!;
      if (slot.chunks === null) {
        Connection.sent(slot);
        continue;
      }
      if (!wrote) this.socket.cork();
      wrote = true;
      const last = slot.chunks.length - 1;
      for (let i = 0; i < last; i++) this.socket.write(slot.chunks[i]);
      // The callback runs once the kernel has the bytes, or with an error once it never will.
      const onSent = slot.onSent;
      this.socket.write(slot.chunks[last], onSent === null ? undefined : () => onSent());
      slot.chunks = null;
    }
    if (wrote) this.socket.uncork();
    this.pump();
    if (this.slots.length === 0) {
      const waiters = this.drainWaiters;
      this.drainWaiters = [];
      for (const w of waiters) w();
    }
  }

  /** Backpressure: stop reading while answers pile up unread, requests are in flight or frames wait. */
  private updateFlow(): void {
    if (this.closed) return;
    const stop = this.draining || this.failed !== null || this.waitingHead < this.waiting.length || this.full;
    if (stop && !this.socket.isPaused()) this.socket.pause();
    else if (!stop && this.socket.isPaused()) this.socket.resume();
  }

  /**
   * Stops taking requests and resolves once the one being handled has been answered. Requests
   * pipelined behind it are not started, as a Kafka broker that is stopping leaves them unread.
   */
  drain(): Promise<void> {
    this.draining = true;
    this.updateFlow();
    if (this.slots.length === 0 || this.closed) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** Runs a response's onSent at most once. */
  private static sent(slot: Slot): void {
    const f = slot.onSent;
    slot.onSent = null;
    slot.chunks = null;
    if (f !== null) f();
  }

  close(reason: string, level: 'debug' | 'info' | 'warn' = 'info', extra: object = {}): void {
    if (this.closed) return;
    this.closed = true;
    for (const slot of this.slots) if (slot.done) Connection.sent(slot);
    this.log[level]({ connection: this.id, remote: this.remote, ...extra }, `closing connection: ${reason}`);
    this.socket.end();
    // Keep reading (and dropping) so the client's own close is seen and the socket can finish.
    this.socket.resume();
    this.destroyTimer = setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  private onClosed(): void {
    this.closed = true;
    if (this.throttleTimer !== null) clearTimeout(this.throttleTimer);
    this.throttleTimer = null;
    // Left running, it held the connection, and through it the broker, for that second after a
    // stop(): Jest's --detectLeaks reported every test file that stopped a broker as leaking.
    if (this.destroyTimer !== null) clearTimeout(this.destroyTimer);
    this.destroyTimer = null;
    this.slots.length = 0;
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w();
  }
}
