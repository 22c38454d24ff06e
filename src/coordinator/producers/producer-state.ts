/**
 * Producer state of one partition (Kafka's ProducerStateManager): per producer id the epoch and
 * its last five batches, for duplicate detection and sequence checks; the transactions still
 * open on the partition, which bound the last stable offset; and the aborted transactions that
 * read_committed consumers must be told about.
 *
 * Everything here works from batch headers (and the single record of a control batch); data
 * records are never decoded.
 */
import { ErrorCode } from '../../../protocol/error-codes.js';

/** Kafka keeps the metadata of this many batches per producer. */
export const RETAINED_BATCHES = 5;
const INT32_MAX = 2147483647;

export interface BatchMetadata {
  firstSeq: number;
  lastSeq: number;
  firstOffset: bigint;
  lastOffset: bigint;
  timestamp: bigint;
}

export interface ProducerEntry {
  producerId: bigint;
  epoch: number;
  coordinatorEpoch: number;
  lastTimestamp: bigint;
  /** First offset of the producer's open transaction on this partition, or null. */
  txnFirstOffset: bigint | null;
  batches: BatchMetadata[];
}

export interface AbortedTxn {
  producerId: bigint;
  firstOffset: bigint;
  /** Offset of the ABORT marker. */
  lastOffset: bigint;
  lastStableOffset: bigint;
}

/** What a producer-stamped batch is, as far as this partition can tell from its header. */
export interface ProducerBatch {
  producerId: bigint;
  epoch: number;
  baseSequence: number;
  /** lastOffsetDelta: records - 1. */
  offsetDelta: number;
  maxTimestamp: bigint;
  transactional: boolean;
}

export type Verdict =
  | { kind: 'append' }
  | { kind: 'duplicate'; batch: BatchMetadata }
  | { kind: 'error'; errorCode: number; message: string };

/** Who is writing: a client's produce (full checks) or the broker itself (markers, coordinator writes, log recovery). */
export type Origin = 'client' | 'coordinator' | 'replay';

function lastSequence(baseSequence: number, offsetDelta: number): number {
  const s = baseSequence + offsetDelta;
  return s > INT32_MAX ? s - INT32_MAX - 1 : s;
}

function inSequence(lastSeq: number, nextSeq: number): boolean {
  return nextSeq === lastSeq + 1 || (nextSeq === 0 && lastSeq === INT32_MAX);
}

interface SnapshotJson {
  version: 1;
  producers: { id: string; epoch: number; coordinatorEpoch: number; lastTimestamp: string; txnFirstOffset: string | null; batches: { firstSeq: number; lastSeq: number; firstOffset: string; lastOffset: string; timestamp: string }[] }[];
  aborted: { producerId: string; firstOffset: string; lastOffset: string; lastStableOffset: string }[];
}

export class ProducerStateManager {
  /** Bumped on every change, so snapshots are written only when something changed. */
  changes = 0;
  readonly producers = new Map<bigint, ProducerEntry>();
  /** The highest producer id of the snapshot this state was loaded from, expired ones included; -1 when none. */
  private highestLoaded = -1n;
  /** Open transactions: producer id → first offset. */
  private readonly ongoing = new Map<bigint, bigint>();
  /** Aborted transactions, in marker order. */
  readonly aborted: AbortedTxn[] = [];
  /**
   * Transactions whose marker is appended but not yet below the high watermark: they keep the
   * last stable offset back until readers can see their marker (Kafka's unreplicatedTxns).
   */
  private readonly completing: { firstOffset: bigint; markerOffset: bigint }[] = [];

