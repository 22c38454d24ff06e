/**
 * __transaction_state, as Kafka writes it: key = int16 version 0 + TransactionLogKey,
 * value = int16 version 0 + TransactionLogValue; a null value removes the transactional id.
 */
import { TransactionLogKey, TransactionLogValue } from '../../../protocol/generated/index.js';
import type { TransactionLogValue as TxnValue } from '../../../protocol/generated/index.js';
import { Reader } from '../../../protocol/primitives/reader.js';
import { Writer } from '../../../protocol/primitives/writer.js';
import { buildRecordBatch, iterateBatches, isControl, readAttributes, readRecords } from '../../../protocol/records/index.js';
import type { BrokerConfig } from '../../config.js';
import type { Topic, TopicRegistry } from '../../cluster/topics.js';
import { partitionFor } from '../groups/offsets-topic.js';

export const TRANSACTION_TOPIC = '__transaction_state';

export type TxnRecord = { transactionalId: string; value: TxnValue | null };

export function encodeTxnRecord(r: TxnRecord): { key: Buffer; value: Buffer | null } {
  const k = new Writer();
  k.int16(0);
  TransactionLogKey.write(k, 0, { transactionalId: r.transactionalId });
  if (r.value === null) return { key: k.toBuffer(), value: null };
  const v = new Writer();
  v.int16(0);
  TransactionLogValue.write(v, 0, r.value);
  return { key: k.toBuffer(), value: v.toBuffer() };
}

export function decodeTxnRecord(key: Buffer, value: Buffer | null): TxnRecord | null {
  const kr = new Reader(key);
  const kv = kr.int16();
  if (kv !== 0) return null;
  const { transactionalId } = TransactionLogKey.read(kr, 0);
  if (value === null) return { transactionalId, value: null };
  const vr = new Reader(value);
  return { transactionalId, value: TransactionLogValue.decode(vr.int16(), vr) };
}

export interface TxnStore {
  append(transactionalId: string, record: TxnRecord): Promise<void>;
  load(): AsyncIterable<TxnRecord>;
}

export class TransactionTopicStore implements TxnStore {
  private topic: Promise<Topic> | null = null;

  constructor(
    private readonly topics: TopicRegistry,
    private readonly config: BrokerConfig,
  ) {}

  ensureTopic(): Promise<Topic> {
    const existing = this.topics.get(TRANSACTION_TOPIC);
    if (existing) return Promise.resolve(existing);
    this.topic ??= this.topics.create(TRANSACTION_TOPIC, this.config.number('transaction.state.log.num.partitions'), {
      'cleanup.policy': 'compact',
      'compression.type': 'uncompressed',
      'segment.bytes': String(this.config.number('transaction.state.log.segment.bytes')),
      'unclean.leader.election.enable': 'false',
    });
    return this.topic;
  }

  async append(transactionalId: string, record: TxnRecord): Promise<void> {
    const topic = await this.ensureTopic();
    const log = topic.partitions[partitionFor(transactionalId, topic.partitions.length)];
    const batch = buildRecordBatch({ baseOffset: 0n, records: [{ ...encodeTxnRecord(record), headers: [], timestamp: BigInt(Date.now()) }] });
    await log.append(batch, { leaderEpoch: topic.leaderEpoch });
  }

  async *load(): AsyncIterable<TxnRecord> {
    const topic = this.topics.get(TRANSACTION_TOPIC);
    if (!topic) return;
    for (const log of topic.partitions) {
      let offset = log.logStartOffset;
      const end = log.highWatermark;
      while (offset < end) {
        const { records } = await log.read(offset, 1 << 20, { maxOffset: end, minOneBatch: true });
        if (records.length === 0) break;
        const before = offset;
        for (const b of iterateBatches(records)) {
          if (b.magic !== 2 || isControl(readAttributes(b.buf))) {
            offset = b.baseOffset + 1n;
            continue;
          }
          for (const r of readRecords(b.buf)) {
            if (r.offset < offset) continue;
            offset = r.offset + 1n;
            if (r.key === null) continue;
            const rec = decodeTxnRecord(r.key, r.value);
            if (rec) yield rec;
          }
        }
        if (offset === before) break;
      }
    }
  }
}
