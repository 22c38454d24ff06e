/**
 * Kafka's client quota managers (ClientQuotaManager, ClientRequestQuotaManager with the default
 * quota callback): one per quota type — produce bytes, fetch bytes, request time. Each keeps a
 * sampled rate per (user, client id) group and answers, when a value is recorded, how long the
 * client must be throttled for the rate to fall back to its quota:
 *
 *   throttle = (rate - quota) / quota × window
 *
 * The quota of a request is the most specific one configured, in Kafka's order:
 *   user+client-id, user+default client-id, user, default user+client-id,
 *   default user+default client-id, default user, client-id, default client-id.
 * Which rate a request counts in follows Kafka too: while only one level of quotas has ever been
 * configured (say client-id), clients share a rate by that level alone.
 *
 * Without authentication every client is Kafka's User:ANONYMOUS, so user quotas apply through
 * the user "ANONYMOUS" or the default user.
 */
import {
  CLIENT_ID, CONNECTION_CREATION_RATE, CONSUMER_BYTE_RATE, CONTROLLER_MUTATION_RATE, IP, PRODUCER_BYTE_RATE, REQUEST_PERCENTAGE, USER,
  ClientQuotaStore, entityOf, type QuotaEntity, type QuotaStorePersistence,
} from './client-quota-store.js';
import type { Logger } from '../logger.js';
import { addressByName } from '../net/inet-address.js';
import { SampledRate } from './rate.js';
import { TokenBucket } from './token-bucket.js';

/** The principal of every connection without authentication (Kafka's KafkaPrincipal.ANONYMOUS). */
export const ANONYMOUS_USER = 'ANONYMOUS';

export type QuotaType = 'produce' | 'fetch' | 'request' | 'mutation';

const QUOTA_KEY: Record<QuotaType, string> = {
  produce: PRODUCER_BYTE_RATE, fetch: CONSUMER_BYTE_RATE, request: REQUEST_PERCENTAGE, mutation: CONTROLLER_MUTATION_RATE,
};

/** Kafka's QuotaTypes bits: which levels of quotas were ever configured (until restart). */
const CLIENT_ID_ENABLED = 1;
const USER_ENABLED = 2;
const USER_CLIENT_ID_ENABLED = 4;

/** Rates unused this long are dropped (Kafka: InactiveSensorExpirationTimeSeconds). */
const INACTIVE_RATE_EXPIRATION_MS = 3_600_000;

export interface QuotaWindowConfig {
  /** quota.window.num */
  samples: number;
  /** quota.window.size.seconds */
  windowSeconds: number;
}

/** A user or client-id part of a quota entity: a name, or the default entity. */
type Part = { name: string } | 'default';

/** What a quota measures per (user, client id) group, dropped after an hour unused (Kafka expires its sensors so). */
class Measures<M extends { readonly lastRecordMs: number }> {
  private readonly byGroup = new Map<string, M>();
  private lastExpiry = 0;

  constructor(private readonly create: () => M) {}

  get(userTag: string, clientTag: string, now: number): M {
    if (now - this.lastExpiry > 60_000) {
      this.lastExpiry = now;
      for (const [k, m] of this.byGroup) if (now - m.lastRecordMs > INACTIVE_RATE_EXPIRATION_MS) this.byGroup.delete(k);
    }
    const k = `${userTag}\u0000${clientTag}`;
    let m = this.byGroup.get(k);
    if (!m) this.byGroup.set(k, (m = this.create()));
    return m;
  }
}

export class ClientQuotaManager {
  private enabled = 0;
  private readonly rates: Measures<SampledRate>;
  readonly key: string;

  constructor(
    readonly type: QuotaType,
    private readonly store: ClientQuotaStore,
    protected readonly window: QuotaWindowConfig,
    /** Throttle times are capped at this (the request quota caps at one window). */
    private readonly maxThrottleMs = Number.MAX_SAFE_INTEGER,
  ) {
    this.key = QUOTA_KEY[type];
    this.rates = new Measures(() => new SampledRate(window.samples, window.windowSeconds * 1000));
  }

