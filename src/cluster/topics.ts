/** The topics this broker hosts: names, ids, partitions and their logs, persisted through the storage engine. */
import { randomUuid } from '../../protocol/primitives/uuid.js';
import type { BrokerConfig } from '../config.js';
import type { Logger } from '../logger.js';
import { type ProducerExpiry, ProducerStateManager } from '../coordinator/producers/producer-state.js';
import { type SkippedDamage, type SnapshotMark, loadProducerState, snapshotProducerState } from '../coordinator/producers/rebuild.js';
import { policyCompacts, type LogConfig, type PartitionLog, type Storage, type TopicRecord } from '../storage/storage.js';
import { logConfigFor } from './topic-configs.js';

/** Partitions opened at once. */
const OPEN_CONCURRENCY = 8;

/**
 * State document: the leader epoch of the latest start. Each start takes the next one for every
 * partition, so an epoch is never taken twice, even when a crash cut the log back past the start
 * of the last one or a partition's leader-epoch-checkpoint was lost.
 */
const LEADER_EPOCH_STATE = 'leader-epoch';

export const MAX_TOPIC_NAME_LENGTH = 249;

/** Kafka's Topic.isInternal: the coordinators' own topics. */
export const INTERNAL_TOPICS = new Set(['__consumer_offsets', '__transaction_state', '__share_group_state']);

/** Kafka's Topic.validate: why a name is illegal (Kafka 3.9's words), or null. */
export function invalidTopicName(name: string): string | null {
  const reason =
    name.length === 0 ? 'the empty string is not allowed'
    : name === '.' ? "'.' is not allowed"
    : name === '..' ? "'..' is not allowed"
    : name.length > MAX_TOPIC_NAME_LENGTH ? `the length of '${name}' is longer than the max allowed length ${MAX_TOPIC_NAME_LENGTH}`
    : !/^[a-zA-Z0-9._-]+$/.test(name) ? `'${name}' contains one or more characters other than ASCII alphanumerics, '.', '_' and '-'`
    : null;
  return reason === null ? null : `Topic name is invalid: ${reason}`;
}

/** Topics whose names differ only by '.' versus '_' collide in metric names; Kafka refuses the second. */
export function collides(a: string, b: string): boolean {
  return a !== b && a.replace(/\./g, '_') === b.replace(/\./g, '_');
}

export class Topic {
  /** Producer state per partition (idempotence and transactions), index-aligned with `partitions`. */
  readonly producers: ProducerStateManager[];

  constructor(
    public record: TopicRecord,
    readonly partitions: PartitionLog[],
    producers?: ProducerStateManager[],
  ) {
    this.producers = producers ?? partitions.map(() => new ProducerStateManager());
  }

  get name(): string {
    return this.record.name;
  }

  /** A partition's leader epoch: the latest its epoch cache holds, the one this broker took when it opened the partition (openEach). */
  leaderEpoch(partition: number): number {
    return this.partitions[partition]!.latestLeaderEpoch;
  }

  get id(): string {
    return this.record.topicId;
  }

  get isInternal(): boolean {
    return INTERNAL_TOPICS.has(this.name);
  }
}

export class TopicRegistry {
  private readonly byName = new Map<string, Topic>();
  private readonly byId = new Map<string, Topic>();
  /** Creations in progress, so concurrent requests for one name create it once. */
  private readonly creating = new Map<string, Promise<Topic>>();
  /** Deletions whose data is still being removed: a topic made again under the name waits for them. */
  private readonly deleting = new Map<string, Promise<void>>();
  /** What the topic table on storage should say: every topic, including those being created. */
  private readonly records = new Map<string, TopicRecord>();
  /** Writes of the topic table, one at a time, each writing the state current when it starts. */
  private saving: Promise<void> = Promise.resolve();
  /** The write of the topic table that has not started yet. */
  private nextSave: Promise<void> | null = null;
  /** Each topic's configs as the table on storage has them. */
  private readonly savedConfigs = new WeakMap<TopicRecord, Record<string, string>>();
  /** What each partition's producer state was when its snapshot was last written (or read at start). */
  private readonly snapshotted = new WeakMap<ProducerStateManager, SnapshotMark>();
  /** The snapshot of each partition's producer state being taken: one at a time per partition. */
  private readonly snapshotting = new WeakMap<ProducerStateManager, Promise<void>>();
  /** Told when a topic leaves the registry (long polls waiting on its partitions answer at once). */
  private readonly deletionListeners = new Set<(topic: Topic) => void>();
  /** The leader epoch partitions opened by this start take (at least: one whose history is past it takes the next). */
  private startEpoch = 0;

