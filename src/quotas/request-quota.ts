/**
 * The quotas of one request, as Kafka's KafkaApis applies them: every request counts its processing
 * time against request_percentage; Produce also counts its size against producer_byte_rate, Fetch its
 * response size against consumer_byte_rate. A violated quota gives the response a throttle time, and
 * the connection reads nothing more for that long (KIP-219: answer first, then mute the channel).
 */
import { ANONYMOUS_USER, type ClientQuotas, type MutationQuota } from './quota-manager.js';

/** What can be throttled: the client's connection. */
export interface Throttleable {
  throttle(ms: number): void;
}

/** Kafka's cluster actions (broker-to-broker and controller APIs): exempt from the request quota. */
const EXEMPT_API_KEYS = new Set([4, 5, 6, 7, 27, 52, 53, 54, 55, 56, 57, 58, 62, 63, 67, 83, 84, 85, 86, 87]);

const NANOS_TO_PERCENTAGE_PER_SECOND = 100 / 1e9;

export class RequestQuota {
  /** The response's throttle time is settled (Produce, Fetch); the dispatcher leaves it alone. */
  private settled = false;
  private requestThrottle: number | undefined;
  readonly user = ANONYMOUS_USER;
  /** The handler's synchronous part is over (handlingNanos measures it): later work is counted by `timed`. */
  private returned = false;
  /** Handler work after its synchronous part (appends that waited their turn, later slices), in nanoseconds. */
  private laterNanos = 0;
  private mutation: MutationQuota | null = null;

  constructor(
    private readonly quotas: ClientQuotas,
    private readonly apiKey: number,
    readonly clientId: string,
    /** Size of the request frame (header and body), Kafka's request.sizeInBytes. */
    readonly requestSize: number,
    private readonly connection: Throttleable,
    /** Time spent handling the request so far, in nanoseconds. */
    private readonly handlingNanos: () => number,
  ) {}

  /** The handler returned (it may go on after waiting, inside `timed`). */
  handlerReturned(): void {
    this.returned = true;
  }

  /**
   * Runs `f`, work of this request's handler: when it runs after the handler returned (Kafka does
   * it on the request thread, in the request's time), its time is added to the request's.
   */
  timed<T>(f: () => T): T {
    if (!this.returned) return f();
    const started = process.hrtime.bigint();
    try {
      return f();
    } finally {
      this.laterNanos += Number(process.hrtime.bigint() - started);
    }
  }

  /** Kafka's quotas.request.maybeRecordAndGetThrottleTimeMs: records this request's time once. */
  requestThrottleMs(): number {
    if (this.requestThrottle === undefined) {
      const percent = (this.handlingNanos() + this.laterNanos) * NANOS_TO_PERCENTAGE_PER_SECOND;
      this.requestThrottle = EXEMPT_API_KEYS.has(this.apiKey) ? 0 : this.quotas.request.maybeRecordAndGetThrottleTimeMs(this.user, this.clientId, percent, this.quotas.now());
    }
    return this.requestThrottle;
  }

  /**
   * Produce answered: records the request size (and, unless acks=0, its time), mutes the connection
   * for the larger throttle; returns it for the response.
   */
  produced(acks: number): number {
    const bandwidth = this.quotas.produce.maybeRecordAndGetThrottleTimeMs(this.user, this.clientId, this.requestSize, this.quotas.now());
    const request = acks === 0 ? 0 : this.requestThrottleMs();
    return this.settle(Math.max(bandwidth, request));
  }

  /** The most a fetch may return without certainly being throttled (Kafka caps fetch.max.bytes with it). */
  fetchMaxBytes(): number {
    return this.quotas.fetch.maxValueInQuotaWindow(this.user, this.clientId);
  }

  /**
   * Fetch answered with `bytes`: records them and the request time; when either quota is violated
   * the bytes are taken back (Kafka answers a throttled fetch with no data) and the throttle time
   * is returned, 0 otherwise.
   */
  fetched(bytes: number): number {
    const now = this.quotas.now();
    const request = this.requestThrottleMs();
    const bandwidth = this.quotas.fetch.maybeRecordAndGetThrottleTimeMs(this.user, this.clientId, bytes, now);
    const throttle = Math.max(bandwidth, request);
    if (throttle > 0) this.quotas.fetch.unrecord(this.user, this.clientId, bytes, now);
    return this.settle(throttle);
  }

  /**
   * The controller mutation quota of this request (CreateTopics, CreatePartitions, DeleteTopics):
   * strict from the version where Kafka makes it strict, permissive below.
   */
  mutations(strict: boolean): MutationQuota {
    return (this.mutation ??= this.quotas.mutation.newQuotaFor(this.user, this.clientId, strict, () => this.quotas.now()));
  }

  /** The request is exempt from every client quota (Kafka's sendResponseExemptThrottle): nothing is recorded for it. */
  exempt(): void {
    this.settled = true;
  }

  /** Any other request answered: its throttle time, the larger of the request and mutation quotas' (0 when settled by the handler or exempt). */
  finish(): number {
    return this.settled ? 0 : this.settle(Math.max(this.requestThrottleMs(), this.mutation?.throttleTimeMs() ?? 0));
  }

  private settle(ms: number): number {
    this.settled = true;
    if (ms > 0) this.connection.throttle(ms);
    return ms;
  }
}
