/**
 * The transaction coordinator (Kafka's TransactionCoordinator with TransactionStateManager):
 * transactional ids → producer id and epoch, the transaction state machine persisted to
 * __transaction_state, fencing, and the COMMIT/ABORT markers written to every partition of a
 * transaction. Markers are written before EndTxn is answered (Kafka answers first), so the last
 * stable offset is already up to date when the client hears back.
 */
import { ErrorCode } from '../../../protocol/error-codes.js';
import type { Logger } from '../../logger.js';
import { storageFailureLevel } from '../../storage/storage.js';
import type { TxnRecord, TxnStore } from './transaction-log.js';

export type TxnState = 'Empty' | 'Ongoing' | 'PrepareCommit' | 'PrepareAbort' | 'CompleteCommit' | 'CompleteAbort' | 'Dead' | 'PrepareEpochFence';

const STATE_IDS: Record<TxnState, number> = { Empty: 0, Ongoing: 1, PrepareCommit: 2, PrepareAbort: 3, CompleteCommit: 4, CompleteAbort: 5, Dead: 6, PrepareEpochFence: 7 };
const STATE_OF = Object.fromEntries(Object.entries(STATE_IDS).map(([k, v]) => [v, k])) as Record<number, TxnState>;
/** Short.MaxValue - 1: past this the producer id is replaced rather than the epoch bumped. */
const MAX_EPOCH = 32766;
/** One broker, one coordinator: its epoch never changes. */
export const COORDINATOR_EPOCH = 0;

export interface TxnMeta {
  transactionalId: string;
  producerId: bigint;
  lastProducerId: bigint;
  epoch: number;
  lastEpoch: number;
  timeoutMs: number;
  state: TxnState;
  /** "topic\0partition" */
  partitions: Set<string>;
  startTimestamp: number;
  lastUpdateTimestamp: number;
  /** A state change is being written. */
  pending: boolean;
}

export interface MarkerWriter {
  /** Appends a COMMIT or ABORT marker to a partition; resolves to a Kafka error code. */
  writeMarker(topic: string, partition: number, producerId: bigint, epoch: number, coordinatorEpoch: number, commit: boolean): Promise<number>;
}

export interface ProducerIdSource {
  next(): Promise<bigint>;
}

export interface TxnConfig {
  maxTimeoutMs: number;
  expirationMs: number;
}

/**
 * How a partition leader hears of a failed verification (Kafka's AddPartitionsToTxnManager):
 * producers expect INVALID_PRODUCER_EPOCH for a fenced epoch, and clients older than
 * TRANSACTION_ABORTABLE get INVALID_TXN_STATE. (Produce translates a few more: produce.ts.)
 */
export function verificationError(errorCode: number, keepsAbortable: boolean): number {
  switch (errorCode) {
    case ErrorCode.PRODUCER_FENCED:
      return ErrorCode.INVALID_PRODUCER_EPOCH;
    case ErrorCode.TRANSACTION_ABORTABLE:
      return keepsAbortable ? errorCode : ErrorCode.INVALID_TXN_STATE;
    default:
      return errorCode;
  }
}

export function partitionKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

function splitKey(key: string): { topic: string; partition: number } {
  const i = key.lastIndexOf('\u0000');
  return { topic: key.slice(0, i), partition: Number(key.slice(i + 1)) };
}

export interface InitResult {
  errorCode: number;
  producerId: bigint;
  producerEpoch: number;
}

export class TransactionCoordinator {
  readonly txns = new Map<string, TxnMeta>();
  loading = true;

