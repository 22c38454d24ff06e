/** A running broker: configuration, storage, topics, the TCP server and background work. */
import { setMaxListeners } from 'node:events';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { onNativeLibraryMissing } from '../protocol/records/native.js';
import { apiVersionsHandler } from './api/api-versions.js';
import type { ApiHandler, BrokerState } from './api/context.js';
import { FetchSessionCache } from './api/fetch-sessions.js';
import { createTopicsHandler } from './api/create-topics.js';
import { deleteTopicsHandler } from './api/delete-topics.js';
import { Dispatcher } from './api/dispatcher.js';
import { fetchHandler } from './api/fetch.js';
import { listOffsetsHandler } from './api/list-offsets.js';
import { metadataHandler } from './api/metadata.js';
import { produceHandler } from './api/produce.js';
import { type Topic, TopicRegistry } from './cluster/topics.js';
import { groupHandlers } from './api/groups.js';
import { offsetHandlers } from './api/offsets.js';
import { GroupCoordinator } from './coordinator/groups/group-coordinator.js';
import { OffsetsTopicStore } from './coordinator/groups/group-store.js';
import { OffsetManager } from './coordinator/groups/offset-manager.js';
import { OFFSETS_TOPIC, partitionFor } from './coordinator/groups/offsets-topic.js';
import { PartitionMarkerWriter } from './coordinator/txn/markers.js';
import { ProducerIdBlocks, type ProducerIdPersistence } from './coordinator/txn/producer-ids.js';
import { TransactionCoordinator } from './coordinator/txn/transaction-coordinator.js';
import { TransactionTopicStore } from './coordinator/txn/transaction-log.js';
import { transactionHandlers } from './api/transactions.js';
import { clusterAdminHandlers } from './api/cluster-admin.js';
import { saslHandlers } from './api/sasl.js';
import { ClientQuotas } from './quotas/quota-manager.js';
import { configHandlers } from './api/configs.js';
import { ClientMetricsSubscriptions } from './cluster/client-metrics.js';
import { DynamicBrokerConfigs, applyLogConfigs } from './cluster/dynamic-configs.js';
import { brokerConfigDef, invalidConnectionLimits, invalidStaticConfigs, likelyBrokerConfig } from './cluster/broker-configs.js';
import { invalidLogDefaults, logConfigFor } from './cluster/topic-configs.js';
import { BrokerConfig, ConfigError, type Endpoint, MAX_TIMER_MS, formatListeners } from './config.js';
import { silentLogger, type Logger } from './logger.js';
import { ConnectionLimits } from './server/connection-limits.js';
import { KafkaServer } from './server/server.js';
import { DiskStorage } from './storage/disk/disk-storage.js';
import { MemoryStorage } from './storage/memory/memory-storage.js';
import { type Storage, policyCompacts } from './storage/storage.js';

/** Samsa's version, from the package.json above this module (wherever the build put it). */
export const VERSION: string = packageVersion();

function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'samsa' && pkg.version) return pkg.version;
    } catch {
      // not here: look one level up
    }
    const up = dirname(dir);
    if (up === dir) return 'unknown';
    dir = up;
  }
}

function createStorage(config: BrokerConfig, log: Logger): Storage {
  // The cleaner keeps an emptied batch of a producer not yet expired (Kafka's ProducerStateManager rule).
  const producerIdExpirationMs = config.number('producer.id.expiration.ms');
  if (config.storage === 'memory') return new MemoryStorage({ producerIdExpirationMs });
  const dirs = config.logDirs;
  if (dirs.length > 1) log.warn({ used: config.dataDir, ignored: dirs.slice(1) }, 'log.dirs names several directories: Samsa keeps everything in the first');
  return new DiskStorage({ dataDir: config.dataDir, nodeId: config.nodeId, logger: log, directWrites: config.bool('samsa.log.direct.writes'), producerIdExpirationMs });
}

/** What a native library that cannot be loaded costs, and how to get it back. */
function nativeLibraryMissing(library: string): string {
  const consequence = library === '@node-rs/crc32'
    ? 'CRC-32C is computed in JavaScript instead (slower for large batches)'
    : `batches compressed with the codec it provides are refused with UNSUPPORTED_COMPRESSION_TYPE`;
  return `${library} could not be loaded: ${consequence}. Its native part was not installed (scripts skipped, or no prebuilt binary and no compiler): run "npm rebuild ${library}"`;
}

