/**
 * The memory engine: every partition is a BatchArena. For tests and embedding; nothing survives
 * the process. Offsets, retention and reads behave as on disk, at batch rather than segment grain.
 */
import { randomUuid } from '../../../protocol/primitives/uuid.js';
import {
  readLastOffsetDelta,
  setBaseOffset,
  setLogAppendTime,
  setPartitionLeaderEpoch,
} from '../../../protocol/records/index.js';
import { BatchArena } from '../batch-arena.js';
import type { AppendOptions, AppendResult, LogConfig, PartitionLog, ReadOptions, ReadResult, Storage, StoredState, TopicRecord } from '../storage.js';

export class MemoryPartitionLog implements PartitionLog {
  private readonly arena = new BatchArena();
  private nextOffset = 0n;
  private startOffset = 0n;
  private readonly listeners = new Set<() => void>();

  constructor(
    readonly topic: string,
    readonly partition: number,
    private config: LogConfig,
  ) {}

  get logStartOffset(): bigint {
    return this.startOffset;
  }

  get logEndOffset(): bigint {
    return this.nextOffset;
  }

  get highWatermark(): bigint {
    return this.nextOffset;
  }

  get size(): number {
    return this.arena.bytes;
  }

  append(batch: Buffer, options: AppendOptions): Promise<AppendResult> {
    const baseOffset = this.nextOffset;
    setBaseOffset(batch, 0, baseOffset);
    setPartitionLeaderEpoch(batch, 0, options.leaderEpoch);
    if (options.logAppendTime !== undefined) setLogAppendTime(batch, options.logAppendTime);
    const lastOffset = baseOffset + BigInt(readLastOffsetDelta(batch));
    this.nextOffset = lastOffset + 1n;
    this.arena.add(batch);
    queueMicrotask(() => this.notify());
    return Promise.resolve({ baseOffset, lastOffset, logStartOffset: this.startOffset });
  }

  private notify(): void {
    for (const l of this.listeners) l();
  }

  read(offset: bigint, maxBytes: number, options: ReadOptions): Promise<ReadResult> {
    const i = this.arena.search(offset);
    return Promise.resolve({ records: this.arena.slice(i, maxBytes, options.maxOffset, options.minOneBatch) });
  }

  findBatchByTimestamp(timestamp: bigint): Promise<Buffer | null> {
    for (let i = 0; i < this.arena.count; i++) {
      const e = this.arena.at(i);
      if (e.maxTimestamp >= timestamp) return Promise.resolve(this.arena.view(e));
    }
    return Promise.resolve(null);
  }

  findMaxTimestampBatch(): Promise<Buffer | null> {
    let best = -1;
    for (let i = 0; i < this.arena.count; i++) {
      if (best < 0 || this.arena.at(i).maxTimestamp > this.arena.at(best).maxTimestamp) best = i;
    }
    return Promise.resolve(best < 0 ? null : this.arena.view(this.arena.at(best)));
  }

  onAppend(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  setConfig(config: LogConfig): void {
    this.config = config;
  }

  enforceRetention(now: number): Promise<number> {
    const before = this.arena.bytes;
    let drop = 0;
    if (this.config.retentionMs >= 0) {
      const horizon = BigInt(now - this.config.retentionMs);
      while (drop < this.arena.count && this.arena.at(drop).maxTimestamp < horizon) drop++;
    }
    if (this.config.retentionBytes >= 0) {
      let excess = this.arena.bytes - this.config.retentionBytes;
      for (let i = 0; i < drop; i++) excess -= this.arena.at(i).size;
      while (drop < this.arena.count && excess - this.arena.at(drop).size >= 0) {
        excess -= this.arena.at(drop).size;
        drop++;
      }
    }
    if (drop > 0) {
      this.arena.dropFront(drop);
      this.startOffset = this.arena.first?.baseOffset ?? this.nextOffset;
    }
    return Promise.resolve(before - this.arena.bytes);
  }
}

export class MemoryStorage implements Storage {
  readonly kind = 'memory';
  private topics: TopicRecord[] = [];
  private readonly clusterId = randomUuid();

  open(): Promise<StoredState> {
    return Promise.resolve({ clusterId: this.clusterId, topics: [...this.topics] });
  }

  saveTopics(topics: readonly TopicRecord[]): Promise<void> {
    this.topics = topics.map((t) => ({ ...t, configs: { ...t.configs } }));
    return Promise.resolve();
  }

  openPartition(topic: TopicRecord, partition: number, config: LogConfig): Promise<PartitionLog> {
    return Promise.resolve(new MemoryPartitionLog(topic.name, partition, config));
  }

  deleteTopicData(): Promise<void> {
    return Promise.resolve();
  }

  flush(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