  constructor(
    private readonly storage: Storage,
    private readonly config: BrokerConfig,
    private readonly log: Logger,
  ) {}

  async load(records: readonly TopicRecord[]): Promise<void> {
    await this.storage.setAsideUnknownPartitions?.(records);
    this.startEpoch = (await this.lastStartEpoch()) + 1;
    await this.saveStartEpoch(this.startEpoch);
    for (const record of records) {
      this.records.set(record.name, record);
      this.savedConfigs.set(record, record.configs);
    }
    // One pool over the partitions of every topic: thousands of one-partition topics, one topic
    // after the other, kept a start waiting on one partition at a time.
    const opened = await this.openEach(
      records.flatMap((record) => Array.from({ length: record.partitions }, (_, partition) => ({ record, partition }))),
      // Producer state comes back from the log itself (batch headers and markers).
      async (log) => loadProducerState(log, this.producerExpiry(), this.damageSkipped(log), this.compacts(log.topic)),
    );
    // Partitions whose history went past this start's epoch took higher ones: the next start goes past those.
    const highest = opened.reduce((max, o) => Math.max(max, o.log.latestLeaderEpoch), this.startEpoch);
    if (highest > this.startEpoch) await this.saveStartEpoch(highest);
    let at = 0;
    for (const record of records) {
      const parts = opened.slice(at, (at += record.partitions));
      const topic = new Topic(record, parts.map((p) => p.log), parts.map((p) => this.loaded(p.extra)));
      this.snapshotAtRolls(topic, 0);
      this.byName.set(record.name, topic);
      this.byId.set(record.topicId, topic);
    }
  }

  /** The leader epoch the previous start took, -1 for none (or a document that cannot be read, said once). */
  private async lastStartEpoch(): Promise<number> {
    const text = await this.storage.readState(LEADER_EPOCH_STATE);
    if (text === null) return -1;
    try {
      const epoch = (JSON.parse(text) as { leaderEpoch?: unknown }).leaderEpoch;
      if (typeof epoch === 'number' && Number.isInteger(epoch) && epoch >= 0) return epoch;
    } catch {
      // said below
    }
    this.log.warn({ state: LEADER_EPOCH_STATE }, 'unreadable record of the last leader epoch: partitions take the epoch after their own latest');
    return -1;
  }

  private saveStartEpoch(epoch: number): Promise<void> {
    return this.storage.writeState(LEADER_EPOCH_STATE, JSON.stringify({ version: 1, leaderEpoch: epoch }) + '\n');
  }

  /** Said loudly: producer state replayed past a damaged batch misses what the skipped stretch held. */
  private damageSkipped(log: PartitionLog): SkippedDamage {
    return (from, to, err) =>
      this.log.error({ topic: log.topic, partition: log.partition, from: String(from), resumedAt: to === null ? null : String(to), err },
        'damaged batch in the log: the producer-state replay skipped to the next segment (producers that wrote there may be refused as out of sequence)');
  }

  /** Whether a topic being loaded has cleanup.policy compact (its log cleaner may have removed markers). */
  private compacts(topic: string): boolean {
    const record = this.records.get(topic);
    return record !== undefined && policyCompacts(logConfigFor(record.configs, this.config).cleanupPolicy);
  }

  /** Producers idle for longer than producer.id.expiration.ms are not brought back from a snapshot. */
  private producerExpiry(): ProducerExpiry {
    return { now: BigInt(Date.now()), expirationMs: BigInt(this.config.number('producer.id.expiration.ms')) };
  }

  /** A partition's producer state as loaded; a snapshot that covers its whole log is not written again. */
  private loaded({ state, mark }: Awaited<ReturnType<typeof loadProducerState>>): ProducerStateManager {
    if (mark !== null) this.snapshotted.set(state, mark);
    return state;
  }