  /** Whether a quota of this type was ever configured (Kafka records nothing until then). */
  get quotasEnabled(): boolean {
    return this.enabled !== 0;
  }

  /** Kafka's updateQuota bookkeeping: a quota of this type changed on `entity`. */
  quotaChanged(entity: QuotaEntity): void {
    const user = entity.has(USER);
    const client = entity.has(CLIENT_ID);
    if (user && client) this.enabled |= USER_CLIENT_ID_ENABLED;
    else if (user) this.enabled |= USER_ENABLED;
    else if (client) this.enabled |= CLIENT_ID_ENABLED;
  }

  /** Records `value` for the client unless no quota of this type exists; returns the throttle time in ms. */
  maybeRecordAndGetThrottleTimeMs(user: string, clientId: string, value: number, now: number): number {
    return this.quotasEnabled ? this.recordAndGetThrottleTimeMs(user, clientId, value, now) : 0;
  }

  recordAndGetThrottleTimeMs(user: string, clientId: string, value: number, now: number): number {
    const [userTag, clientTag] = this.metricTags(user, clientId);
    const rate = this.rateFor(userTag, clientTag, now);
    rate.record(value, now);
    const bound = this.quotaLimit(userTag, clientTag);
    return bound === undefined ? 0 : rate.throttleMs(bound, now, this.maxThrottleMs);
  }

  /** Takes back a recorded value (a throttled fetch returns nothing). */
  unrecord(user: string, clientId: string, value: number, now: number): void {
    if (!this.quotasEnabled) return;
    const [userTag, clientTag] = this.metricTags(user, clientId);
    this.rateFor(userTag, clientTag, now).record(-value, now);
  }

  /**
   * The most that can be recorded at once without certainly being throttled, even with nothing
   * recorded before: quota × (samples − 1) × window (Kafka caps fetch sizes with it).
   */
  maxValueInQuotaWindow(user: string, clientId: string): number {
    if (!this.quotasEnabled) return Number.MAX_SAFE_INTEGER;
    const bound = this.quotaLimit(...this.metricTags(user, clientId));
    return bound === undefined ? Number.MAX_SAFE_INTEGER : bound * (this.window.samples - 1) * this.window.windowSeconds;
  }

  /** The quota applying to a client (undefined: unlimited), as Kafka's `quota(user, clientId)`. */
  quotaFor(user: string, clientId: string): number | undefined {
    return this.quotaLimit(...this.metricTags(user, clientId));
  }

  /** Kafka's DefaultQuotaCallback.quotaMetricTags: which (user, client-id) group a client's rate is kept for. */
  protected metricTags(user: string, clientId: string): [string, string] {
    switch (this.enabled) {
      case 0:
      case CLIENT_ID_ENABLED:
        return ['', clientId];
      case USER_ENABLED:
        return [user, ''];
      case USER_CLIENT_ID_ENABLED:
        return [user, clientId];
      default: {
        const u: Part = { name: user };
        const c: Part = { name: clientId };
        if (this.has(u, c) || this.has(u, 'default')) return [user, clientId];
        if (this.has(u, null)) return [user, ''];
        if (this.has('default', c) || this.has('default', 'default')) return [user, clientId];
        if (this.has('default', null)) return [user, ''];
        return ['', clientId];
      }
    }
  }

  /** Kafka's DefaultQuotaCallback.quotaLimit for a metric group. */
  protected quotaLimit(userTag: string, clientTag: string): number | undefined {
    const u: Part = { name: userTag };
    const c: Part = { name: clientTag };
    if (userTag !== '' && clientTag !== '') {
      return this.get(u, c) ?? this.get(u, 'default') ?? this.get('default', c) ?? this.get('default', 'default');
    }
    if (userTag !== '') return this.get(u, null) ?? this.get('default', null);
    if (clientTag !== '') return this.get(null, c) ?? this.get(null, 'default');
    return undefined;
  }

