/**
 * The disk engine: Kafka's log directory layout and file formats under one data directory.
 *
 *   <dataDir>/.lock                           the broker using the directory (dir-lock.ts)
 *   <dataDir>/meta.properties                 version=1, cluster.id, node.id (Kafka's format)
 *   <dataDir>/__samsa_topics.json             the topic table, replaced atomically
 *   <dataDir>/log-start-offset-checkpoint     Kafka's checkpoint format
 *   <dataDir>/cleaner-offset-checkpoint       first dirty offset of compacted partitions (same format)
 *   <dataDir>/recovery-point-offset-checkpoint  below which offset every segment is fsynced (recovery-points.ts)
 *   <dataDir>/.samsa_clean_shutdown           written by close(), removed by open()
 *   <dataDir>/<topic>-<partition>/partition.metadata
 *   <dataDir>/<topic>-<partition>/leader-epoch-checkpoint   Kafka's format: leader epochs and their start offsets
 *   <dataDir>/<topic>-<partition>/<20-digit base offset>.log | .index | .timeindex
 *
 * See partition-log.ts for appends and reads, recovery.ts for what happens at open.
 */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { randomUuid } from '../../../protocol/primitives/uuid.js';
import { CLUSTER_METADATA_TOPIC, StorageRefusedError, type LogConfig, type PartitionLog, type Storage, type StoredState, type TopicRecord } from '../storage.js';
import { CheckpointWriter, checkpointKey, readCheckpoint, type CheckpointEntry } from './checkpoint.js';
import { FileHandleCache } from './file-cache.js';
import { DirectWrites } from './direct-writer.js';
import { atomicWrite, fsyncDir, isSystemError, pathExists, readFileOrNull, readSmallFileOrNull, unlinkIfExists } from './fs-util.js';
import { silentLogger, type StorageLogger } from './logger.js';
import { loadOrCreateMetaProperties, type MetaProperties } from './meta-properties.js';
import { DEFAULT_PRODUCER_ID_EXPIRATION_MS } from '../compaction.js';
import {
  CLEANER_OFFSET_CHECKPOINT_FILE,
  CLEAN_SHUTDOWN_FILE,
  DELETE_DIR_SUFFIX,
  LOG_START_OFFSET_CHECKPOINT_FILE,
  META_PROPERTIES_FILE,
  PARTITION_METADATA_FILE,
  partitionDirName,
  isSetAsideDirName,
  parsePartitionDirName,
  setAsideDirName,
  STRAY_DIR_SUFFIX,
  TOPICS_FILE,
  stateFileName,
} from './names.js';
import { DiskPartitionLog, type PartitionServices } from './partition-log.js';
import { loadPartition } from './recovery.js';
import { RecoveryPoints } from './recovery-points.js';
import type { Segment } from './segment.js';
import { TailCacheBudget } from './tail-cache-budget.js';
import { lockDataDir } from './dir-lock.js';
import { refuseKafkaLogDir } from './kafka-log-dir.js';

/** Makes the name of a directory set aside unique: a random UUID in letters and digits only. */
const uniqueDirId = () => randomUuid().replace(/[^A-Za-z0-9]/g, '');

export interface DiskStorageOptions {
  dataDir: string;
  /** This broker's node id, recorded in (and checked against) meta.properties. */
  nodeId: number;
  logger?: StorageLogger;
  /** Written batches each partition keeps in memory for tail reads. Default 8 MiB. */
  tailCacheBytes?: number;
  /**
   * What the tail caches hold together at most: past it the partitions appended to least recently
   * give theirs back, down to 1 MiB each (or tailCacheBytes when smaller), then, if that is not
   * enough, entirely. Default 64 MiB.
   */
  tailCacheTotalBytes?: number;
  /**
   * Large appends go past the page cache (O_DIRECT) where the platform and filesystem allow,
   * instead of into pages the kernel must first allocate (direct-writer.ts). Default true.
   */
  directWrites?: boolean;
  /** Read descriptors kept open over all partitions. Default 256. */
  maxOpenReadFiles?: number;
  /** Memory for the loaded indexes of inactive segments, over all partitions. Default 64 MiB. */
  indexCacheBytes?: number;
  /** Wall clock in ms (tests). Default Date.now. */
  now?: () => number;
  /** Bytes one compact() call reads before it stops at the end of a segment group. Default 64 MiB. */
  cleanerBytesPerPass?: number;
  /** Memory for a cleaning round's key → offset map (Kafka's log.cleaner.dedupe.buffer.size). Default 32 MiB. */
  cleanerDedupeBufferBytes?: number;
  /** Producers idle longer no longer pin their last batch in compacted logs (producer.id.expiration.ms). Default 1 day. */
  producerIdExpirationMs?: number;
  /** Tests: called at each step of a cleaning; throwing `{ simulatedCrash: true }` stops it like a kill. */
  cleanerHook?: (stage: string) => void;
  /** Tests: awaited before a rolled segment is fsynced. */
  rolledSegmentSyncHook?: (partition: string) => Promise<void>;
}

