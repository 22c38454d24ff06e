/**
 * Fetch (v0–17). Stored batches are returned as they are (v4+), never decoded, as slices of the
 * log; v0–3 get them converted down to magic 0/1. Long polls wait for appends, MaxWaitMs or
 * shutdown. Fetch sessions (KIP-227) are kept as Kafka keeps them (fetch-sessions.ts).
 */
import { ErrorCode } from '../../protocol/error-codes.js';
import { encodeResponse } from '../../protocol/frames.js';
import { ApiKey } from '../../protocol/generated/index.js';
import type { FetchRequest, FetchRequestFetchTopic, FetchResponse, FetchResponsePartitionData } from '../../protocol/generated/index.js';
import type { Encodable } from '../../protocol/primitives/types.js';
import { ZERO_UUID } from '../../protocol/primitives/uuid.js';
import { RecordsError, downConvert, iterateBatches, readLastOffsetDelta } from '../../protocol/records/index.js';
import { effectiveConfig } from '../cluster/topic-configs.js';
import type { Endpoint } from '../config.js';
import type { Topic } from '../cluster/topics.js';
import { CorruptLogError, type PartitionLog, type ReadResult } from '../storage/storage.js';
import type { ApiHandler, BrokerState, RequestContext } from './context.js';
import { type FetchContext, type PartitionAnswer, type PartitionRequest, newContext, selectChanged } from './fetch-sessions.js';
import { PARTITIONS_PER_SLICE, yieldToEventLoop } from './slices.js';

const READ_COMMITTED = 1;
/** Partitions of one fetch read at once, at most (each may hold a file descriptor meanwhile). */
const MAX_CONCURRENT_READS = 16;
const EMPTY: Buffer = Buffer.alloc(0);

type PartitionData = Encodable<FetchResponsePartitionData>;

/** A partition's answer, and the bytes it counts towards MinBytes (ReadResult.readable). */
interface PartitionRead {
  data: PartitionData;
  readable: number;
}

interface Target {
  /** The topic as the request (or session) names it; '' for an unknown topic id. */
  name: string;
  /** v13+: false when the topic id was not known (the partition has no name). */
  named: boolean;
  topicId: string;
  topic: Topic | undefined;
  log: PartitionLog | undefined;
  partition: number;
  fetchOffset: bigint;
  partitionMaxBytes: number;
  currentLeaderEpoch: number;
  /** v12+: the epoch of the last batch the fetcher holds, -1 when not given. */
  lastFetchedEpoch: number;
}

/** The offset after the last whole batch in `records`. */
function endOffsetOf(records: Buffer): bigint {
  let end = 0n;
  for (const b of iterateBatches(records)) end = b.baseOffset + BigInt(b.magic === 2 ? readLastOffsetDelta(b.buf) : 0) + 1n;
  return end;
}

/** A partition not in the metadata: its error does not end a long poll. */
const unknown = (t: Target): boolean => t.log === undefined;


class FetchOperation {
  private readonly targets: Target[];
  private readonly readCommitted: boolean;
  /** A replica's fetch (ReplicaId ≥ 0): this broker has no followers, so none is recognised. */
  private readonly fromFollower: boolean;

  constructor(
    private readonly broker: BrokerState,
    /** This broker's address for the fetching client's listener. */
    private readonly advertised: Endpoint,
    private readonly version: number,
    private readonly body: FetchRequest,
    partitions: PartitionRequest[],
  ) {
    this.readCommitted = version >= 4 && body.isolationLevel === READ_COMMITTED;
    this.fromFollower = isFromFollower(version, body);
    // Partitions are looked up by name, also from v13: a session's partition keeps the name its
    // topic id had, so a topic deleted and made again under that name is INCONSISTENT_TOPIC_ID.
    this.targets = partitions.map((p) => {
      const topic = p.name === undefined ? undefined : broker.topics.get(p.name);
      return { ...p, name: p.name ?? '', named: p.name !== undefined, topic, log: topic?.partitions[p.partition] };
    });
  }

  /**
   * There is data to read and it starts in a rolled segment, older than the one the readable end
   * (high watermark, or last stable offset for read_committed) lies in: no append can add to it.
   */
  private onRolledSegments(t: Target): boolean {
    const log = t.log;
    if (!log || !t.topic) return false;
    const end = this.readCommitted ? t.topic.producers[t.partition].lastStableOffset(log) : log.highWatermark;
    return t.fetchOffset >= log.logStartOffset && t.fetchOffset < end && t.fetchOffset < log.activeSegmentBaseOffset && log.activeSegmentBaseOffset <= end;
  }