  private get(user: Part | null, client: Part | null): number | undefined {
    const parts: [string, string | null][] = [];
    if (user !== null) parts.push([USER, user === 'default' ? null : user.name]);
    if (client !== null) parts.push([CLIENT_ID, client === 'default' ? null : client.name]);
    return this.store.value(entityOf(parts), this.key);
  }

  private has(user: Part | null, client: Part | null): boolean {
    return this.get(user, client) !== undefined;
  }

  private rateFor(userTag: string, clientTag: string, now: number): SampledRate {
    return this.rates.get(userTag, clientTag, now);
  }
}

/**
 * A request's share of the controller mutation quota (Kafka's ControllerMutationQuota): CreateTopics,
 * CreatePartitions and DeleteTopics record the partitions each topic creates or deletes.
 */
export interface MutationQuota {
  /**
   * Records `partitions` mutations. A strict quota (recent request versions) refuses them, recording
   * nothing, once the bucket is empty: false, and the topic fails with THROTTLING_QUOTA_EXCEEDED.
   * A permissive one (older versions) records them whatever the bucket holds.
   */
  record(partitions: number): boolean;
  /** The throttle the last violation asked for, less the time since: the response's throttle time. */
  throttleTimeMs(): number;
}

/** Kafka's answer to a topic refused by a strict mutation quota. */
export const THROTTLING_QUOTA_EXCEEDED_MESSAGE = 'The throttling quota has been exceeded.';

const UNBOUNDED: MutationQuota = { record: () => true, throttleTimeMs: () => 0 };

/**
 * Kafka's ControllerMutationQuotaManager: the same quota lookup as the other client quotas, with a
 * token bucket per (user, client id) group instead of a sampled rate, so that a burst of topic
 * creations up to the window's worth goes through at once and later ones wait for the bucket.
 */
export class ControllerMutationQuotaManager extends ClientQuotaManager {
  private readonly buckets = new Measures(() => new TokenBucket());

  constructor(store: ClientQuotaStore, window: QuotaWindowConfig) {
    super('mutation', store, window);
  }

  /** The quota of one request: strict from the version Kafka makes it strict (unbounded while no such quota exists). */
  newQuotaFor(user: string, clientId: string, strict: boolean, now: () => number): MutationQuota {
    if (!this.quotasEnabled) return UNBOUNDED;
    const [userTag, clientTag] = this.metricTags(user, clientId);
    const bucket = this.buckets.get(userTag, clientTag, now());
    let throttleMs = 0;
    let recordedAt = 0;
    return {
      record: (partitions) => {
        const bound = this.quotaLimit(userTag, clientTag);
        if (bound === undefined) return true;
        const t = now();
        const burst = this.window.samples * this.window.windowSeconds * bound;
        // Kafka's strict quota checks the bucket before recording, its permissive one after.
        const tokens = strict ? bucket.measure(bound, burst, t) : (bucket.record(bound, burst, partitions, t), bucket.measure(bound, burst, t));
        if (tokens < 0) {
          throttleMs = Math.round((-tokens / bound) * 1000);
          recordedAt = t;
          if (strict) return false;
        } else if (strict) {
          bucket.record(bound, burst, partitions, t);
        }
        return true;
      },
      throttleTimeMs: () => Math.max(0, throttleMs - (now() - recordedAt)),
    };
  }
}

/**
 * Kafka's per-address connection_creation_rate (KIP-612, ConnectionQuotas.recordIpConnectionMaybeThrottle):
 * each new connection counts in its address' sampled rate; one that takes the rate past the
 * address' quota (its own, else the default ip entity's) is not counted and must wait
 * (rate - quota) / quota × window, at most one window, before the listener closes it.
 */