interface OpenState {
  meta: MetaProperties;
  /** The previous run ended with close(). */
  clean: boolean;
  /** The topic table as the directory holds it. */
  topics: TopicRecord[];
}

interface OpenLog {
  topic: string;
  partition: number;
  log: Promise<DiskPartitionLog>;
}

interface TopicsFile {
  version: 1;
  topics: TopicRecord[];
}

export class DiskStorage implements Storage {
  readonly kind = 'disk';
  readonly dataDir: string;
  private readonly nodeId: number;
  private readonly logger: StorageLogger;
  private readonly files: FileHandleCache;
  private readonly services: PartitionServices;
  private readonly indexCacheBytes: number;
  private readonly indexLru = new Map<Segment, number>();
  private indexBytes = 0;
  private state: Promise<OpenState> | null = null;
  private readonly logs = new Map<string, OpenLog>();
  /** Partition directories opened (hence recovered) during this run. */
  private readonly recovered = new Set<string>();
  private checkpoint = new Map<string, CheckpointEntry>();
  private readonly checkpointWriter: CheckpointWriter;
  private cleanerCheckpoint = new Map<string, CheckpointEntry>();
  private readonly cleanerCheckpointWriter: CheckpointWriter;
  private readonly recoveryPoints: RecoveryPoints;
  private topicWrites: Promise<void> = Promise.resolve();
  private closed = false;
  /** Set when another broker took the data directory over: why nothing is written any more. */
  private lostTo: string | null = null;
  private lock: Awaited<ReturnType<typeof lockDataDir>> | null = null;

  constructor(options: DiskStorageOptions) {
    this.dataDir = options.dataDir;
    this.nodeId = options.nodeId;
    this.logger = options.logger ?? silentLogger;
    this.files = new FileHandleCache(options.maxOpenReadFiles ?? 256);
    this.indexCacheBytes = options.indexCacheBytes ?? 64 * 1024 * 1024;
    const now = options.now ?? Date.now;
    const tailCacheBytes = options.tailCacheBytes ?? 8 * 1024 * 1024;
    this.recoveryPoints = new RecoveryPoints(this.dataDir, this.logger);
    this.checkpointWriter = new CheckpointWriter(join(this.dataDir, LOG_START_OFFSET_CHECKPOINT_FILE), async () => {
      for (const log of await this.openLogs()) {
        this.checkpoint.set(checkpointKey(log.topic, log.partition), { topic: log.topic, partition: log.partition, offset: log.logStartOffset });
      }
      return this.checkpoint.values();
    });
    this.cleanerCheckpointWriter = new CheckpointWriter(join(this.dataDir, CLEANER_OFFSET_CHECKPOINT_FILE), () => this.cleanerCheckpoint.values());
    this.services = {
      logger: this.logger,
      files: this.files,
      tailCache: new TailCacheBudget(tailCacheBytes, Math.min(tailCacheBytes, 1024 * 1024), options.tailCacheTotalBytes ?? 64 * 1024 * 1024),
      now,
      directWrites: new DirectWrites(options.directWrites ?? true, {
        refused: (reason) => this.logger.info({ dataDir: this.dataDir, reason }, 'large appends are written through the page cache: direct writes are not possible here'),
        openFailed: (file, err) => this.logger.warn({ file, err }, 'could not open a segment for direct writes: it is written through the page cache'),
      }),
      logStartOffsetChanged: () => this.writeLogStartCheckpoint(),
      indexesUsed: (seg) => this.indexesUsed(seg),
      segmentGone: (seg) => this.forgetIndexes(seg),
      cleaner: {
        bytesPerPass: options.cleanerBytesPerPass ?? 64 * 1024 * 1024,
        dedupeBufferBytes: options.cleanerDedupeBufferBytes ?? 32 * 1024 * 1024,
        producerIdExpirationMs: options.producerIdExpirationMs ?? DEFAULT_PRODUCER_ID_EXPIRATION_MS,
      },
      cleanerCheckpoint: (topic, partition) => this.cleanerCheckpoint.get(checkpointKey(topic, partition))?.offset,
      cleanerCheckpointChanged: (topic, partition, offset) => this.writeCleanerCheckpoint(topic, partition, offset),
      cleanerHook: options.cleanerHook,
      recoveryPoints: this.recoveryPoints,
      rolledSegmentSyncHook: options.rolledSegmentSyncHook,
    };
  }