  get logs(): PartitionLog[] {
    return this.targets.flatMap((t) => (t.log ? [t.log] : []));
  }

  /**
   * Reads every partition once, sharing the response size budget as reading them one after the
   * other in request order would. The records may point into the log's cache: `releases` gets
   * what gives that memory back, to call once the response is written (or dropped).
   *
   * Partitions whose partitionMaxBytes fits in the budget even if every partition before them
   * returns its own maximum are read at once, up to MAX_CONCURRENT_READS (each read may wait on
   * its own file); a result is kept when the in-order read would have had the same limits, and
   * read again otherwise (only when a first batch larger than the limits was returned before it).
   * `readable` is what Kafka would count towards MinBytes.
   */
  async read(releases: (() => void)[]): Promise<{ partitions: PartitionData[]; readable: number; answerNow: boolean }> {
    // v0–2 treat sizes as hard limits; v3+ always return the first batch of the first non-empty partition (KIP-74).
    let minOne = this.version >= 3;
    // v0–2 carry no maxBytes: theirs is fetch.max.bytes (or a quota's), a hard limit as in Kafka.
    let remaining = this.body.maxBytes;
    // What each early read holds, until it moves to `releases` (kept) or is given back.
    const held: (() => void)[][] = [];
    const early: Promise<PartitionRead>[] = [];
    for (let i = 0, worst = remaining; i < this.targets.length && i < MAX_CONCURRENT_READS && this.targets[i].partitionMaxBytes <= worst; i++) {
      const t = this.targets[i];
      worst -= t.partitionMaxBytes;
      held.push([]);
      const read = this.readOne(t, t.partitionMaxBytes, minOne, held[i], this.body.minBytes);
      read.catch(() => {}); // a failure surfaces where it is awaited, in order
      early.push(read);
    }
    const giveBack = (i: number) => {
      for (const release of held[i]) release();
      held[i] = [];
    };
    let readable = 0;
    let answerNow = false;
    const partitions: PartitionData[] = [];
    let i = 0;
    try {
      for (; i < this.targets.length; i++) {
        // Reads from the tail cache never wait for I/O: without these turns, thousands of them hold the event loop.
        if (i > 0 && i % PARTITIONS_PER_SLICE === 0) await yieldToEventLoop();
        const t = this.targets[i];
        const maxBytes = Math.min(t.partitionMaxBytes, remaining);
        let read: PartitionRead | null = null;
        if (i < early.length) {
          read = await early[i];
          const size = (read.data.records as Buffer | null)?.length ?? 0;
          if (maxBytes === t.partitionMaxBytes && (size <= maxBytes || minOne)) {
            releases.push(...held[i]);
            held[i] = [];
          } else {
            giveBack(i);
            read = null;
          }
        }
        read ??= await this.readOne(t, maxBytes, minOne, releases, Math.max(0, this.body.minBytes - readable));
        const data = read.data;
        const size = (data.records as Buffer | null)?.length ?? 0;
        if (size > 0) {
          minOne = false;
          remaining = Math.max(0, remaining - size);
        }
        readable += read.readable;
        // A partition the broker does not know is answered without ending the long poll of the
        // others (Kafka answers it outside the replica manager); other errors, a diverging epoch,
        // and a read of rolled segments only (no append can add to them: DelayedFetch's case F)
        // answer at once.
        if ((data.errorCode !== ErrorCode.NONE && !unknown(t)) || data.divergingEpoch !== undefined || this.onRolledSegments(t)) answerNow = true;
        partitions.push(data);
      }
    } catch (e) {
      // Early reads still out give their memory back when they finish.
      for (let j = i; j < early.length; j++) early[j].then(() => giveBack(j), () => giveBack(j));
      throw e;
    }
    return { partitions, readable, answerNow };
  }