  constructor(
    private readonly config: TxnConfig,
    private readonly store: TxnStore,
    private readonly markers: MarkerWriter,
    private readonly ids: ProducerIdSource,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  // ---- InitProducerId -------------------------------------------------------------------------

  async initProducerId(transactionalId: string | null, timeoutMs: number, expectedPid: bigint, expectedEpoch: number): Promise<InitResult> {
    const fail = (errorCode: number): InitResult => ({ errorCode, producerId: -1n, producerEpoch: -1 });
    if (transactionalId === null) {
      // Idempotent producers get a fresh id every time (KIP-360 bumps of theirs are done locally).
      return { errorCode: ErrorCode.NONE, producerId: await this.ids.next(), producerEpoch: 0 };
    }
    if (transactionalId === '') return fail(ErrorCode.INVALID_REQUEST);
    if (timeoutMs <= 0 || timeoutMs > this.config.maxTimeoutMs) return fail(ErrorCode.INVALID_TRANSACTION_TIMEOUT);
    if (this.loading) return fail(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
    let meta = this.txns.get(transactionalId);
    if (!meta) {
      const producerId = await this.ids.next();
      // Another InitProducerId for this id may have created it while the id was reserved: use
      // that one (Kafka's putTransactionStateIfNotExists), so the two are ordered and one fenced.
      meta = this.txns.get(transactionalId) ?? {
        transactionalId, producerId, lastProducerId: -1n, epoch: -1, lastEpoch: -1, timeoutMs, state: 'Empty',
        partitions: new Set(), startTimestamp: -1, lastUpdateTimestamp: this.now(), pending: false,
      };
      this.txns.set(transactionalId, meta);
    }
    if (meta.pending) return fail(ErrorCode.CONCURRENT_TRANSACTIONS);
    const expected = expectedPid >= 0n;
    if (expected && !(meta.epoch === -1 || expectedPid === meta.producerId || (expectedPid === meta.lastProducerId && expectedEpoch >= MAX_EPOCH))) {
      return fail(ErrorCode.PRODUCER_FENCED);
    }
    switch (meta.state) {
      case 'PrepareCommit':
      case 'PrepareAbort':
      case 'PrepareEpochFence':
        return fail(ErrorCode.CONCURRENT_TRANSACTIONS);
      case 'Ongoing':
        // A new incarnation of the producer: fence the old one and abort what it left open.
        this.fenceAndAbort(meta, 'a new producer with the same transactional id started');
        return fail(ErrorCode.CONCURRENT_TRANSACTIONS);
      default: {
        let producerId = meta.producerId;
        let epoch: number;
        let lastProducerId = meta.lastProducerId;
        let lastEpoch: number;
        if (meta.epoch >= MAX_EPOCH && (!expected || expectedEpoch === meta.epoch)) {
          lastProducerId = meta.producerId;
          lastEpoch = expected ? meta.epoch : -1;
          producerId = await this.ids.next();
          epoch = 0;
        } else if (!expected) {
          epoch = meta.epoch + 1;
          lastEpoch = -1;
        } else if (expectedEpoch === meta.epoch || meta.epoch === -1) {
          epoch = meta.epoch + 1;
          lastEpoch = meta.epoch;
        } else if (expectedEpoch === meta.lastEpoch) {
          // A retry of the bump just made (its answer was lost): the same epochs, recorded again as
          // Empty with this request's timeout (Kafka's prepareIncrementProducerEpoch).
          epoch = meta.epoch;
          lastEpoch = meta.lastEpoch;
        } else {
          return fail(ErrorCode.PRODUCER_FENCED);
        }
        const error = await this.transition(meta, { producerId, lastProducerId, epoch, lastEpoch, timeoutMs, state: 'Empty', partitions: new Set(), startTimestamp: -1 });
        if (error !== ErrorCode.NONE) return fail(error);
        return { errorCode: ErrorCode.NONE, producerId: meta.producerId, producerEpoch: meta.epoch };
      }
    }
  }

  // ---- AddPartitionsToTxn / AddOffsetsToTxn ---------------------------------------------------

  private validateProducer(transactionalId: string, producerId: bigint, epoch: number): { error: number; meta?: TxnMeta } {
    if (transactionalId === '') return { error: ErrorCode.INVALID_REQUEST };
    if (this.loading) return { error: ErrorCode.COORDINATOR_LOAD_IN_PROGRESS };
    const meta = this.txns.get(transactionalId);
    if (!meta || meta.producerId !== producerId) return { error: ErrorCode.INVALID_PRODUCER_ID_MAPPING };
    if (meta.epoch !== epoch) return { error: ErrorCode.PRODUCER_FENCED };
    if (meta.pending) return { error: ErrorCode.CONCURRENT_TRANSACTIONS };
    return { error: ErrorCode.NONE, meta };
  }

  /** Adds partitions to the producer's transaction (starting one if none is open). One error for all of them. */
  async addPartitions(transactionalId: string, producerId: bigint, epoch: number, partitions: { topic: string; partition: number }[]): Promise<number> {
    const { error, meta } = this.validateProducer(transactionalId, producerId, epoch);
    if (!meta) return error;
    if (meta.state === 'PrepareCommit' || meta.state === 'PrepareAbort' || meta.state === 'PrepareEpochFence') return ErrorCode.CONCURRENT_TRANSACTIONS;
    const keys = partitions.map((p) => partitionKey(p.topic, p.partition));
    if (meta.state === 'Ongoing' && keys.every((k) => meta.partitions.has(k))) return ErrorCode.NONE;
    const fresh = meta.state !== 'Ongoing';
    const union = new Set(fresh ? keys : [...meta.partitions, ...keys]);
    return this.transition(meta, { state: 'Ongoing', partitions: union, startTimestamp: fresh ? this.now() : meta.startTimestamp });
  }

  /**
   * KIP-890 verification (Kafka's handleVerifyPartitionsInTransaction): may this producer write
   * transactionally to this partition? NONE, or why not.
   */
  verify(transactionalId: string | null, producerId: bigint, epoch: number, topic: string, partition: number): number {
    if (transactionalId === null || transactionalId === '') return ErrorCode.INVALID_REQUEST;
    // Until __transaction_state is read back no id is known: retriable, not an unknown mapping.
    if (this.loading) return ErrorCode.COORDINATOR_LOAD_IN_PROGRESS;
    const meta = this.txns.get(transactionalId);
    if (!meta || meta.producerId !== producerId) return ErrorCode.INVALID_PRODUCER_ID_MAPPING;
    if (meta.epoch !== epoch) return ErrorCode.PRODUCER_FENCED;
    if (meta.state === 'PrepareCommit' || meta.state === 'PrepareAbort') return ErrorCode.CONCURRENT_TRANSACTIONS;
    return meta.state === 'Ongoing' && meta.partitions.has(partitionKey(topic, partition)) ? ErrorCode.NONE : ErrorCode.TRANSACTION_ABORTABLE;
  }

  // ---- EndTxn ---------------------------------------------------------------------------------

  async endTxn(transactionalId: string, producerId: bigint, epoch: number, commit: boolean): Promise<number> {
    const { error, meta } = this.validateProducer(transactionalId, producerId, epoch);
    if (!meta) return error;
    switch (meta.state) {
      case 'Ongoing':
        return this.complete(meta, commit);
      case 'CompleteCommit':
        return commit ? ErrorCode.NONE : ErrorCode.INVALID_TXN_STATE;
      case 'CompleteAbort':
        return commit ? ErrorCode.INVALID_TXN_STATE : ErrorCode.NONE;
      case 'PrepareCommit':
        return commit ? ErrorCode.CONCURRENT_TRANSACTIONS : ErrorCode.INVALID_TXN_STATE;
      case 'PrepareAbort':
        return commit ? ErrorCode.INVALID_TXN_STATE : ErrorCode.CONCURRENT_TRANSACTIONS;
      default:
        return ErrorCode.INVALID_TXN_STATE;
    }
  }

  /** PrepareCommit/PrepareAbort, the markers, then CompleteCommit/CompleteAbort. */
  private async complete(meta: TxnMeta, commit: boolean): Promise<number> {
    const prepared = await this.transition(meta, { state: commit ? 'PrepareCommit' : 'PrepareAbort' });
    if (prepared !== ErrorCode.NONE) return prepared;
    await this.writeMarkers(meta, commit);
    return ErrorCode.NONE;
  }

  /**
   * Writes the markers of a prepared transaction, retrying failed partitions, then records its
   * completion. No transition is pending meanwhile (as in Kafka, whose markers are sent from
   * PrepareCommit/PrepareAbort): every request is answered by that state, so an EndTxn asking the
   * other outcome gets INVALID_TXN_STATE and only a retry of the same one CONCURRENT_TRANSACTIONS.
   */
  private async writeMarkers(meta: TxnMeta, commit: boolean): Promise<void> {
    for (let attempt = 0; meta.partitions.size > 0; attempt++) {
      for (const key of [...meta.partitions]) {
        const { topic, partition } = splitKey(key);
        const error = await this.markers.writeMarker(topic, partition, meta.producerId, meta.epoch, COORDINATOR_EPOCH, commit);
        // A partition that no longer exists, or refuses the epoch, has nothing left to mark.
        if (error === ErrorCode.NONE || error === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION || error === ErrorCode.INVALID_PRODUCER_EPOCH || error === ErrorCode.TRANSACTION_COORDINATOR_FENCED) {
          // A deleted partition is expected (a topic deleted under an open transaction): Kafka says so at info.
          if (error === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION) this.log.info({ transactionalId: meta.transactionalId, topic, partition, error }, 'transaction marker not written');
          else if (error !== ErrorCode.NONE) this.log.warn({ transactionalId: meta.transactionalId, topic, partition, error }, 'transaction marker not written');
          meta.partitions.delete(key);
        }
      }
      if (meta.partitions.size > 0) await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** attempt, 2000)));
    }
    for (let attempt = 0; ; attempt++) {
      const error = await this.transition(meta, { state: commit ? 'CompleteCommit' : 'CompleteAbort', partitions: new Set() });
      if (error === ErrorCode.NONE) break;
      await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** attempt, 2000)));
    }
    this.log.debug({ transactionalId: meta.transactionalId, producerId: String(meta.producerId), commit }, 'transaction completed');
  }

  /** Bumps the epoch (so the old producer is fenced) and aborts the open transaction, in the background. */
  private fenceAndAbort(meta: TxnMeta, reason: string): void {
    this.log.info({ transactionalId: meta.transactionalId, producerId: String(meta.producerId), epoch: meta.epoch, reason }, 'aborting transaction');
    meta.epoch += 1;
    meta.lastEpoch = -1;
    void this.complete(meta, false).catch((err: unknown) => this.log.error({ err, transactionalId: meta.transactionalId }, 'could not abort transaction'));
  }

  // ---- Persistence ----------------------------------------------------------------------------

  private record(meta: TxnMeta): TxnRecord {
    const byTopic = new Map<string, number[]>();
    for (const key of meta.partitions) {
      const { topic, partition } = splitKey(key);
      if (!byTopic.has(topic)) byTopic.set(topic, []);
      byTopic.get(topic)!.push(partition);
    }
    return {
      transactionalId: meta.transactionalId,
      value: {
        producerId: meta.producerId,
        producerEpoch: meta.epoch,
        transactionTimeoutMs: meta.timeoutMs,
        transactionStatus: STATE_IDS[meta.state],
        transactionPartitions: meta.state === 'Empty' ? null : [...byTopic].map(([topic, partitionIds]) => ({ topic, partitionIds })),
        transactionLastUpdateTimestampMs: BigInt(meta.lastUpdateTimestamp),
        transactionStartTimestampMs: BigInt(meta.startTimestamp),
      },
    };
  }

  /** Writes the next state of a transaction; applies it only once it is stored. */
  private async transition(meta: TxnMeta, change: Partial<TxnMeta>): Promise<number> {
    const next: TxnMeta = { ...meta, ...change, lastUpdateTimestamp: this.now(), pending: false };
    meta.pending = true;
    try {
      await this.store.append(meta.transactionalId, this.record(next));
    } catch (err) {
      this.log[storageFailureLevel(err)]({ err, transactionalId: meta.transactionalId }, 'could not store transaction state');
      return ErrorCode.NOT_COORDINATOR;
    } finally {
      meta.pending = false;
    }
    Object.assign(meta, next);
    return ErrorCode.NONE;
  }

  /** Replays __transaction_state, then finishes transactions that were being completed. */
  async load(): Promise<void> {
    const latest = new Map<string, TxnRecord>();
    for await (const r of this.store.load()) {
      if (r.value === null) latest.delete(r.transactionalId);
      else latest.set(r.transactionalId, r);
    }
    for (const [id, r] of latest) {
      const v = r.value!;
      this.txns.set(id, {
        transactionalId: id, producerId: v.producerId, lastProducerId: -1n, epoch: v.producerEpoch, lastEpoch: -1, timeoutMs: v.transactionTimeoutMs,
        state: STATE_OF[v.transactionStatus] ?? 'Empty',
        partitions: new Set((v.transactionPartitions ?? []).flatMap((t) => t.partitionIds.map((p) => partitionKey(t.topic, p)))),
        startTimestamp: Number(v.transactionStartTimestampMs), lastUpdateTimestamp: Number(v.transactionLastUpdateTimestampMs), pending: false,
      });
    }
    this.loading = false;
    for (const meta of this.txns.values()) {
      if (meta.state === 'PrepareCommit' || meta.state === 'PrepareAbort') {
        void this.writeMarkers(meta, meta.state === 'PrepareCommit').catch((err: unknown) => this.log.error({ err, transactionalId: meta.transactionalId }, 'could not complete transaction'));
      }
    }
    if (latest.size > 0) this.log.info({ transactions: latest.size }, 'loaded transaction state');
  }

  // ---- Timeouts, expiry, admin ----------------------------------------------------------------

  /** Aborts transactions open longer than their timeout (the producer is fenced by the epoch bump). */
  abortTimedOut(): number {
    if (this.loading) return 0;
    let n = 0;
    const now = this.now();
    for (const meta of this.txns.values()) {
      if (meta.state === 'Ongoing' && !meta.pending && meta.startTimestamp + meta.timeoutMs < now) {
        this.fenceAndAbort(meta, 'transaction timed out');
        n++;
      }
    }
    return n;
  }

  /** Forgets transactional ids unused for transactional.id.expiration.ms (tombstones). */
  async expire(): Promise<number> {
    if (this.loading) return 0;
    const horizon = this.now() - this.config.expirationMs;
    let n = 0;
    for (const meta of [...this.txns.values()]) {
      if (['Empty', 'CompleteCommit', 'CompleteAbort'].includes(meta.state) && !meta.pending && meta.lastUpdateTimestamp <= horizon) {
        // Pending while the tombstone is written (Kafka's prepareDead): a producer starting with
        // this id meanwhile is told CONCURRENT_TRANSACTIONS and retries, rather than being handed
        // an epoch that the removal then forgets.
        meta.pending = true;
        try {
          await this.store.append(meta.transactionalId, { transactionalId: meta.transactionalId, value: null });
          this.txns.delete(meta.transactionalId);
          n++;
        } catch (err) {
          this.log.warn({ err, transactionalId: meta.transactionalId }, 'could not expire transactional id');
        } finally {
          meta.pending = false;
        }
      }
    }
    return n;
  }

  topicsOf(meta: TxnMeta): { topic: string; partitions: number[] }[] {
    const byTopic = new Map<string, number[]>();
    for (const key of meta.partitions) {
      const { topic, partition } = splitKey(key);
      if (!byTopic.has(topic)) byTopic.set(topic, []);
      byTopic.get(topic)!.push(partition);
    }
    return [...byTopic].map(([topic, partitions]) => ({ topic, partitions }));
  }
}