  /**
   * Checks a batch before it is appended (Kafka's ProducerAppendInfo): duplicates of one of the
   * last five batches, epochs, sequences and the transactional state.
   */
  check(b: ProducerBatch, origin: Origin): Verdict {
    const entry = this.producers.get(b.producerId);
    const firstSeq = b.baseSequence;
    const lastSeq = lastSequence(firstSeq, b.offsetDelta);
    if (origin === 'client' && entry && entry.epoch === b.epoch) {
      const dup = entry.batches.find((m) => m.firstSeq === firstSeq && m.lastSeq === lastSeq);
      if (dup) return { kind: 'duplicate', batch: dup };
    }
    if (origin === 'replay') return { kind: 'append' };
    if (entry && b.epoch < entry.epoch) {
      return { kind: 'error', errorCode: ErrorCode.INVALID_PRODUCER_EPOCH, message: `Epoch ${b.epoch} of producer ${b.producerId} is older than ${entry.epoch}` };
    }
    if (origin === 'client' && entry) {
      if (b.epoch !== entry.epoch) {
        if (firstSeq !== 0) return { kind: 'error', errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, message: `Invalid sequence number for new epoch of producer ${b.producerId}: ${firstSeq} (expected 0)` };
      } else {
        const last = entry.batches.length > 0 ? entry.batches[entry.batches.length - 1].lastSeq : -1;
        if (!inSequence(last, firstSeq)) {
          return { kind: 'error', errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, message: `Out of order sequence number for producer ${b.producerId}: ${firstSeq} after ${last}` };
        }
      }
    }
    // Whatever its epoch (Kafka's ProducerAppendInfo): a bump does not end the open transaction.
    if (!b.transactional && entry?.txnFirstOffset != null) {
      return { kind: 'error', errorCode: ErrorCode.INVALID_TXN_STATE, message: `Expected a transactional write from producer ${b.producerId}` };
    }
    return { kind: 'append' };
  }

  /** Records an appended data batch at its assigned offsets. */
  appended(b: ProducerBatch, firstOffset: bigint): void {
    this.changes++;
    let entry = this.producers.get(b.producerId);
    if (!entry) {
      entry = { producerId: b.producerId, epoch: b.epoch, coordinatorEpoch: -1, lastTimestamp: b.maxTimestamp, txnFirstOffset: null, batches: [] };
      this.producers.set(b.producerId, entry);
    }
    if (entry.epoch !== b.epoch) {
      entry.epoch = b.epoch;
      entry.batches = [];
    }
    entry.lastTimestamp = b.maxTimestamp;
    entry.batches.push({ firstSeq: b.baseSequence, lastSeq: lastSequence(b.baseSequence, b.offsetDelta), firstOffset, lastOffset: firstOffset + BigInt(b.offsetDelta), timestamp: b.maxTimestamp });
    if (entry.batches.length > RETAINED_BATCHES) entry.batches.shift();
    if (b.transactional && entry.txnFirstOffset === null) {
      entry.txnFirstOffset = firstOffset;
      this.ongoing.set(b.producerId, firstOffset);
    }
  }

  /** Checks a transaction marker (epoch, coordinator epoch). */
  checkMarker(producerId: bigint, epoch: number, coordinatorEpoch: number): Verdict {
    const entry = this.producers.get(producerId);
    if (entry && epoch < entry.epoch) return { kind: 'error', errorCode: ErrorCode.INVALID_PRODUCER_EPOCH, message: `Marker epoch ${epoch} is older than ${entry.epoch}` };
    if (entry && entry.coordinatorEpoch > coordinatorEpoch) return { kind: 'error', errorCode: ErrorCode.TRANSACTION_COORDINATOR_FENCED, message: 'Marker from a fenced coordinator' };
    return { kind: 'append' };
  }

  /**
   * Records a COMMIT/ABORT marker appended at `offset`; returns the completed transaction's first
   * offset, or null when the producer had nothing open here.
   */
  markerAppended(producerId: bigint, epoch: number, coordinatorEpoch: number, commit: boolean, offset: bigint, timestamp: bigint): bigint | null {
    this.changes++;
    let entry = this.producers.get(producerId);
    if (!entry) {
      entry = { producerId, epoch, coordinatorEpoch, lastTimestamp: timestamp, txnFirstOffset: null, batches: [] };
      this.producers.set(producerId, entry);
    }
    const first = entry.txnFirstOffset;
    if (entry.epoch !== epoch) {
      entry.epoch = epoch;
      entry.batches = [];
    }
    entry.coordinatorEpoch = coordinatorEpoch;
    entry.lastTimestamp = timestamp;
    entry.txnFirstOffset = null;
    this.ongoing.delete(producerId);
    if (first === null) return null;
    this.completing.push({ firstOffset: first, markerOffset: offset });
    if (!commit) this.aborted.push({ producerId, firstOffset: first, lastOffset: offset, lastStableOffset: this.firstUnstableOffset() ?? offset + 1n });
    return first;
  }