  /** `readableWanted`: how much of what is readable past the records returned matters (ReadOptions). */
  private async readOne(t: Target, maxBytes: number, minOne: boolean, releases: (() => void)[], readableWanted: number): Promise<PartitionRead> {
    const base = { partitionIndex: t.partition, abortedTransactions: this.readCommitted ? [] : null, preferredReadReplica: -1 };
    const fail = (errorCode: number): PartitionRead => ({ data: { ...base, errorCode, highWatermark: -1n, lastStableOffset: -1n, logStartOffset: -1n, records: EMPTY }, readable: 0 });
    if (!t.named) return fail(ErrorCode.UNKNOWN_TOPIC_ID);
    if (!t.topic) return fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    // Deleted during a long poll: Kafka answers such a partition at once (DelayedFetch, case C).
    if (!t.log || !this.broker.topics.isCurrent(t.topic)) return fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    // Kafka's ReplicaManager.readFromLog: the id a session holds is not the id of the log its name has now.
    if (this.version >= 13 && t.topic.id !== t.topicId) return fail(ErrorCode.INCONSISTENT_TOPIC_ID);
    // From v16 these two errors name the leader and its epoch (KIP-951), and the response its
    // endpoint, so that the client need not ask Metadata again.
    const withLeader = (errorCode: number): PartitionRead => {
      const r = fail(errorCode);
      if (this.version >= 16) r.data.currentLeader = { leaderId: this.broker.nodeId, leaderEpoch: t.topic!.leaderEpoch(t.partition) };
      return r;
    };
    const epoch = t.topic.leaderEpoch(t.partition);
    if (t.currentLeaderEpoch >= 0 && t.currentLeaderEpoch !== epoch) {
      return t.currentLeaderEpoch > epoch ? fail(ErrorCode.UNKNOWN_LEADER_EPOCH) : withLeader(ErrorCode.FENCED_LEADER_EPOCH);
    }
    // Kafka's Partition.followerReplicaOrThrow: only an assigned replica may fetch as a follower.
    // A fetcher giving its current leader epoch (matching) is told UNKNOWN_LEADER_EPOCH, so that
    // it retries; one without an epoch, NOT_LEADER_OR_FOLLOWER.
    if (this.fromFollower) return t.currentLeaderEpoch >= 0 ? fail(ErrorCode.UNKNOWN_LEADER_EPOCH) : withLeader(ErrorCode.NOT_LEADER_OR_FOLLOWER);
    const log = t.log;
    const producers = t.topic.producers[t.partition];
    const highWatermark = log.highWatermark;
    const lastStableOffset = producers.lastStableOffset({ highWatermark, logStartOffset: log.logStartOffset });
    const offsets = { highWatermark, lastStableOffset, logStartOffset: log.logStartOffset };
    // Below the log start is out of range whether or not the epochs diverge (Kafka's Partition.readRecords).
    if (t.lastFetchedEpoch >= 0 && t.fetchOffset < log.logStartOffset) return fail(ErrorCode.OFFSET_OUT_OF_RANGE);
    if (t.lastFetchedEpoch >= 0) {
      // Kafka's Partition.readRecords: a fetcher whose last epoch ends before its fetch offset has
      // diverged from the log, and is told where that epoch ends instead of getting records.
      const end = log.endOffsetForEpoch(t.lastFetchedEpoch);
      if (end.leaderEpoch < 0 || end.endOffset < 0) return fail(ErrorCode.OFFSET_OUT_OF_RANGE);
      if (end.leaderEpoch < t.lastFetchedEpoch || end.endOffset < t.fetchOffset) {
        return { data: { ...base, ...offsets, errorCode: ErrorCode.NONE, divergingEpoch: { epoch: end.leaderEpoch, endOffset: end.endOffset }, records: EMPTY }, readable: 0 };
      }
    }
    if (t.fetchOffset < log.logStartOffset || t.fetchOffset > log.logEndOffset) return fail(ErrorCode.OFFSET_OUT_OF_RANGE);
    const maxOffset = this.readCommitted ? lastStableOffset : highWatermark;
    let records = EMPTY;
    let readable = 0;
    if (t.fetchOffset < maxOffset) {
      let read: ReadResult;
      try {
        read = await log.read(t.fetchOffset, maxBytes, { maxOffset, minOneBatch: minOne, readableWanted });
      } catch (err) {
        // A damaged log answers for its own partition; the others are served (Kafka's ReplicaManager.readFromLocalLog).
        this.broker.log.error({ err, topic: t.name, partition: t.partition, offset: String(t.fetchOffset) }, 'fetch could not read the partition');
        if (err instanceof CorruptLogError) return fail(ErrorCode.CORRUPT_MESSAGE);
        // Kafka's maybeDownConvertStorageError: clients of Fetch v5 and older may take
        // KAFKA_STORAGE_ERROR as fatal; NOT_LEADER_OR_FOLLOWER has them refresh metadata and retry.
        return fail(this.version <= 5 ? ErrorCode.NOT_LEADER_OR_FOLLOWER : ErrorCode.KAFKA_STORAGE_ERROR);
      }
      records = read.records;
      readable = read.readable ?? records.length;
      if (read.release) releases.push(read.release);
    }
    // A topic refusing conversion answers UNSUPPORTED_VERSION once the fetch is done (response()): nothing to convert.
    if (records.length > 0 && this.version < 4 && !this.conversionRefused(t)) {
      try {
        // The converted copy no longer points into the log.
        records = downConvert(records, this.version < 2 ? 0 : 1, { minOffset: t.fetchOffset });
      } catch (e) {
        if (e instanceof RecordsError) return fail(e.kafkaErrorCode);
        throw e;
      }
    }
    // read_committed consumers drop the records of aborted transactions in what they were sent.
    const abortedTransactions = this.readCommitted ? producers.abortedBetween(t.fetchOffset, records.length > 0 ? endOffsetOf(records) : maxOffset) : null;
    return { data: { ...base, ...offsets, abortedTransactions, errorCode: ErrorCode.NONE, records }, readable };
  }