export class Broker implements BrokerState {
  readonly topics: TopicRegistry;
  readonly groups: GroupCoordinator;
  readonly offsets: OffsetManager;
  readonly offsetsTopic: OffsetsTopicStore;
  readonly transactions: TransactionCoordinator;
  readonly markers: PartitionMarkerWriter;
  readonly transactionTopic: TransactionTopicStore;
  readonly quotas: ClientQuotas;
  readonly fetchSessions: FetchSessionCache;
  readonly dynamicConfigs: DynamicBrokerConfigs;
  readonly clientMetrics: ClientMetricsSubscriptions;
  readonly nodeId: number;
  clusterId = '';
  /** The address clients of the first listener are told to use (the bound port when the configured one was 0). */
  advertised: Endpoint;
  /** The address the first listener bound. */
  bound: Endpoint = { host: '', port: 0 };
  /** Every client listener once bound: its name, the address bound, and the one its clients are told to use. */
  listening: { name: string; bound: Endpoint; advertised: Endpoint }[] = [];
  shuttingDown = false;
  private readonly shutdown = new AbortController();
  readonly shutdownSignal = this.shutdown.signal;
  private readonly storage: Storage;
  private readonly server: KafkaServer;
  private retentionTimer: NodeJS.Timeout | undefined;
  private offsetExpiryTimer: NodeJS.Timeout | undefined;
  private readonly timers: NodeJS.Timeout[] = [];
  private stopping: Promise<void> | undefined;
  /** The start in progress or done: a stop() asked for meanwhile waits for it. */
  private starting: Promise<void> | undefined;
  private started = false;
  /** Settles once __transaction_state is read back (the producer-id floor counts its ids). */
  private transactionsLoaded: Promise<void> = Promise.resolve();
  private offsetsLoaded: Promise<void> = Promise.resolve();

  readonly log: Logger;
  /** Stops logging native libraries that fail to load. */
  private readonly nativeWatch: () => void;
  /** The storage held topics when the broker started (so it is not a new data directory). */
  private keptTopics = false;

  /** `log` defaults to a silent logger (plain JavaScript callers may leave it out). */
  constructor(
    readonly config: BrokerConfig,
    log?: Logger,
    storage?: Storage,
  ) {
    this.log = log ??= silentLogger();
    const invalid = invalidStaticConfigs(config.staticProps) ?? invalidLogDefaults(config) ?? invalidConnectionLimits(config);
    if (invalid) throw new ConfigError(invalid);
    this.nodeId = config.nodeId;
    this.advertised = config.advertised;
    // Every waiting fetch listens: thousands are normal, not a leak.
    setMaxListeners(0, this.shutdownSignal);
    this.storage = storage ?? createStorage(config, log);
    this.nativeWatch = onNativeLibraryMissing((library, err) => log.error({ library, err }, nativeLibraryMissing(library)));
    // Kafka warns of names it does not know; these are the names Samsa does not know (a typo, or a
    // Kafka setting with no meaning here such as zookeeper.connect), ignored either way.
    const unknown = Object.keys(config.staticProps).filter((name) => brokerConfigDef(name) === undefined);
    if (unknown.length > 0) {
      const named = unknown.map((name) => {
        const meant = likelyBrokerConfig(name);
        return meant === null ? name : `${name} (did you mean ${meant}?)`;
      });
      log.warn({ settings: unknown }, `settings Samsa does not know, ignored: ${named.join(', ')}`);
    }
    this.topics = new TopicRegistry(this.storage, config, log);
    this.fetchSessions = new FetchSessionCache(config.number('max.incremental.fetch.session.cache.slots'));
    this.offsetsTopic = new OffsetsTopicStore(this.topics, config);
    this.groups = new GroupCoordinator(
      {
        minSessionTimeoutMs: config.number('group.min.session.timeout.ms'),
        maxSessionTimeoutMs: config.number('group.max.session.timeout.ms'),
        initialRebalanceDelayMs: config.number('group.initial.rebalance.delay.ms'),
        maxGroupSize: config.number('group.max.size'),
      },
      this.offsetsTopic,
      log,
    );
    this.offsets = new OffsetManager(
      this.groups,
      this.offsetsTopic,
      { metadataMaxBytes: config.number('offset.metadata.max.bytes'), retentionMs: config.number('offsets.retention.minutes') * 60_000 },
      log,
    );
    this.transactionTopic = new TransactionTopicStore(this.topics, config);
    this.quotas = new ClientQuotas(
      this.storage,
      { samples: config.number('quota.window.num'), windowSeconds: config.number('quota.window.size.seconds') },
      Date.now,
      { samples: config.number('controller.quota.window.num'), windowSeconds: config.number('controller.quota.window.size.seconds') },
      log,
    );
    this.dynamicConfigs = new DynamicBrokerConfigs(config, this.storage, log, () => {
      applyLogConfigs(this.topics.all(), config);
      this.server.limitsChanged();
    });
    this.clientMetrics = new ClientMetricsSubscriptions(this.storage, log);
    this.markers = new PartitionMarkerWriter(
      this.topics,
      {
        onTransactionCompleted: (partition, producerId, commit) => {
          const n = this.topics.get(OFFSETS_TOPIC)?.partitions.length ?? 0;
          this.offsets.transactionCompleted((group) => partitionFor(group, n) === partition, producerId, commit);
        },
      },
      log,
    );
    this.transactions = new TransactionCoordinator(
      { maxTimeoutMs: config.number('transaction.max.timeout.ms'), expirationMs: config.number('transactional.id.expiration.ms') },
      this.transactionTopic,
      this.markers,
      new ProducerIdBlocks(this.producerIdPersistence()),
      log,
    );
    let dispatcher: Dispatcher | undefined;
    const handlers: ApiHandler[] = [
      produceHandler, fetchHandler, listOffsetsHandler, metadataHandler,
      apiVersionsHandler(() => dispatcher!.apis), createTopicsHandler, deleteTopicsHandler,
      ...groupHandlers, ...offsetHandlers, ...transactionHandlers, ...configHandlers, ...clusterAdminHandlers, ...saslHandlers,
    ];
    dispatcher = new Dispatcher(this, handlers);
    this.server = new KafkaServer(
      dispatcher,
      {
        maxRequestSize: config.number('socket.request.max.bytes'),
        // Kafka's NO_IDLE_TIMEOUT_MS: a negative value turns idle closing off.
        idleTimeoutMs: config.number('connections.max.idle.ms') < 0 ? null : config.delayMs('connections.max.idle.ms'),
        maxUnsentBytes: 16 * 1024 * 1024,
      },
      new ConnectionLimits(
        () => ({
          maxConnections: this.config.number('max.connections'),
          maxConnectionsPerIp: this.config.number('max.connections.per.ip'),
          perIpOverrides: this.config.get('max.connections.per.ip.overrides') ?? '',
          backlog: this.config.number('socket.listen.backlog.size'),
          maxConnectionCreationRate: this.config.number('max.connection.creation.rate'),
        }),
        (address) => this.quotas.connectionRate.throttleMs(address, this.quotas.now()),
        this.quotas.window,
        log,
      ),
      log,
    );
  }