  /** First offset of the oldest open transaction, or null. */
  firstUnstableOffset(): bigint | null {
    let min: bigint | null = null;
    for (const o of this.ongoing.values()) if (min === null || o < min) min = o;
    return min;
  }

  /**
   * The last stable offset of a log: nothing at or after an open transaction is stable, and, as
   * Kafka's maybeIncrementFirstUnstableOffset has it, nothing below the log start offset is unstable
   * (a transaction whose first batches DeleteRecords or retention removed would otherwise put the
   * LSO below the log start, and read_committed consumers would reset there for ever).
   */
  lastStableOffset(log: { readonly highWatermark: bigint; readonly logStartOffset: bigint }): bigint {
    const { highWatermark, logStartOffset } = log;
    this.markersVisible(highWatermark);
    let first = this.firstUnstableOffset();
    for (const c of this.completing) if (first === null || c.firstOffset < first) first = c.firstOffset;
    if (first !== null && first < logStartOffset) first = logStartOffset;
    return first !== null && first < highWatermark ? first : highWatermark;
  }

  /**
   * Forgets the completing transactions whose marker is below the high watermark. Called when a
   * marker is written too, not only by readers: a partition nobody reads would keep them all.
   */
  markersVisible(highWatermark: bigint): void {
    for (let i = this.completing.length - 1; i >= 0; i--) if (this.completing[i].markerOffset < highWatermark) this.completing.splice(i, 1);
  }

  hasOngoingTransaction(producerId: bigint): boolean {
    return this.ongoing.has(producerId);
  }

  /** Aborted transactions a read_committed fetch of [from, upTo) must report, sorted by first offset. */
  abortedBetween(from: bigint, upTo: bigint): { producerId: bigint; firstOffset: bigint }[] {
    return this.aborted
      .filter((a) => a.lastOffset >= from && a.firstOffset < upTo)
      .sort((a, b) => (a.firstOffset < b.firstOffset ? -1 : a.firstOffset > b.firstOffset ? 1 : 0))
      .map((a) => ({ producerId: a.producerId, firstOffset: a.firstOffset }));
  }

  /**
   * The log now starts at `offset`: forget aborted transactions wholly before it, as Kafka's
   * .txnindex files go with their segments (no fetch can ask for them; kept, they would grow
   * memory, every snapshot and every read_committed fetch's search for as long as the broker runs).
   */
  logStartMoved(offset: bigint): void {
    let drop = 0;
    while (drop < this.aborted.length && this.aborted[drop].lastOffset < offset) drop++;
    if (drop > 0) {
      this.aborted.splice(0, drop);
      this.changes++;
    }
  }

  /**
   * The log cleaner removed these ABORT markers: their transactions are no longer reported. A
   * read_committed client told of an aborted transaction skips its producer's transactional
   * batches until it meets the ABORT marker, so with the marker gone it would drop that
   * producer's later, committed, transactions too (Kafka's cleaned .txnindex leaves them out).
   */
  abortMarkersRemoved(markers: readonly { producerId: bigint; offset: bigint }[]): void {
    const gone = new Set(markers.map((m) => `${m.producerId}@${m.offset}`));
    const before = this.aborted.length;
    for (let i = this.aborted.length - 1; i >= 0; i--) {
      const a = this.aborted[i]!;
      if (gone.has(`${a.producerId}@${a.lastOffset}`)) this.aborted.splice(i, 1);
    }
    if (this.aborted.length !== before) this.changes++;
  }