  /**
   * Whether a partition read without error has been appended to, or deleted, since: a read yields
   * to the event loop (between slices, for a file), so what came meanwhile must not wait for the next append.
   */
  changedSince(partitions: PartitionData[]): boolean {
    return this.targets.some((t, i) => {
      const read = partitions[i]!;
      return t.log !== undefined && read.errorCode === ErrorCode.NONE && (t.log.highWatermark !== read.highWatermark || !this.broker.topics.isCurrent(t.topic!));
    });
  }

  /**
   * Clients before Fetch v10 cannot read zstd: as in Kafka, a topic whose compression.type is zstd
   * answers them UNSUPPORTED_COMPRESSION_TYPE once the fetch is done, whatever the read found.
   */
  private zstdRefused(t: Target): boolean {
    return this.version < 10 && t.topic !== undefined && effectiveConfig('compression.type', t.topic.record.configs, this.broker.config) === 'zstd';
  }

  /**
   * Clients before Fetch v4 read only the old message formats: a topic whose
   * message.downconversion.enable is false answers them UNSUPPORTED_VERSION, as Kafka does.
   */
  private conversionRefused(t: Target): boolean {
    return this.version < 4 && t.topic !== undefined && effectiveConfig('message.downconversion.enable', t.topic.record.configs, this.broker.config) === 'false';
  }

  private refused(data: PartitionData, errorCode: number): PartitionData {
    return { ...data, errorCode, highWatermark: -1n, lastStableOffset: -1n, logStartOffset: -1n, abortedTransactions: null, records: EMPTY };
  }

  /** Partitions the broker knows in request order, then the unknown ones, as Kafka's KafkaApis puts them. */
  private order(): number[] {
    return [...this.targets.keys()].sort((a, b) => Number(unknown(this.targets[a]!)) - Number(unknown(this.targets[b]!)) || a - b);
  }

  /** The answer in the fetch's context: a full fetch may open a session, an incremental one sends only what changed. */
  respond(context: FetchContext, partitions: PartitionData[]): Encodable<FetchResponse> {
    const order = this.order();
    if (context.kind === 'full') {
      // The session holds every partition answered, errors included, with the answer's offsets.
      const cached = order.map((i) => {
        const { topic: _t, log: _l, named, name, ...request } = this.targets[i]!;
        return { ...request, name: named ? name : undefined, highWatermark: partitions[i]!.highWatermark ?? -1n, localLogStartOffset: partitions[i]!.logStartOffset ?? -1n };
      });
      const session = this.broker.fetchSessions.maybeCreate(Date.now(), this.fromFollower, this.version >= 13, cached);
      return this.response(partitions, order, session?.id ?? 0);
    }
    if (context.kind !== 'incremental') return this.response(partitions, order, 0);
    const { session } = context;
    // Another fetch of the session came meanwhile (Kafka: "Possible duplicate request").
    if (session.epoch !== context.expectedEpoch) return { throttleTimeMs: 0, errorCode: ErrorCode.INVALID_FETCH_SESSION_EPOCH, sessionId: session.id, responses: [] };
    const keep = selectChanged(session, order.map((i) => ({ key: session.key(this.targets[i]!), data: partitions[i]! as PartitionAnswer })));
    return this.response(partitions, order.filter((_, k) => keep[k]), session.id);
  }

