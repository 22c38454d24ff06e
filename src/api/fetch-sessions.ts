/**
 * Incremental fetch sessions (KIP-227), as Kafka 3.9's FetchSession.scala keeps them: a full fetch
 * (epoch 0) opens a session when the cache has room, or can evict one; later fetches name only the
 * partitions that changed, and are answered only the partitions whose answer changed.
 *
 * Like Kafka's broker, the cache is 8 shards of max.incremental.fetch.session.cache.slots / 8
 * sessions each, a new session going to the next shard in turn; a shard hands out ids of its own range.
 */
import { ErrorCode } from '../../protocol/error-codes.js';

/** Kafka's KafkaBroker.NumFetchSessionCacheShards. */
const SHARDS = 8;
const ID_RANGE = Math.floor(0x7fffffff / SHARDS);
/** Kafka's MIN_INCREMENTAL_FETCH_SESSION_EVICTION_MS: a session unused this long may go for any other. */
export const EVICTION_MS = 120_000;
export const INITIAL_EPOCH = 0;
export const FINAL_EPOCH = -1;

/** Kafka's FetchMetadata.nextEpoch. */
export const nextEpoch = (epoch: number): number => (epoch < 0 ? FINAL_EPOCH : epoch === 0x7fffffff ? 1 : epoch + 1);

/** What a fetcher asks of one partition, in a request or kept by a session. */
export interface PartitionRequest {
  /** undefined: a topic id the broker did not know when the partition was named (v13+). */
  name: string | undefined;
  /** ZERO_UUID before v13. */
  topicId: string;
  partition: number;
  fetchOffset: bigint;
  partitionMaxBytes: number;
  currentLeaderEpoch: number;
  lastFetchedEpoch: number;
}

/** Kafka's CachedPartition: the request's parameters and the last answer sent (-1: none, or an error). */
export interface CachedPartition extends PartitionRequest {
  highWatermark: bigint;
  localLogStartOffset: bigint;
}

/** Sessions by topic id from v13, by name before (Kafka's CachedPartition.equals). */
export const partitionKey = (usesTopicIds: boolean, topicId: string, name: string | undefined, partition: number): string =>
  `${usesTopicIds ? topicId : name}\u0000${partition}`;

export class FetchSession {
  /** Kafka's partitionMap: insertion order, a partition that returned records moving to the end. */
  readonly partitions = new Map<string, CachedPartition>();
  epoch = nextEpoch(INITIAL_EPOCH);
  lastUsedMs: number;
  /** Partitions held at the last touch (Kafka's cachedSize, the eviction key's size). */
  cachedSize = -1;
  evictableByPrivileged = false;
  evictableByAll = false;

  constructor(
    readonly id: number,
    /** Opened by a follower (Kafka: privileged), which may evict consumers' sessions. */
    readonly privileged: boolean,
    readonly usesTopicIds: boolean,
    readonly creationMs: number,
  ) {
    this.lastUsedMs = creationMs;
  }

  key(p: { topicId: string; name: string | undefined; partition: number }): string {
    return partitionKey(this.usesTopicIds, p.topicId, p.name, p.partition);
  }

  /** Adds or updates the partitions a request names, then drops the forgotten ones (Kafka's FetchSession.update). */
  update(requested: PartitionRequest[], forgotten: { topicId: string; name: string | undefined; partition: number }[]): void {
    for (const r of requested) {
      const cached = this.partitions.get(this.key(r));
      if (cached) Object.assign(cached, { fetchOffset: r.fetchOffset, partitionMaxBytes: r.partitionMaxBytes, currentLeaderEpoch: r.currentLeaderEpoch, lastFetchedEpoch: r.lastFetchedEpoch });
      else this.partitions.set(this.key(r), { ...r, highWatermark: -1n, localLogStartOffset: -1n });
    }
    for (const f of forgotten) this.partitions.delete(this.key(f));
  }
}

/** (privileged, size, id) compared as Kafka's EvictableKey: false before true, then smaller first. */
function compareEvictable(a: { privileged: boolean; size: number; id: number }, b: { privileged: boolean; size: number; id: number }): number {
  return Number(a.privileged) - Number(b.privileged) || a.size - b.size || a.id - b.id;
}