  /** Whether the previous run shut down cleanly (known after open()). */
  async wasCleanShutdown(): Promise<boolean> {
    return (await this.init()).clean;
  }

  async open(): Promise<StoredState> {
    const { meta, topics } = await this.init();
    return { clusterId: meta.clusterId, topics: topics.map((t) => ({ ...t, configs: { ...t.configs } })) };
  }

  /**
   * The topic table. One that cannot be read refuses the start, naming the file: a guess would
   * set the partitions of the topics it lost aside, or make topics anew under other ids.
   */
  private async readTopics(): Promise<TopicRecord[]> {
    const path = join(this.dataDir, TOPICS_FILE);
    const data = await readFileOrNull(path);
    if (data === null) return [];
    const refuse = (why: string) => new StorageRefusedError(`${path} is damaged (${why}): restore it from a backup; the partition directories keep the data, each with its topic id in partition.metadata`);
    let parsed: TopicsFile;
    try {
      parsed = JSON.parse(data.toString('utf8')) as TopicsFile;
    } catch (e) {
      throw refuse((e as Error).message);
    }
    if (parsed === null || typeof parsed !== 'object' || parsed.version !== 1 || !Array.isArray(parsed.topics)) throw refuse('not a version 1 topic table');
    return parsed.topics.map((t, i) => {
      const ok =
        t !== null && typeof t === 'object' && typeof t.name === 'string' && t.name.length > 0 && typeof t.topicId === 'string' && /^[A-Za-z0-9_-]{22}$/.test(t.topicId) &&
        Number.isInteger(t.partitions) && t.partitions > 0 &&
        (t.configs === undefined || (t.configs !== null && typeof t.configs === 'object' && Object.values(t.configs).every((v) => typeof v === 'string')));
      if (!ok) throw refuse(`topic entry ${i} is malformed`);
      return { name: t.name, topicId: t.topicId, partitions: t.partitions, configs: { ...t.configs } };
    });
  }

  /**
   * Partition directories of no partition in `topics` (the table open() returned) are left by a
   * deletion a crash cut short (the table is saved first) or by a creation that never completed.
   * Their data stays, under a `-stray` name; a directory of a known partition under another topic
   * id is set aside when the partition opens.
   */
  async setAsideUnknownPartitions(topics: readonly TopicRecord[]): Promise<void> {
    await this.init();
    const partitions = new Map(topics.map((t) => [t.name, t.partitions]));
    let moved = 0;
    for (const entry of await fsp.readdir(this.dataDir, { withFileTypes: true })) {
      const dir = entry.isDirectory() ? parsePartitionDirName(entry.name) : null;
      if (dir === null) continue;
      const { topic, partition } = dir;
      if (partition < (partitions.get(topic) ?? 0) || topic === CLUSTER_METADATA_TOPIC) continue; // Kafka's KRaft log, in a Kafka log directory
      // Only what a partition log leaves: other directories a data directory may hold are not ours.
      if ((await readFileOrNull(join(this.dataDir, entry.name, PARTITION_METADATA_FILE))) === null) continue;
      const target = setAsideDirName(topic, partition, uniqueDirId(), STRAY_DIR_SUFFIX);
      this.logger.warn({ partition: entry.name, movedTo: target }, 'partition directory of no known topic partition: set aside');
      await fsp.rename(join(this.dataDir, entry.name), join(this.dataDir, target));
      const key = checkpointKey(topic, partition);
      this.checkpoint.delete(key);
      this.cleanerCheckpoint.delete(key);
      await this.recoveryPoints.forget(topic, partition);
      moved++;
    }
    if (moved === 0) return;
    await fsyncDir(this.dataDir);
    await this.writeLogStartCheckpoint();
    await this.writeCleanerCheckpoint();
  }