  start(): Promise<void> {
    // Stopping ends this object's timers, coordinators and storage for good: a new Broker starts again.
    if (this.started) return Promise.reject(new Error(this.stopping ? 'a stopped broker cannot be started again: create a new Broker' : 'the broker is already started'));
    this.started = true;
    this.starting = this.open();
    return this.starting;
  }

  private async open(): Promise<void> {
    let state: Awaited<ReturnType<Storage['open']>>;
    try {
      state = await this.storage.open();
    } catch (e) {
      this.started = false; // nothing was opened: a later start() may try again
      throw e;
    }
    try {
      this.clusterId = state.clusterId;
      // Dynamic broker configs first: they are defaults of the partitions' log settings.
      await this.dynamicConfigs.load();
      await this.topics.load(state.topics);
      this.keptTopics = state.topics.length > 0;
      await this.quotas.load();
      await this.clientMetrics.load();
      for (const listener of this.config.listeners) {
        const bound = await this.server.listen(listener.name, listener.host, listener.port).catch((e: NodeJS.ErrnoException) => {
          // Node names the host alone ("getaddrinfo ENOTFOUND kafka"): a container's name, say, in a
          // server.properties copied from a Docker setup. Say which listener it is (the error stays a system error).
          if (e.syscall === 'getaddrinfo') e.message += `: the host of ${formatListeners([listener])} (listeners, where Samsa serves clients) cannot be resolved here`;
          throw e;
        });
        const advertised = this.config.advertisedFor(listener);
        this.listening.push({ name: listener.name, bound, advertised: advertised.port === 0 ? { host: advertised.host, port: bound.port } : advertised });
      }
    } catch (e) {
      // A failed start (a port in use, say) gives the listeners already bound and the data
      // directory back, so they can be opened again.
      await this.server.close(0);
      const closing = this.storage.close().catch(() => {});
      this.stopping ??= closing;
      await closing;
      throw e;
    }
    ({ bound: this.bound, advertised: this.advertised } = this.listening[0]!);
    // Groups and offsets load in the background; until then group APIs answer COORDINATOR_LOAD_IN_PROGRESS.
    this.offsetsLoaded = this.offsets.load().catch((err: unknown) => {
      this.log.error({ err }, 'could not load __consumer_offsets; starting with no groups');
      this.groups.loading = false;
    });
    this.offsetExpiryTimer = setInterval(() => void this.offsets.expireOffsets(), this.config.delayMs('offsets.retention.check.interval.ms'));
    this.offsetExpiryTimer.unref();
    this.transactionsLoaded = this.transactions.load().catch((err: unknown) => {
      this.log.error({ err }, 'could not load __transaction_state; starting with no transactions');
      this.transactions.loading = false;
    });
    this.every('transaction.abort.timed.out.transaction.cleanup.interval.ms', () => this.transactions.abortTimedOut());
    this.every('transaction.remove.expired.transaction.cleanup.interval.ms', () => void this.transactions.expire());
    this.every('producer.id.expiration.check.interval.ms', () => this.expireProducers());
    if (this.config.bool('log.cleaner.enable')) {
      // Kafka's cleaner thread looks for a log to clean as soon as it starts, then backs off
      // log.cleaner.backoff.ms whenever it finds none.
      const first = setTimeout(() => void this.compactLogs(), 0);
      first.unref();
      this.timers.push(first);
      this.every('log.cleaner.backoff.ms', () => void this.compactLogs());
    }
    this.every('samsa.producer.snapshot.interval.ms', () => void this.topics.snapshotProducers());
    // Kafka's LogManager: the first retention pass log.initial.task.delay.ms after start, then
    // one every log.retention.check.interval.ms.
    this.retentionTimer = setTimeout(() => {
      void this.enforceRetention();
      this.retentionTimer = setInterval(() => void this.enforceRetention(), this.config.delayMs('log.retention.check.interval.ms'));
      this.retentionTimer.unref();
    }, Math.min(this.config.number('log.initial.task.delay.ms'), MAX_TIMER_MS));
    this.retentionTimer.unref();
  }