  /**
   * Opens (or creates) the partitions named several at a time, each followed by `then`: each new
   * one waits on a few fsyncs, and one after the other they kept a group's first join waiting
   * about a second for the 50 partitions of __consumer_offsets.
   */
  private async openEach<T>(jobs: { record: TopicRecord; partition: number }[], then: (log: PartitionLog) => Promise<T>): Promise<{ log: PartitionLog; extra: T }[]> {
    const configs = new Map<TopicRecord, LogConfig>();
    const out: { log: PartitionLog; extra: T }[] = new Array(jobs.length);
    let next = 0;
    let failed = false;
    const worker = async () => {
      // After a failure no more partitions are started, and the caller hears of it only once
      // every open in progress has ended (nothing is left opening behind its cleanup).
      for (let i = next++; i < jobs.length && !failed; i = next++) {
        const { record, partition } = jobs[i]!;
        let config = configs.get(record);
        if (config === undefined) configs.set(record, (config = logConfigFor(record.configs, this.config)));
        try {
          const log = await this.storage.openPartition(record, partition, config);
          // This broker becomes the partition's leader in this start's epoch, from the log end on
          // (leader-epoch-checkpoint). Each start is a change of leader, as in a KRaft cluster, so
          // a consumer whose position lies past what a crash left of the log finds it cut back
          // (KIP-320) instead of skipping the offsets written again.
          await log.assignLeaderEpoch(Math.max(this.startEpoch, log.latestLeaderEpoch + 1));
          out[i] = { log, extra: await then(log) };
        } catch (err) {
          failed = true;
          throw err;
        }
      }
    };
    const results = await Promise.allSettled(Array.from({ length: Math.min(OPEN_CONCURRENCY, jobs.length) }, worker));
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure) throw failure.reason;
    return out;
  }

  get(name: string): Topic | undefined {
    return this.byName.get(name);
  }

  getById(id: string): Topic | undefined {
    return this.byId.get(id);
  }

  all(): Topic[] {
    return [...this.byName.values()];
  }

  /** A topic that exists, or is being created, whose name collides with `name`. */
  collision(name: string): string | undefined {
    for (const other of [...this.byName.keys(), ...this.creating.keys()]) if (collides(name, other)) return other;
    return undefined;
  }

  isCreating(name: string): boolean {
    return this.creating.has(name);
  }

  /** Creates a topic (already validated by the caller); concurrent calls for one name share the result. */
  create(name: string, partitions: number, configs: Record<string, string>): Promise<Topic> {
    const existing = this.byName.get(name);
    if (existing) return Promise.resolve(existing);
    const inFlight = this.creating.get(name);
    if (inFlight) return inFlight;
    const p = (async () => {
      // The storage of a topic deleted under this name goes first: its logs are still open, under
      // the names the new partitions take.
      await this.deleting.get(name)?.catch(() => {});
      const record: TopicRecord = { name, topicId: randomUuid(), partitions, configs: { ...configs } };
      this.records.set(name, record);
      let partitionLogs: PartitionLog[];
      try {
        await this.persist();
        const jobs = Array.from({ length: partitions }, (_, partition) => ({ record, partition }));
        partitionLogs = (await this.openEach(jobs, async () => undefined)).map((o) => o.log);
      } catch (err) {
        this.records.delete(name);
        // The partitions that did open: closed and removed, so that a retry starts clean.
        await this.storage.deleteTopicData(record).catch((e: unknown) => this.log.warn({ err: e, topic: name }, 'could not remove a failed creation'));
        throw err;
      }
      const topic = new Topic(record, partitionLogs);
      this.snapshotAtRolls(topic, 0);
      this.byName.set(name, topic);
      this.byId.set(record.topicId, topic);
      this.log.info({ topic: name, topicId: record.topicId, partitions, configs }, 'topic created');
      return topic;
    })();
    this.creating.set(name, p);
    const done = () => this.creating.delete(name);
    p.then(done, done);
    return p;
  }

  /** Partition additions in progress, per topic, applied one after the other. */
  private readonly growing = new Map<Topic, Promise<void>>();

  /**
   * CreatePartitions, already validated against `topic.record.partitions` (which counts additions
   * in progress from the moment of this call): persists the new count in the topic table, then
   * opens the new partitions' logs and producer states. Clients see them from their next Metadata.
   */
  addPartitions(topic: Topic, count: number): Promise<void> {
    const record = topic.record;
    const from = record.partitions;
    if (!Number.isInteger(count) || count <= from) return Promise.reject(new RangeError(`topic ${topic.name} has ${from} partitions, cannot grow to ${count}`));
    record.partitions = count;
    const run = (this.growing.get(topic) ?? Promise.resolve()).catch(() => {}).then(async () => {
      if (this.byName.get(topic.name) !== topic) throw new Error(`topic ${topic.name} was deleted`);
      try {
        await this.persist();
      } catch (err) {
        if (record.partitions === count) record.partitions = from;
        throw err;
      }
      // From what is open: an earlier addition that failed leaves its partitions to this one.
      const opened = await this.openEach(
        Array.from({ length: count - topic.partitions.length }, (_, i) => ({ record, partition: topic.partitions.length + i })),
        async (log) => loadProducerState(log, this.producerExpiry(), this.damageSkipped(log)),
      );
      const first = topic.partitions.length;
      topic.partitions.push(...opened.map((o) => o.log));
      topic.producers.push(...opened.map((o) => this.loaded(o.extra)));
      this.snapshotAtRolls(topic, first);
      this.log.info({ topic: topic.name, from, to: count }, 'partitions added');
    });
    this.growing.set(topic, run);
    const done = () => {
      if (this.growing.get(topic) === run) this.growing.delete(topic);
    };
    run.then(done, done);
    return run;
  }

  /**
   * Replaces a topic's config overrides (already validated): written to the topic table, then
   * applied to every open partition log. The configs object is replaced, never changed in place,
   * so anything derived from it can tell when it is stale.
   */
  async updateConfigs(topic: Topic, configs: Record<string, string>): Promise<void> {
    const record = topic.record;
    const before = record.configs;
    const after = { ...configs };
    record.configs = after;
    try {
      await this.persist();
    } catch (err) {
      // Back to what the table on storage says: `before` may be an update whose write failed too.
      if (record.configs === after) record.configs = this.savedConfigs.get(record) ?? before;
      throw err;
    }
    if (record.configs !== after) return; // a later update won; it applies its own settings
    const logConfig = logConfigFor(after, this.config);
    for (const log of topic.partitions) log.setConfig(logConfig);
    this.log.info({ topic: topic.name, configs: after }, 'topic configs changed');
  }

  /** Calls `listener` each time a topic is deleted; returns the unsubscribe function. */
  onDelete(listener: (topic: Topic) => void): () => void {
    this.deletionListeners.add(listener);
    return () => this.deletionListeners.delete(listener);
  }

  /** Whether `topic` is still the registered topic of its name (not deleted, not replaced). */
  isCurrent(topic: Topic): boolean {
    return this.byName.get(topic.name) === topic;
  }

  async delete(topic: Topic): Promise<void> {
    this.byName.delete(topic.name);
    this.byId.delete(topic.id);
    this.records.delete(topic.name);
    for (const listener of [...this.deletionListeners]) listener(topic);
    const removal = this.persist().then(() => this.storage.deleteTopicData(topic.record));
    this.deleting.set(topic.name, removal);
    try {
      await removal;
    } finally {
      if (this.deleting.get(topic.name) === removal) this.deleting.delete(topic.name);
    }
    this.log.info({ topic: topic.name, topicId: topic.id }, 'topic deleted');
  }

  /** Snapshots every partition's producer state that changed or whose log grew (on a timer, and before shutdown), a few partitions at a time. */
  async snapshotProducers(): Promise<void> {
    const pending = this.all().flatMap((topic) => topic.partitions.map((_, i) => ({ topic, i })));
    const worker = async (): Promise<void> => {
      for (let next = pending.pop(); next !== undefined; next = pending.pop()) await this.snapshotPartition(next.topic, next.i);
    };
    await Promise.all(Array.from({ length: 8 }, worker));
  }

  /**
   * As Kafka's UnifiedLog.roll: a partition's producer state is snapshotted when its log starts a
   * new segment, so a start after a crash replays at most the segments since the last roll (the
   * periodic snapshot alone left that to chance under a steady load).
   */
  private snapshotAtRolls(topic: Topic, from: number): void {
    for (let i = from; i < topic.partitions.length; i++) topic.partitions[i]!.onRoll(() => void this.snapshotPartition(topic, i));
  }

  /** Snapshots one partition's producer state now (after a roll, or a change the next start must not miss). */
  snapshotPartition(topic: Topic, i: number): Promise<void> {
    const log = topic.partitions[i]!;
    const state = topic.producers[i]!;
    const run = (this.snapshotting.get(state) ?? Promise.resolve()).then(async () => {
      try {
        this.snapshotted.set(state, await snapshotProducerState(log, state, this.snapshotted.get(state) ?? { changes: 0, offset: 0n }));
      } catch (err) {
        this.log.warn({ err, topic: topic.name, partition: i }, 'could not snapshot producer state');
      }
    });
    this.snapshotting.set(state, run);
    return run;
  }

  private persist(): Promise<void> {
    // Calls made while a write waits for its turn share it: it saves the table as it is when it
    // starts. (One write per call rewrote the whole table once per topic of a CreateTopics.)
    if (this.nextSave === null) {
      const save = this.saving.then(async () => {
        this.nextSave = null;
        const records = [...this.records.values()];
        const configs = records.map((r) => r.configs);
        await this.storage.saveTopics(records);
        records.forEach((r, i) => this.savedConfigs.set(r, configs[i]!));
      });
      this.nextSave = save;
      this.saving = save.catch(() => {});
    }
    return this.nextSave;
  }
}