  /**
   * The state as a snapshot (our own JSON format: Kafka's producer snapshot has no room for the
   * aborted transactions, which Kafka keeps in .txnindex files instead).
   */
  toSnapshot(): Buffer {
    const json: SnapshotJson = {
      version: 1,
      producers: [...this.producers.values()].map((e) => ({
        id: String(e.producerId), epoch: e.epoch, coordinatorEpoch: e.coordinatorEpoch, lastTimestamp: String(e.lastTimestamp),
        txnFirstOffset: e.txnFirstOffset === null ? null : String(e.txnFirstOffset),
        batches: e.batches.map((b) => ({ firstSeq: b.firstSeq, lastSeq: b.lastSeq, firstOffset: String(b.firstOffset), lastOffset: String(b.lastOffset), timestamp: String(b.timestamp) })),
      })),
      aborted: this.aborted.map((a) => ({ producerId: String(a.producerId), firstOffset: String(a.firstOffset), lastOffset: String(a.lastOffset), lastStableOffset: String(a.lastStableOffset) })),
    };
    return Buffer.from(JSON.stringify(json));
  }

  /** The state a snapshot holds, less the producers that expired meanwhile (as Kafka loads a snapshot). */
  static fromSnapshot(data: Buffer, expiry: ProducerExpiry): ProducerStateManager {
    const json = JSON.parse(data.toString('utf8')) as SnapshotJson;
    if (json.version !== 1) throw new Error(`unknown producer snapshot version ${String(json.version)}`);
    const state = new ProducerStateManager();
    for (const p of json.producers) {
      const entry: ProducerEntry = {
        producerId: BigInt(p.id), epoch: p.epoch, coordinatorEpoch: p.coordinatorEpoch, lastTimestamp: BigInt(p.lastTimestamp),
        txnFirstOffset: p.txnFirstOffset === null ? null : BigInt(p.txnFirstOffset),
        batches: p.batches.map((b) => ({ firstSeq: b.firstSeq, lastSeq: b.lastSeq, firstOffset: BigInt(b.firstOffset), lastOffset: BigInt(b.lastOffset), timestamp: BigInt(b.timestamp) })),
      };
      if (entry.producerId > state.highestLoaded) state.highestLoaded = entry.producerId;
      if (isExpired(entry, expiry.now, expiry.expirationMs)) {
        // Left out, unlike what the snapshot says: the next snapshot is written anew.
        state.changes++;
        continue;
      }
      state.producers.set(entry.producerId, entry);
      if (entry.txnFirstOffset !== null) state.ongoing.set(entry.producerId, entry.txnFirstOffset);
    }
    for (const a of json.aborted) state.aborted.push({ producerId: BigInt(a.producerId), firstOffset: BigInt(a.firstOffset), lastOffset: BigInt(a.lastOffset), lastStableOffset: BigInt(a.lastStableOffset) });
    return state;
  }

  /** Drops producers idle for longer than the expiration that have no open transaction. */
  expire(now: bigint, expirationMs: bigint): number {
    let n = 0;
    for (const [id, e] of this.producers) {
      if (isExpired(e, now, expirationMs)) {
        this.producers.delete(id);
        n++;
      }
    }
    if (n > 0) this.changes++;
    return n;
  }

  /**
   * The highest producer id this partition knows of: of its producers, and of the snapshot it
   * started from, even those that had expired (a check at start that ids are not handed out twice).
   */
  get highestProducerId(): bigint {
    let highest = this.highestLoaded;
    for (const id of this.producers.keys()) if (id > highest) highest = id;
    return highest;
  }
}

/** When producers are forgotten: idle for `expirationMs` (producer.id.expiration.ms) at `now`. */
export interface ProducerExpiry {
  now: bigint;
  expirationMs: bigint;
}

/** Idle for longer than the expiration, with no open transaction (Kafka's isProducerExpired). */
function isExpired(e: ProducerEntry, now: bigint, expirationMs: bigint): boolean {
  return e.txnFirstOffset === null && now - e.lastTimestamp >= expirationMs;
}