  private init(): Promise<OpenState> {
    this.state ??= this.doInit();
    return this.state;
  }

  /**
   * Another broker replaced this one's lock: two writers would corrupt the segments, so this one
   * stops writing (appends fail with KAFKA_STORAGE_ERROR, no partition opens) and says why.
   */
  private lockLost(): void {
    const reason = `another broker took over the data directory ${this.dataDir} (its .lock was replaced): this broker no longer writes to it`;
    this.logger.error({ dataDir: this.dataDir }, reason);
    this.lostTo = reason;
    this.recoveryPoints.stop();
    for (const { log } of this.logs.values()) void log.then((l) => l.refuseWrites(reason), () => undefined);
  }

  private async doInit(): Promise<OpenState> {
    await fsp.mkdir(this.dataDir, { recursive: true }).catch((e: NodeJS.ErrnoException) => {
      // Node's own text ("EEXIST: file already exists, mkdir …") reads as if the directory existed.
      if (e.code === 'EEXIST' || e.code === 'ENOTDIR') e.message = `the data directory ${this.dataDir} cannot be made: a file is in the way (${e.code})`;
      if (e.code === 'EACCES' || e.code === 'EPERM' || e.code === 'EROFS') e.message = `the data directory ${this.dataDir} cannot be made (${e.code}): fix the permissions of its parent or choose another directory`;
      throw e;
    });
    // Before the lock: Samsa's would replace a running Kafka broker's.
    await refuseKafkaLogDir(this.dataDir);
    this.lock = await lockDataDir(this.dataDir, () => this.lockLost()).catch((e: NodeJS.ErrnoException) => {
      // Node's own text names a scratch file of the lock, not the directory and what to do.
      if (e.code === 'EACCES' || e.code === 'EPERM' || e.code === 'EROFS') e.message = `the data directory ${this.dataDir} is not writable (${e.code}): fix its permissions or choose another directory`;
      throw e;
    });
    try {
      return await this.load();
    } catch (e) {
      await this.lock.release();
      throw e;
    }
  }

  private async load(): Promise<OpenState> {
    const fresh = (await readFileOrNull(join(this.dataDir, META_PROPERTIES_FILE))) === null;
    const meta = await loadOrCreateMetaProperties(this.dataDir, this.nodeId);
    const topics = await this.readTopics();
    if (fresh && (await readFileOrNull(join(this.dataDir, TOPICS_FILE))) !== null) {
      // Kafka refuses an unformatted directory; a dev broker formats it, but says so when it holds data.
      this.logger.warn({ dataDir: this.dataDir, clusterId: meta.clusterId }, `${META_PROPERTIES_FILE} was missing in a data directory holding topics: written anew with a new cluster id`);
    }
    const marker = join(this.dataDir, CLEAN_SHUTDOWN_FILE);
    const clean = (await readFileOrNull(marker)) !== null;
    if (clean) {
      await unlinkIfExists(marker);
      await fsyncDir(this.dataDir);
    } else if (!fresh) {
      this.logger.info({ dataDir: this.dataDir }, 'the last run did not stop cleanly: what it may not have written in full is checked, and a torn or damaged tail is cut off (each one logged)');
    }
    for (const entry of await fsp.readdir(this.dataDir, { withFileTypes: true })) {
      if (entry.isDirectory() && isSetAsideDirName(entry.name, DELETE_DIR_SUFFIX)) {
        await fsp.rm(join(this.dataDir, entry.name), { recursive: true, force: true });
      }
    }
    try {
      this.checkpoint = (await readCheckpoint(join(this.dataDir, LOG_START_OFFSET_CHECKPOINT_FILE))) ?? new Map();
    } catch (e) {
      if (isSystemError(e)) throw e;
      this.logger.warn({ err: e }, 'ignoring an unreadable log-start-offset checkpoint');
    }
    try {
      this.cleanerCheckpoint = (await readCheckpoint(join(this.dataDir, CLEANER_OFFSET_CHECKPOINT_FILE))) ?? new Map();
    } catch (e) {
      if (isSystemError(e)) throw e;
      this.logger.warn({ err: e }, 'ignoring an unreadable cleaner-offset checkpoint: compacted logs are cleaned from their start');
    }
    await this.recoveryPoints.load();
    return { meta, clean, topics };
  }