class Shard {
  readonly sessions = new Map<number, FetchSession>();

  constructor(
    private readonly maxEntries: number,
    private readonly shardNum: number,
  ) {}

  private newSessionId(): number {
    const low = Math.max(1, this.shardNum * ID_RANGE);
    const high = (this.shardNum + 1) * ID_RANGE;
    let id: number;
    do id = low + Math.floor(Math.random() * (high - low));
    while (this.sessions.has(id));
    return id;
  }

  /** The new session, or undefined (the fetch is answered with session id 0) when there is no room and nothing may be evicted. */
  maybeCreate(now: number, privileged: boolean, usesTopicIds: boolean, partitions: CachedPartition[]): FetchSession | undefined {
    if (this.sessions.size >= this.maxEntries && !this.tryEvict(privileged, partitions.length, now)) return undefined;
    const session = new FetchSession(this.newSessionId(), privileged, usesTopicIds, now);
    for (const p of partitions) session.partitions.set(session.key(p), p);
    this.sessions.set(session.id, session);
    this.touch(session, now);
    return session;
  }

  /**
   * Kafka's tryEvict: the least recently used session goes if unused for EVICTION_MS; otherwise the
   * least valuable evictable one (unprivileged before privileged, then fewer partitions), if the new
   * session is worth more (privileged, or strictly more partitions).
   */
  private tryEvict(privileged: boolean, size: number, now: number): boolean {
    let lru: FetchSession | undefined;
    for (const s of this.sessions.values()) if (!lru || s.lastUsedMs < lru.lastUsedMs || (s.lastUsedMs === lru.lastUsedMs && s.id < lru.id)) lru = s;
    if (!lru) return false;
    if (now - lru.lastUsedMs > EVICTION_MS) {
      this.sessions.delete(lru.id);
      return true;
    }
    let least: FetchSession | undefined;
    const keyOf = (s: FetchSession) => ({ privileged: s.privileged, size: s.cachedSize, id: s.id });
    for (const s of this.sessions.values()) {
      if (!(privileged ? s.evictableByPrivileged : s.evictableByAll)) continue;
      if (!least || compareEvictable(keyOf(s), keyOf(least)) < 0) least = s;
    }
    if (!least || compareEvictable({ privileged, size, id: 0 }, keyOf(least)) < 0) return false;
    this.sessions.delete(least.id);
    return true;
  }

  /** Kafka's touch: which sessions may be evicted is decided here, by the session's age now. */
  touch(session: FetchSession, now: number): void {
    session.lastUsedMs = now;
    session.cachedSize = session.partitions.size;
    const old = now - session.creationMs > EVICTION_MS;
    session.evictableByPrivileged = !session.privileged || old;
    session.evictableByAll = old;
  }
}

export class FetchSessionCache {
  private readonly shards: Shard[] = [];
  private counter = 0;

  constructor(slots: number) {
    for (let i = 0; i < SHARDS; i++) this.shards.push(new Shard(Math.floor(slots / SHARDS), i));
  }

  /** Sessions held (Kafka's NumIncrementalFetchSessions). */
  get size(): number {
    return this.shards.reduce((n, s) => n + s.sessions.size, 0);
  }

  /** Every session held (tests, metrics). */
  sessions(): FetchSession[] {
    return this.shards.flatMap((s) => [...s.sessions.values()]);
  }

  private shardOf(id: number): Shard | undefined {
    return this.shards[Math.trunc(id / ID_RANGE)];
  }

  get(id: number): FetchSession | undefined {
    return this.shardOf(id)?.sessions.get(id);
  }

  remove(id: number): void {
    this.shardOf(id)?.sessions.delete(id);
  }

  touch(session: FetchSession, now: number): void {
    this.shardOf(session.id)?.touch(session, now);
  }

  /** Opens a session in the next shard (round robin, as Kafka's getNextCacheShard), if it has room. */
  maybeCreate(now: number, privileged: boolean, usesTopicIds: boolean, partitions: CachedPartition[]): FetchSession | undefined {
    const shard = this.shards[this.counter++ % SHARDS]!;
    return shard.maybeCreate(now, privileged, usesTopicIds, partitions);
  }
}