  /**
   * Settles once groups, committed offsets and transactions are read back after start(); until then
   * their APIs answer COORDINATOR_LOAD_IN_PROGRESS, as Kafka's do while it loads them.
   */
  async coordinatorsLoaded(): Promise<void> {
    await this.starting;
    await Promise.all([this.offsetsLoaded, this.transactionsLoaded]);
  }

  private every(intervalConfig: string, task: () => unknown): void {
    const t = setInterval(task, this.config.delayMs(intervalConfig));
    t.unref();
    this.timers.push(t);
  }

  private compacting = false;

  /**
   * Cleaner passes over every compacted partition, never past an open transaction, each followed,
   * as in Kafka's cleaner thread, by the retention of those partitions (compact,delete by
   * retention.ms and retention.bytes, any of them below its log start offset). Like that thread,
   * which backs off only when it found nothing to clean, passes go on while one did some cleaning:
   * a storage cleaner call is bounded, and a round longer than that waiting log.cleaner.backoff.ms
   * between calls fell behind any partition written faster than a few MB/s.
   */
  async compactLogs(): Promise<void> {
    if (this.compacting) return;
    this.compacting = true;
    try {
      while ((await this.compactionPass()) && !this.shuttingDown);
    } finally {
      this.compacting = false;
    }
  }

  /** One pass; whether it cleaned anything. */
  private async compactionPass(): Promise<boolean> {
    let cleaned = false;
    const compacted = this.topics.all().filter((t) => this.compacts(t));
    for (const topic of compacted) {
      for (let i = 0; i < topic.partitions.length; i++) {
        const log = topic.partitions[i];
        try {
          const r = await log.compact(Date.now(), topic.producers[i].lastStableOffset(log));
          // Progress, so the loop ends: a call reads on in its round, or completes one (the
          // checkpoint moves past the round's end, so the next plan starts further on).
          if (r && (r.bytesRead > 0 || r.complete)) cleaned = true;
          if (r && r.abortMarkersRemoved.length > 0) {
            topic.producers[i].abortMarkersRemoved(r.abortMarkersRemoved);
            // At once, not at the next periodic snapshot: a start from the older one would report them again.
            await this.topics.snapshotPartition(topic, i);
          }
          if (r && r.bytesFreed > 0) this.log.info({ topic: topic.name, partition: i, freed: r.bytesFreed, retained: r.recordsRetained }, 'compacted');
        } catch (err) {
          this.log.error({ err, topic: topic.name, partition: i }, 'compaction failed');
        }
      }
    }
    await this.retainEach(compacted);
    return cleaned;
  }

  private compacts(topic: Topic): boolean {
    return policyCompacts(logConfigFor(topic.record.configs, this.config).cleanupPolicy);
  }