  async readState(name: string): Promise<string | null> {
    const data = await readFileOrNull(join(this.dataDir, stateFileName(name)));
    return data === null ? null : data.toString('utf8');
  }

  writeState(name: string, text: string): Promise<void> {
    // Serialised with the topic table writes: both are small and must not interleave renames.
    const write = this.topicWrites.then(async () => {
      await this.init();
      await atomicWrite(join(this.dataDir, stateFileName(name)), text);
    });
    this.topicWrites = write.catch(() => {});
    return write;
  }

  saveTopics(topics: readonly TopicRecord[]): Promise<void> {
    const file: TopicsFile = { version: 1, topics: topics.map((t) => ({ ...t, configs: { ...t.configs } })) };
    const write = this.topicWrites.then(async () => {
      await this.init();
      await atomicWrite(join(this.dataDir, TOPICS_FILE), JSON.stringify(file, null, 2) + '\n');
    });
    this.topicWrites = write.catch(() => undefined);
    return write;
  }

  openPartition(topic: TopicRecord, partition: number, config: LogConfig): Promise<PartitionLog> {
    if (this.closed) return Promise.reject(new Error('storage is closed'));
    if (this.lostTo !== null) return Promise.reject(new Error(this.lostTo));
    const key = partitionDirName(topic.name, partition);
    const existing = this.logs.get(key);
    if (existing) {
      return existing.log.then((log) => {
        log.setConfig(config);
        return log;
      });
    }
    const log = this.openLog(topic, partition, config);
    this.logs.set(key, { topic: topic.name, partition, log });
    log.catch(() => {
      if (this.logs.get(key)?.log === log) this.logs.delete(key);
    });
    return log;
  }

  private async openLog(topic: TopicRecord, partition: number, config: LogConfig): Promise<DiskPartitionLog> {
    const { clean } = await this.init();
    const name = partitionDirName(topic.name, partition);
    const dir = join(this.dataDir, name);
    const metadataPath = join(dir, PARTITION_METADATA_FILE);
    const metadata = readSmallFileOrNull(metadataPath);
    let existed = metadata !== null || pathExists(dir);
    if (metadata !== null) {
      const id = /topic_id:\s*(\S+)/.exec(metadata.toString('utf8'))?.[1];
      // Which topic the data belongs to is unknown: Kafka takes such a log directory offline
      // rather than guess (its Uuid.fromString fails on an id that is not 16 bytes in base64).
      // Setting it aside would hide the data and hand its offsets out again.
      if (id === undefined || !/^[A-Za-z0-9_-]{22}$/.test(id)) {
        throw new StorageRefusedError(`${metadataPath} names no topic id (empty or damaged): restore it, or if the directory holds topic ${topic.name}'s data, write "version: 0" and "topic_id: ${topic.topicId}" on two lines into it`);
      }
      if (id !== topic.topicId) {
        // Left behind by a deleted topic of the same name: set it aside, as Kafka does with strays.
        const stray = join(this.dataDir, setAsideDirName(topic.name, partition, uniqueDirId(), STRAY_DIR_SUFFIX));
        this.logger.warn({ partition: name, found: id, expected: topic.topicId, movedTo: stray }, 'partition directory belongs to another topic id');
        await fsp.rename(dir, stray);
        existed = false;
      }
    }
    const ck = checkpointKey(topic.name, partition);
    if (!existed && this.cleanerCheckpoint.delete(ck)) await this.writeCleanerCheckpoint();
    const loaded = await loadPartition({
      dir,
      exists: existed,
      clean: clean || !existed,
      indexIntervalBytes: config.indexIntervalBytes,
      checkpointedLogStart: existed ? this.checkpoint.get(ck)?.offset : undefined,
      recoveryPoint: existed ? this.recoveryPoints.startOf(topic.name, partition) : undefined,
      logger: this.logger,
      now: this.services.now(),
      name,
    });
    let log: DiskPartitionLog;
    try {
      if (metadata === null || !existed) {
        await atomicWrite(metadataPath, `version: 0\ntopic_id: ${topic.topicId}\n`);
        if (!existed) await fsyncDir(this.dataDir);
      }
      log = new DiskPartitionLog(topic.name, partition, topic.topicId, dir, loaded.segments, loaded.logStartOffset, config, this.services);
      if (loaded.unsynced) log.markUnsynced();
      await log.loadLeaderEpochs();
    } catch (e) {
      // Out of descriptors, say: the ones the load opened are closed rather than left to the GC.
      await Promise.all(loaded.segments.map((seg) => seg.closeWriter()));
      throw e;
    }
    this.recovered.add(name);
    this.checkpoint.set(ck, { topic: topic.name, partition, offset: log.logStartOffset });
    this.recoveryPoints.opened(topic.name, partition, log.activeSegmentBaseOffset, existed);
    if (existed) {
      // Recovery logs what it cuts (a direct write's zero padding is not news); a line for each of
      // thousands of partitions would drown that.
      this.logger.debug?.({ partition: name, segments: loaded.segments.length, logStartOffset: String(log.logStartOffset), logEndOffset: String(log.logEndOffset), truncatedBytes: loaded.truncatedBytes }, 'loaded partition');
    }
    return log;
  }