/** How a fetch request is served (Kafka's FetchManager.newContext). */
export type FetchContext =
  | { kind: 'error'; errorCode: number }
  | { kind: 'sessionless'; partitions: PartitionRequest[] }
  | { kind: 'full'; partitions: PartitionRequest[] }
  | { kind: 'incremental'; session: FetchSession; partitions: PartitionRequest[]; expectedEpoch: number };

export function newContext(
  cache: FetchSessionCache,
  version: number,
  sessionId: number,
  epoch: number,
  requested: PartitionRequest[],
  forgotten: { topicId: string; name: string | undefined; partition: number }[],
  resolve: (topicId: string) => string | undefined,
  now: number,
): FetchContext {
  if (epoch === INITIAL_EPOCH || epoch === FINAL_EPOCH) {
    // Any session a full fetch names is closed.
    if (sessionId !== 0) cache.remove(sessionId);
    return { kind: epoch === FINAL_EPOCH ? 'sessionless' : 'full', partitions: requested };
  }
  const session = cache.get(sessionId);
  if (!session) return { kind: 'error', errorCode: ErrorCode.FETCH_SESSION_ID_NOT_FOUND };
  if (session.epoch !== epoch) return { kind: 'error', errorCode: ErrorCode.INVALID_FETCH_SESSION_EPOCH };
  if (session.usesTopicIds !== version >= 13) return { kind: 'error', errorCode: ErrorCode.FETCH_SESSION_TOPIC_ID_ERROR };
  session.update(requested, forgotten);
  if (session.partitions.size === 0) {
    // Nothing left: the session closes and the request is answered as a sessionless one.
    cache.remove(session.id);
    return { kind: 'sessionless', partitions: requested };
  }
  cache.touch(session, now);
  session.epoch = nextEpoch(session.epoch);
  // A partition named by an id the broker did not know then gets its name once the id is known (Kafka's maybeResolveUnknownName).
  if (session.usesTopicIds) for (const p of session.partitions.values()) p.name ??= resolve(p.topicId);
  return { kind: 'incremental', session, partitions: [...session.partitions.values()].map((p) => ({ ...p })), expectedEpoch: nextEpoch(epoch) };
}

/** What an answer's partition shows that an incremental answer compares with the last one sent. */
export interface PartitionAnswer {
  errorCode: number;
  highWatermark: bigint;
  logStartOffset: bigint;
  records: unknown;
  divergingEpoch?: { epoch: number } | undefined;
  preferredReadReplica: number;
}

/**
 * Kafka's maybeUpdateResponseData: an incremental answer includes a partition with records, an
 * error or a diverging epoch, or whose high watermark or log start offset changed since it was
 * last sent; the session keeps what was sent (an error, a high watermark of -1 to send it again
 * once the error is gone). A partition that returned records moves to the end of the session,
 * so that the next fetches read the others first. With `update` false nothing changes (Kafka sizes
 * the answer so before it knows whether a quota throttles it).
 */
export function selectChanged(session: FetchSession, answers: { key: string; data: PartitionAnswer }[], update = true): boolean[] {
  return answers.map(({ key, data }) => {
    const cached = session.partitions.get(key);
    if (!cached) return true;
    const hasRecords = ((data.records as Buffer | null)?.length ?? 0) > 0;
    let respond = hasRecords || data.preferredReadReplica !== -1 || (data.divergingEpoch !== undefined && data.divergingEpoch.epoch >= 0);
    if (cached.highWatermark !== data.highWatermark) {
      respond = true;
      if (update) cached.highWatermark = data.highWatermark;
    }
    if (cached.localLogStartOffset !== data.logStartOffset) {
      respond = true;
      if (update) cached.localLogStartOffset = data.logStartOffset;
    }
    if (data.errorCode !== ErrorCode.NONE) {
      respond = true;
      if (update) cached.highWatermark = -1n;
    }
    if (hasRecords && update) {
      session.partitions.delete(key);
      session.partitions.set(key, cached);
    }
    return respond;
  });
}