  /**
   * What Kafka's consumer_byte_rate counts (FetchContext.getResponseSize): the whole answer, size
   * prefix and header included, as the context would send it (an incremental one only what
   * changed, nothing on a stale epoch), before its records are refused or converted, without
   * node endpoints. Changes no session.
   */
  responseSize(context: FetchContext, partitions: PartitionData[]): number {
    let order = this.order();
    if (context.kind === 'incremental') {
      const { session } = context;
      const keep = session.epoch !== context.expectedEpoch ? [] : selectChanged(session, order.map((i) => ({ key: session.key(this.targets[i]!), data: partitions[i]! as PartitionAnswer })), false);
      order = order.filter((_, k) => keep[k]);
    }
    const body = { throttleTimeMs: 0, errorCode: ErrorCode.NONE, sessionId: 0, responses: this.grouped(order, (i) => partitions[i]!), nodeEndpoints: [] };
    let size = 0;
    for (const chunk of encodeResponse(ApiKey.Fetch, this.version, 0, body)) size += chunk.length;
    return size;
  }

  /** The partitions `order` lists, consecutive partitions of a topic under one entry, as Kafka's FetchResponse lays them out. */
  private grouped(order: number[], data: (i: number) => PartitionData): { topic: string; topicId: string; partitions: PartitionData[] }[] {
    const responses: { topic: string; topicId: string; partitions: PartitionData[] }[] = [];
    for (const i of order) {
      const t = this.targets[i]!;
      let last = responses[responses.length - 1];
      if (!last || last.topic !== t.name || last.topicId !== t.topicId) responses.push((last = { topic: t.name, topicId: t.topicId, partitions: [] }));
      last.partitions.push(data(i));
    }
    return responses;
  }

  private response(partitions: PartitionData[], order: number[], sessionId: number): Encodable<FetchResponse> {
    const responses = this.grouped(order, (i) => {
      const t = this.targets[i]!;
      const data = partitions[i]!;
      return this.zstdRefused(t) ? this.refused(data, ErrorCode.UNSUPPORTED_COMPRESSION_TYPE) : this.conversionRefused(t) ? this.refused(data, ErrorCode.UNSUPPORTED_VERSION) : data;
    });
    const namesLeader = responses.some((r) => r.partitions.some((p) => p.currentLeader !== undefined));
    const nodeEndpoints = namesLeader ? [{ nodeId: this.broker.nodeId, host: this.advertised.host, port: this.advertised.port, rack: null }] : [];
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, sessionId, responses, nodeEndpoints };
  }
}

const isFromFollower = (version: number, body: FetchRequest): boolean => (version >= 15 ? body.replicaState.replicaId : body.replicaId) >= 0;

/**
 * The partitions a request names, keyed by topic partition as Kafka's LinkedHashMap keys them: one
 * named twice is fetched once, in its first place, with its last offset and limits. From v13 the
 * name is the one the topic id has now (undefined for an unknown id).
 */
function requestedPartitions(broker: BrokerState, version: number, body: FetchRequest): PartitionRequest[] {
  const byPartition = new Map<string, PartitionRequest>();
  for (const t of body.topics as FetchRequestFetchTopic[]) {
    const name = version >= 13 ? broker.topics.getById(t.topicId)?.name : t.topic;
    const topicId = version >= 13 ? t.topicId : ZERO_UUID;
    for (const p of t.partitions) {
      byPartition.set(`${version >= 13 ? topicId : t.topic}\u0000${p.partition}`, {
        name, topicId, partition: p.partition, fetchOffset: p.fetchOffset, partitionMaxBytes: p.partitionMaxBytes, currentLeaderEpoch: p.currentLeaderEpoch, lastFetchedEpoch: p.lastFetchedEpoch,
      });
    }
  }
  return [...byPartition.values()];
}

function forgottenPartitions(broker: BrokerState, version: number, body: FetchRequest): { topicId: string; name: string | undefined; partition: number }[] {
  return body.forgottenTopicsData.flatMap((t) =>
    t.partitions.map((partition) => (version >= 13 ? { topicId: t.topicId, name: broker.topics.getById(t.topicId)?.name, partition } : { topicId: ZERO_UUID, name: t.topic, partition })),
  );
}