  async deleteTopicData(topic: TopicRecord): Promise<void> {
    await this.init();
    const ofTopic = (name: string) => parsePartitionDirName(name)?.topic === topic.name;
    for (const [key, open] of [...this.logs]) {
      if (open.topic !== topic.name) continue;
      this.logs.delete(key);
      const log = await open.log.catch(() => null);
      if (log) {
        log.markDeleted();
        await log.close();
      }
    }
    const doomed: string[] = [];
    for (const entry of await fsp.readdir(this.dataDir, { withFileTypes: true })) {
      const dir = entry.isDirectory() ? parsePartitionDirName(entry.name) : null;
      if (dir === null || dir.topic !== topic.name) continue;
      const target = setAsideDirName(topic.name, dir.partition, uniqueDirId(), DELETE_DIR_SUFFIX);
      await fsp.rename(join(this.dataDir, entry.name), join(this.dataDir, target));
      doomed.push(target);
    }
    await fsyncDir(this.dataDir);
    for (const name of doomed) await fsp.rm(join(this.dataDir, name), { recursive: true, force: true });
    for (const name of this.recovered) if (ofTopic(name)) this.recovered.delete(name);
    let changed = false;
    for (const [key, e] of [...this.checkpoint]) {
      if (e.topic === topic.name) {
        this.checkpoint.delete(key);
        changed = true;
      }
    }
    if (changed) await this.writeLogStartCheckpoint();
    let cleanerChanged = false;
    for (const [key, e] of [...this.cleanerCheckpoint]) {
      if (e.topic === topic.name) {
        this.cleanerCheckpoint.delete(key);
        cleanerChanged = true;
      }
    }
    if (cleanerChanged) await this.writeCleanerCheckpoint();
    await this.recoveryPoints.forget(topic.name);
  }