  /** Forgets idle producers without open transactions (producer.id.expiration.ms). */
  expireProducers(): void {
    const now = BigInt(Date.now());
    const expiration = BigInt(this.config.number('producer.id.expiration.ms'));
    for (const topic of this.topics.all()) for (const p of topic.producers) p.expire(now, expiration);
  }

  /**
   * Producer-id blocks are recorded through the storage engine, so ids are never reused after a
   * restart. A lost, damaged or outdated record must not hand an id out again: not one whose
   * sequences a partition remembers, nor one an earlier run handed to a producer that has not
   * written yet (and may still, with the same id). Numbering then starts above both: above every
   * id the partitions and transactions know, and at the wall clock in microseconds, past any id an
   * earlier run took from its blocks (they start at 0; one started so would have had to hand out
   * over a thousand ids a millisecond since).
   */
  private producerIdPersistence(): ProducerIdPersistence {
    return {
      load: async () => {
        let saved: bigint | null = null;
        let problem: string | null = null;
        try {
          const text = await this.storage.readState('producer-ids');
          if (text === null) problem = 'missing';
          else saved = BigInt((JSON.parse(text) as { nextProducerId: string }).nextProducerId);
        } catch (err) {
          problem = `unreadable (${(err as Error).message})`;
        }
        await this.transactionsLoaded;
        const known = this.highestKnownProducerId() + 1n;
        if (saved !== null && saved >= known) return saved;
        // Nothing recorded, no id in use and no topic kept: a new data directory (or memory storage).
        if (problem === 'missing' && known === 0n && !this.keptTopics) return 0n;
        const clock = BigInt(Date.now()) * 1000n;
        const next = known > clock ? known : clock;
        this.log.warn(
          { saved: saved === null ? null : String(saved), highestKnown: String(known - 1n), next: String(next) },
          `producer id record ${problem ?? 'behind the ids in use'}: numbering from ${next}, above every producer id an earlier run can have handed out`,
        );
        return next;
      },
      save: (next) => this.storage.writeState('producer-ids', JSON.stringify({ version: 1, nextProducerId: String(next) }) + '\n'),
    };
  }

  /** The highest producer id any partition's producer state or any transactional id holds; -1 when none. */
  private highestKnownProducerId(): bigint {
    let highest = -1n;
    for (const topic of this.topics.all()) {
      for (const state of topic.producers) if (state.highestProducerId > highest) highest = state.highestProducerId;
    }
    for (const txn of this.transactions.txns.values()) {
      for (const id of [txn.producerId, txn.lastProducerId]) if (id > highest) highest = id;
    }
    return highest;
  }

  /** The address clients of the listener named are told to use (the first such listener's, for an IPv4 and IPv6 pair). */
  advertisedOn(listener: string): Endpoint {
    return this.listening.find((l) => l.name === listener)?.advertised ?? this.advertised;
  }

  /** The open client connections and what each holds (for metrics and tests). */
  connections() {
    return this.server.connectionStats();
  }

  /**
   * One retention pass over every partition that is not compacted (also run on the timer): as in
   * Kafka's LogManager.cleanupLogs, compacted ones have theirs from the cleaner (compactLogs), and
   * none with log.cleaner.enable=false.
   */
  async enforceRetention(): Promise<void> {
    await this.retainEach(this.topics.all().filter((t) => !this.compacts(t)));
  }

  private async retainEach(topics: readonly Topic[]): Promise<void> {
    const now = Date.now();
    for (const topic of topics) {
      for (const log of topic.partitions) {
        try {
          const freed = await log.enforceRetention(now);
          topic.producers[log.partition]?.logStartMoved(log.logStartOffset);
          if (freed > 0) this.log.info({ topic: topic.name, partition: log.partition, freed, logStartOffset: String(log.logStartOffset) }, 'retention deleted old data');
        } catch (err) {
          this.log.error({ err, topic: topic.name, partition: log.partition }, 'retention failed');
        }
      }
    }
  }

  /** Graceful stop: stop accepting, finish in-flight requests, flush and close the storage. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      // Asked during start: stop what the start opens, once it has. A failed start closed it all.
      if (this.starting) {
        try {
          await this.starting;
        } catch {
          return;
        }
      }
      this.shuttingDown = true;
      this.shutdown.abort();
      clearInterval(this.retentionTimer);
      clearInterval(this.offsetExpiryTimer);
      for (const t of this.timers) clearInterval(t);
      // Joins and syncs waiting for other members are answered first: the server waits for every
      // request it has read, and they would hold it for its whole timeout.
      this.groups.close();
      await this.server.close();
      await this.topics.snapshotProducers();
      await this.storage.close();
      this.nativeWatch();
      this.log.info('broker stopped');
    })();
    return this.stopping;
  }
}