/** Waits until one of the logs is appended to or deleted (`missed`: already), the timeout passes, or the broker shuts down. */
function waitForAppend(broker: BrokerState, logs: PartitionLog[], timeoutMs: number, missed: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const unsubscribe: (() => void)[] = [broker.topics.onDelete((topic) => {
      if (topic.partitions.some((p) => logs.includes(p))) done();
    })];
    const done = () => {
      clearTimeout(timer);
      for (const u of unsubscribe) u();
      broker.shutdownSignal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, timeoutMs);
    for (const log of logs) unsubscribe.push(log.onAppend(done));
    if (broker.shutdownSignal.aborted || missed()) done();
    else broker.shutdownSignal.addEventListener('abort', done);
  });
}

async function handle(ctx: RequestContext<FetchRequest>): Promise<Encodable<FetchResponse>> {
  const { broker, apiVersion } = ctx;
  // Kafka answers a follower's fetch (replica id >= 0) exempt from the client quotas: nothing recorded, never throttled.
  const follower = isFromFollower(apiVersion, ctx.body);
  if (follower) ctx.quota.exempt();
  // fetch.max.bytes and a consumer byte-rate quota (Kafka: getMaxValueInQuotaWindow) cap what one fetch returns.
  const maxBytes = Math.min(ctx.body.maxBytes, broker.config.number('fetch.max.bytes'), follower ? Infinity : Math.floor(ctx.quota.fetchMaxBytes()));
  // As in Kafka's KafkaApis, MinBytes never asks for more than MaxBytes allows.
  const body = maxBytes < ctx.body.maxBytes || ctx.body.minBytes > maxBytes ? { ...ctx.body, maxBytes, minBytes: Math.min(ctx.body.minBytes, maxBytes) } : ctx.body;
  const requested = requestedPartitions(broker, apiVersion, body);
  // Before v7 there are no sessions: the request's defaults (session 0, epoch -1) are sessionless.
  const context: FetchContext = apiVersion >= 7
    ? newContext(broker.fetchSessions, apiVersion, body.sessionId, body.sessionEpoch, requested, forgottenPartitions(broker, apiVersion, body), (id) => broker.topics.getById(id)?.name, Date.now())
    : { kind: 'sessionless', partitions: requested };
  if (context.kind === 'error') return { throttleTimeMs: 0, errorCode: context.errorCode, sessionId: 0, responses: [] };
  const op = new FetchOperation(broker, ctx.advertised, apiVersion, body, context.partitions);
  const deadline = Date.now() + Math.max(0, body.maxWaitMs);
  for (;;) {
    const releases: (() => void)[] = [];
    let result: Awaited<ReturnType<FetchOperation['read']>>;
    try {
      result = await op.read(releases);
    } catch (e) {
      for (const release of releases) release();
      throw e;
    }
    const { partitions, readable, answerNow } = result;
    const left = deadline - Date.now();
    if (readable >= body.minBytes || answerNow || left <= 0 || broker.shuttingDown || op.logs.length === 0) {
      // A violated quota (bytes or request time) gets an empty answer with the throttle time, as in Kafka.
      const throttleTimeMs = follower ? 0 : ctx.quota.fetched(broker.quotas.fetch.quotasEnabled ? op.responseSize(context, partitions) : 0);
      if (throttleTimeMs > 0) {
        for (const release of releases) release();
        // An incremental fetch keeps its session (Kafka's IncrementalFetchContext.getThrottledResponse); no session opens.
        if (context.kind !== 'incremental') return { throttleTimeMs, errorCode: ErrorCode.NONE, sessionId: 0, responses: [] };
        const errorCode = context.session.epoch === context.expectedEpoch ? ErrorCode.NONE : ErrorCode.INVALID_FETCH_SESSION_EPOCH;
        return { throttleTimeMs, errorCode, sessionId: context.session.id, responses: [] };
      }
      for (const release of releases) ctx.afterSent(release);
      return op.respond(context, partitions);
    }
    for (const release of releases) release();
    await waitForAppend(broker, op.logs, left, () => op.changedSince(partitions));
  }
}

export const fetchHandler: ApiHandler = { apiKey: ApiKey.Fetch, minVersion: 0, maxVersion: 17, handle };