  async flush(): Promise<void> {
    const logs = await this.openLogs();
    await eachAtMost(LOGS_SYNCED_AT_ONCE, logs, (log) => log.flush());
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.state === null) return;
    await this.init();
    const logs = await this.openLogs();
    const results = await eachAtMost(LOGS_SYNCED_AT_ONCE, logs, (log) => log.close());
    if (this.lostTo !== null) {
      // The directory is another broker's now: no checkpoint, no marker, and its lock stays.
      this.logs.clear();
      await this.files.closeAll();
      this.lock?.forget();
      return;
    }
    let clean = results.every((ok) => ok);
    try {
      await this.writeLogStartCheckpoint();
    } catch (e) {
      clean = false;
      this.logger.error({ err: e }, 'could not write the log start offset checkpoint');
    }
    try {
      await this.recoveryPoints.closed(logs.filter((l) => l.failed === null));
    } catch (e) {
      // The marker makes the next start trust the segments anyway; without it recovery checks more.
      this.logger.error({ err: e }, 'could not write the recovery point checkpoint');
    }
    this.logs.clear();
    await this.files.closeAll();
    if (clean && !(await this.init()).clean) {
      // After an unclean start, a partition never opened in this run was never recovered: leave
      // the marker out so that the next start recovers it.
      const unrecovered = await this.unrecoveredPartitionDirs();
      if (unrecovered.length > 0) {
        clean = false;
        this.logger.info({ partitions: unrecovered.slice(0, 10), count: unrecovered.length }, 'partitions not recovered in this run: next start recovers');
      }
    }
    if (clean) {
      await atomicWrite(join(this.dataDir, CLEAN_SHUTDOWN_FILE), JSON.stringify({ version: 0, time: this.services.now() }) + '\n');
    } else {
      this.logger.warn({ dataDir: this.dataDir }, 'a partition failed: not marking the shutdown clean, recovery runs at next start');
    }
    await this.lock?.release();
  }

  /**
   * Tests: behave like a killed process. Waits for writes in flight, then drops every descriptor
   * and timer without sealing indexes, fsyncing, checkpointing or writing the clean-shutdown marker.
   */
  async simulateCrash(): Promise<void> {
    this.closed = true;
    this.recoveryPoints.stop();
    const logs = await this.openLogs();
    for (const log of logs) await log.abandon();
    this.logs.clear();
    await this.files.closeAll();
    this.lock?.forget();
  }

  private async unrecoveredPartitionDirs(): Promise<string[]> {
    const out: string[] = [];
    for (const e of await fsp.readdir(this.dataDir, { withFileTypes: true })) {
      if (e.isDirectory() && /^.+-\d+$/.test(e.name) && !this.recovered.has(e.name)) out.push(e.name);
    }
    return out;
  }

  /** Open read descriptors (tests, metrics). */
  get openReadFiles(): number {
    return this.files.openCount;
  }

  private async openLogs(): Promise<DiskPartitionLog[]> {
    const settled = await Promise.allSettled([...this.logs.values()].map((o) => o.log));
    return settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  }

  /** Rewrites log-start-offset-checkpoint with the current start of every open log (others kept). */
  private writeLogStartCheckpoint(): Promise<void> {
    return this.checkpointWriter.write();
  }

  /** Sets (when given) one partition's first dirty offset and rewrites cleaner-offset-checkpoint. */
  private writeCleanerCheckpoint(topic?: string, partition?: number, offset?: bigint): Promise<void> {
    if (topic !== undefined && partition !== undefined && offset !== undefined) {
      this.cleanerCheckpoint.set(checkpointKey(topic, partition), { topic, partition, offset });
    }
    return this.cleanerCheckpointWriter.write();
  }

  private indexesUsed(seg: Segment): void {
    const known = this.indexLru.get(seg);
    if (known !== undefined) {
      this.indexLru.delete(seg);
      this.indexLru.set(seg, known);
      return;
    }
    const bytes = (seg.offsetIndex?.memoryBytes ?? 0) + (seg.timeIndex?.memoryBytes ?? 0);
    this.indexLru.set(seg, bytes);
    this.indexBytes += bytes;
    for (const [old, size] of this.indexLru) {
      if (this.indexBytes <= this.indexCacheBytes) break;
      if (old === seg) continue;
      this.indexLru.delete(old);
      this.indexBytes -= size;
      old.unloadIndexes();
    }
  }

  private forgetIndexes(seg: Segment): void {
    const size = this.indexLru.get(seg);
    if (size === undefined) return;
    this.indexLru.delete(seg);
    this.indexBytes -= size;
  }
}

/**
 * Logs flushed or closed at the same time. An fsync of a partition not written since start opens
 * its three files: all of them at once ran out of descriptors with thousands of partitions (after a
 * crash recovery every partition owes one), failing partitions and so the clean shutdown.
 */
const LOGS_SYNCED_AT_ONCE = 32;

/** `fn` over every item, at most `limit` at a time; results in order. */
async function eachAtMost<T, R>(limit: number, items: readonly T[], fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < items.length; i = next++) results[i] = await fn(items[i]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
