/**
 * Writes transaction markers into partitions, as a partition leader handles WriteTxnMarkers: the
 * producer state checks the marker, completes the transaction (last stable offset, aborted
 * transactions) and the control batch is appended. Markers in __consumer_offsets also settle the
 * group offsets committed in the transaction.
 */
import { ErrorCode } from '../../../protocol/error-codes.js';
import { buildControlBatch } from '../../../protocol/records/index.js';
import type { TopicRegistry } from '../../cluster/topics.js';
import type { Logger } from '../../logger.js';
import { storageFailureLevel } from '../../storage/storage.js';
import { OFFSETS_TOPIC } from '../groups/offsets-topic.js';
import type { MarkerWriter } from './transaction-coordinator.js';

export interface TxnCompletionListener {
  /** A marker was written to a partition of __consumer_offsets. */
  onTransactionCompleted(partition: number, producerId: bigint, commit: boolean): void;
}

export class PartitionMarkerWriter implements MarkerWriter {
  constructor(
    private readonly topics: TopicRegistry,
    private readonly groups: TxnCompletionListener,
    private readonly log: Logger,
  ) {}

  async writeMarker(topicName: string, partition: number, producerId: bigint, epoch: number, coordinatorEpoch: number, commit: boolean): Promise<number> {
    const topic = this.topics.get(topicName);
    const log = topic?.partitions[partition];
    if (!topic || !log) return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
    const producers = topic.producers[partition];
    const verdict = producers.checkMarker(producerId, epoch, coordinatorEpoch);
    if (verdict.kind === 'error') return verdict.errorCode;
    const timestamp = BigInt(Date.now());
    const batch = buildControlBatch({ type: commit ? 'COMMIT' : 'ABORT', producerId, producerEpoch: epoch, coordinatorEpoch, timestamp, baseOffset: 0n });
    producers.markerAppended(producerId, epoch, coordinatorEpoch, commit, log.logEndOffset, timestamp);
    try {
      await log.append(batch, { leaderEpoch: topic.leaderEpoch(partition) });
      producers.markersVisible(log.highWatermark);
    } catch (err) {
      this.log[storageFailureLevel(err)]({ err, topic: topicName, partition }, 'could not write a transaction marker');
      return ErrorCode.KAFKA_STORAGE_ERROR;
    }
    if (topicName === OFFSETS_TOPIC) this.groups.onTransactionCompleted(partition, producerId, commit);
    return ErrorCode.NONE;
  }
}