export class ConnectionRateQuota {
  private readonly rates: Measures<SampledRate>;
  /**
   * connection_creation_rate of the ip entities, by address: Kafka takes an entity's name through
   * InetAddress.getByName when it changes (ClientQuotaMetadataManager.handleIpQuota), so a host
   * name stands for its address and an address matches however it was spelt.
   */
  private readonly byAddress = new Map<string, number>();
  /** Each entity's resolution, applied in the order the changes came (a later one may resolve sooner). */
  private applied: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: ClientQuotaStore,
    private readonly window: QuotaWindowConfig,
    private readonly onUnresolvable: (name: string, err: unknown) => void = () => undefined,
  ) {
    this.rates = new Measures(() => new SampledRate(window.samples, window.windowSeconds * 1000));
    store.onChange((entity, key) => {
      const name = entity.get(IP);
      if (key === CONNECTION_CREATION_RATE && typeof name === 'string') this.entityChanged(name);
    });
  }

  /** Settles once the changes so far apply (tests). */
  settled(): Promise<void> {
    return this.applied;
  }

  /** Records a new connection from `address`; the ms it must wait before being closed, 0 when accepted. */
  throttleMs(address: string, now: number): number {
    const quota = this.byAddress.get(address) ?? this.store.value(entityOf([[IP, null]]), CONNECTION_CREATION_RATE);
    if (quota === undefined) return 0;
    const rate = this.rates.get(address, '', now);
    rate.record(1, now);
    const throttle = rate.throttleMs(quota, now, this.window.windowSeconds * 1000);
    if (throttle > 0) rate.record(-1, now);
    return throttle;
  }

  private entityChanged(name: string): void {
    const resolved = addressByName(name);
    this.applied = this.applied.then(async () => {
      let address: string;
      try {
        address = await resolved;
      } catch (err) {
        // AlterClientQuotas checked that it resolved; it may not any more (Kafka logs it and goes on).
        return this.onUnresolvable(name, err);
      }
      const value = this.store.value(entityOf([[IP, name]]), CONNECTION_CREATION_RATE);
      if (value === undefined) this.byAddress.delete(address);
      else this.byAddress.set(address, value);
    });
  }
}

/** The broker's quota configuration and its managers. */
export class ClientQuotas {
  readonly store: ClientQuotaStore;
  readonly produce: ClientQuotaManager;
  readonly fetch: ClientQuotaManager;
  readonly request: ClientQuotaManager;
  readonly mutation: ControllerMutationQuotaManager;
  readonly connectionRate: ConnectionRateQuota;

  constructor(
    persistence: QuotaStorePersistence,
    readonly window: QuotaWindowConfig,
    /** The clock quotas are measured with (tests inject one). */
    readonly now: () => number = Date.now,
    /** controller.quota.window.num / controller.quota.window.size.seconds */
    mutationWindow: QuotaWindowConfig = window,
    log?: Logger,
  ) {
    this.store = new ClientQuotaStore(persistence);
    this.produce = new ClientQuotaManager('produce', this.store, window);
    this.fetch = new ClientQuotaManager('fetch', this.store, window);
    // Kafka's request quota never throttles for more than one window.
    this.request = new ClientQuotaManager('request', this.store, window, window.windowSeconds * 1000);
    this.mutation = new ControllerMutationQuotaManager(this.store, mutationWindow);
    this.connectionRate = new ConnectionRateQuota(this.store, window, (name, err) => log?.warn({ err, ip: name }, 'an ip quota entity no longer resolves: its connection_creation_rate is not applied'));
    const managers = [this.produce, this.fetch, this.request, this.mutation];
    this.store.onChange((entity, key) => {
      for (const m of managers) if (m.key === key) m.quotaChanged(entity);
    });
  }

  /** Reads the stored quotas; resolves once the ip entities' names are resolved too, so the first connections meet their quotas. */
  async load(): Promise<void> {
    await this.store.load();
    await this.connectionRate.settled();
  }
}
