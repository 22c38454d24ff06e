/**
 * What the coordinators' own topics (__consumer_offsets, __transaction_state) have in common:
 * created on first use with their settings, keyed records written to the partition of their key
 * (Kafka's partitionFor), and everything read back at start in log order.
 */
import {
  ControlRecordType, buildRecordBatch, isControl, isTransactional, iterateBatches, readAttributes, readControlRecord, readLastOffsetDelta, readProducerId, readRecordCount, readRecords,
} from '../../protocol/records/index.js';
import type { Topic, TopicRegistry } from '../cluster/topics.js';
import { partitionFor } from './groups/offsets-topic.js';

/** What reading an internal topic back finds, in log order. */
export type StoredEvent =
  | { kind: 'record'; key: Buffer; value: Buffer | null; producerId: bigint | null }
  | { kind: 'marker'; producerId: bigint; commit: boolean };

/** A transactional write: the producer whose transaction the records belong to. */
export interface TxnWriter {
  producerId: bigint;
  producerEpoch: number;
}

/** A transactional write refused by the partition's producer state (a fenced epoch, say). */
export class TxnWriteError extends Error {
  constructor(
    readonly errorCode: number,
    message: string,
  ) {
    super(message);
  }
}

const READ_CHUNK = 1024 * 1024;

export class InternalTopic {
  private creating: Promise<Topic> | null = null;

  constructor(
    private readonly topics: TopicRegistry,
    readonly name: string,
    private readonly settings: () => { partitions: number; configs: Record<string, string> },
  ) {}

  /** The topic, created when missing: at first use, and again after someone deleted it (Kafka re-creates it too). */
  ensure(): Promise<Topic> {
    const existing = this.topics.get(this.name);
    if (existing) return Promise.resolve(existing);
    if (!this.creating) {
      const { partitions, configs } = this.settings();
      const creating = this.topics.create(this.name, partitions, configs);
      this.creating = creating;
      const settled = () => {
        if (this.creating === creating) this.creating = null;
      };
      creating.then(settled, settled);
    }
    return this.creating;
  }

  /** Appends keyed records to the partition of `key`, in a transaction when `txn` is given. */
  async append(key: string, records: { key: Buffer; value: Buffer | null }[], txn?: TxnWriter): Promise<void> {
    if (records.length === 0) return;
    const topic = await this.ensure();
    const p = partitionFor(key, topic.partitions.length);
    const log = topic.partitions[p];
    const now = BigInt(Date.now());
    const encoded = records.map((r) => ({ ...r, headers: [], timestamp: now }));
    if (!txn) {
      await log.append(buildRecordBatch({ baseOffset: 0n, records: encoded }), { leaderEpoch: topic.leaderEpoch(p) });
      return;
    }
    // The partition's producer state must know the transaction is open here, as for a client's write.
    const batch = buildRecordBatch({ baseOffset: 0n, records: encoded, producerId: txn.producerId, producerEpoch: txn.producerEpoch, baseSequence: 0, transactional: true });
    const info = { producerId: txn.producerId, epoch: txn.producerEpoch, baseSequence: 0, offsetDelta: encoded.length - 1, maxTimestamp: now, transactional: true };
    const verdict = topic.producers[p].check(info, 'coordinator');
    if (verdict.kind === 'error') throw new TxnWriteError(verdict.errorCode, verdict.message);
    topic.producers[p].appended(info, log.logEndOffset);
    await log.append(batch, { leaderEpoch: topic.leaderEpoch(p) });
  }

  /** Everything stored, partition by partition, in log order. */
  async *load(): AsyncIterable<StoredEvent> {
    const topic = this.topics.get(this.name);
    if (!topic) return;
    for (const log of topic.partitions) {
      let offset = log.logStartOffset;
      const end = log.highWatermark;
      while (offset < end) {
        const { records } = await log.read(offset, READ_CHUNK, { maxOffset: end, minOneBatch: true });
        if (records.length === 0) break;
        const before = offset;
        for (const b of iterateBatches(records)) {
          if (b.magic !== 2) continue;
          const attributes = readAttributes(b.buf);
          const producerId = isTransactional(attributes) ? readProducerId(b.buf) : null;
          if (isControl(attributes)) {
            // A marker the log cleaner emptied (a bare header) ends nothing any more (Kafka's loaders skip it).
            if (readRecordCount(b.buf) > 0) {
              const info = readControlRecord(b.buf);
              if (info.offset >= offset && producerId !== null && info.marker) yield { kind: 'marker', producerId, commit: info.type === ControlRecordType.COMMIT };
            }
            offset = b.baseOffset + BigInt(readLastOffsetDelta(b.buf)) + 1n;
            continue;
          }
          for (const r of readRecords(b.buf)) {
            if (r.offset < offset) continue;
            offset = r.offset + 1n;
            if (r.key !== null) yield { kind: 'record', key: r.key, value: r.value, producerId };
          }
        }
        if (offset === before) break; // nothing whole could be read: stop rather than spin
      }
    }
  }
}
