/**
 * Log compaction, independent of where the bytes live: what Kafka's LogCleaner, Cleaner,
 * CleanedTransactionMetadata, MemoryRecords.filterTo and LogCleanerManager decide, over batches
 * and segment descriptions. The disk engine (disk/cleaner.ts) and the memory engine feed it.
 *
 * - OffsetMap: key → offset of its latest record in the dirty section (exact keys, not Kafka's
 *   MD5 hashes, so two keys can never collide), with a memory cap (Kafka's dedupe buffer).
 * - ProducerSummary: per segment (and for appends), the last batch of each producer id and the
 *   transaction markers; combined over the whole log it tells which batches keep producer state
 *   alive and whether transactional data was aborted (Kafka reads its .txnindex for that).
 * - TxnTracker: Kafka's CleanedTransactionMetadata: aborted data is removed, a marker is kept
 *   while its transaction still has data in the log, and then for delete.retention.ms more.
 * - cleanBatch: Kafka's filterTo for one batch: drop it, keep it byte for byte, rewrite it with the
 *   retained records (same base offset, last offset delta, producer fields, codec; the delete
 *   horizon in baseTimestamp when it holds tombstones or is a removable marker), or keep its
 *   header alone.
 * - planCleaning: LogCleanerManager.cleanableOffsets / calculateCleanableBytes / maxCompactionDelay.
 */
import {
  ATTR_CONTROL,
  ATTR_DELETE_HORIZON,
  ATTR_TIMESTAMP_TYPE,
  ATTR_TRANSACTIONAL,
  BATCH_HEADER_SIZE,
  batchRecordsData,
  batchRecordsDataAsync,
  compress,
  compressAsync,
  compressionOf,
  ControlRecordType,
  LOG_OVERHEAD,
  readAttributes,
  readBaseOffset,
  readBaseTimestamp,
  readBatchSize,
  readLastOffsetDelta,
  readMaxTimestamp,
  readPartitionLeaderEpoch,
  readProducerEpoch,
  readProducerId,
  readBaseSequence,
  readRecordCount,
  RecordReader,
  sizeOfVarint,
  sizeOfVarlong,
  writeBatchCrc,
  writeVarint,
  writeVarlong,
} from '../../protocol/records/index.js';

const LONG_MAX = (1n << 63n) - 1n;
const NO_TIMESTAMP = -1n;

// ------------------------------------------------------------------ records inside a batch

/** One record of a batch, located in the batch's (decompressed) record data. */
export interface RawRecord {
  /** Position of the record's length varint, and the end of the record. */
  start: number;
  end: number;
  /** Position just after the offset delta: key, value and headers follow as is. */
  restStart: number;
  attributes: number;
  /** Position of the timestamp delta (a varlong, decoded only when the batch is rewritten). */
  timestampPos: number;
  offsetDelta: number;
  key: Buffer | null;
  /** The value is null: a tombstone. */
  tombstone: boolean;
}

/** Walks the records of decompressed record data; `count` from the batch header. */
export function* rawRecords(data: Buffer, count: number): Generator<RawRecord, void, undefined> {
  const r = new RecordReader(data, 0, data.length);
  for (let i = 0; i < count; i++) {
    const start = r.pos;
    const length = r.varint();
    if (length < 0 || length > r.remaining) throw new Error(`record length ${length} with ${r.remaining} bytes left`);
    const end = r.pos + length;
    const outer = r.end;
    r.end = end;
    const attributes = r.int8();
    const timestampPos = r.pos;
    while (r.pos < end && data[r.pos]! >= 0x80) r.pos++;
    r.pos++;
    if (r.pos > end || r.pos - timestampPos > 10) throw new Error('bad timestamp delta in a record');
    const offsetDelta = r.varint();
    const restStart = r.pos;
    const key = r.nullableBytes();
    const valueLength = r.varint();
    r.end = outer;
    r.pos = end;
    yield { start, end, restStart, attributes, timestampPos, offsetDelta, key, tombstone: valueLength < 0 };
  }
}

/**
 * Below this many bytes a codec runs on the main thread: a thread-pool round trip costs more than
 * (de)compressing a typical producer batch. Larger ones go off the event loop.
 */
const SYNC_CODEC_BYTES = 256 * 1024;

/** Record data of a batch (decompressed when needed). */
export async function recordData(batch: Buffer): Promise<Buffer> {
  return batch.length <= SYNC_CODEC_BYTES ? batchRecordsData(batch) : batchRecordsDataAsync(batch);
}

// ------------------------------------------------------------------ offset map

/** Bytes one map entry is accounted for besides its key (Map slot, string header, number). */
const MAP_ENTRY_OVERHEAD = 64;

export class OffsetMap {
  private readonly map = new Map<string, number>();
  private bytes = 0;
  /** Last offset of the last batch mapped (Kafka's latestOffset); -1 when empty. */
  latestOffset = -1n;

  constructor(readonly capacityBytes: number) {}

  get size(): number {
    return this.map.size;
  }

  get full(): boolean {
    return this.bytes >= this.capacityBytes;
  }

  put(key: Buffer, offset: number): void {
    const k = key.toString('latin1');
    const size = this.map.size;
    this.map.set(k, offset);
    if (this.map.size !== size) this.bytes += k.length + MAP_ENTRY_OVERHEAD;
  }

  /** Offset of the latest record with this key, or -1. */
  get(key: Buffer): number {
    return this.map.get(key.toString('latin1')) ?? -1;
  }

  updateLatestOffset(offset: bigint): void {
    if (offset > this.latestOffset) this.latestOffset = offset;
  }
}

// ------------------------------------------------------------------ producers and markers

export interface ProducerLast {
  /** Last offset of the producer's last batch (data or marker). */
  lastOffset: bigint;
  /** Last offset of its last data batch in its current epoch; null when the epoch has none. */
  lastDataOffset: bigint | null;
  epoch: number;
  /** Max timestamp of its last batch (producer id expiration). */
  maxTimestamp: bigint;
}

export interface TxnMarker {
  producerId: bigint;
  offset: bigint;
  abort: boolean;
}

/**
 * What the cleaner must know of a stretch of the log besides keys: the last batch of each
 * producer id, the transaction markers, and whether it holds transactional data at all.
 */
export class ProducerSummary {
  readonly producers = new Map<bigint, ProducerLast>();
  readonly markers: TxnMarker[] = [];
  transactionalData = false;

  /** Accounts for one batch (the exact batch view) appended after everything added so far. */
  add(batch: Buffer): void {
    const producerId = readProducerId(batch);
    const attributes = readAttributes(batch);
    const control = (attributes & ATTR_CONTROL) !== 0;
    const lastOffset = readBaseOffset(batch) + BigInt(readLastOffsetDelta(batch));
    if (control) {
      const type = controlTypeOf(batch);
      if (type === ControlRecordType.ABORT || type === ControlRecordType.COMMIT) {
        this.markers.push({ producerId, offset: lastOffset, abort: type === ControlRecordType.ABORT });
      }
    } else if (attributes & ATTR_TRANSACTIONAL) this.transactionalData = true;
    if (producerId < 0n) return;
    const epoch = readProducerEpoch(batch);
    const prev = this.producers.get(producerId);
    const sameEpoch = prev !== undefined && prev.epoch === epoch;
    this.producers.set(producerId, {
      lastOffset,
      lastDataOffset: control ? (sameEpoch ? prev.lastDataOffset : null) : lastOffset,
      epoch,
      maxTimestamp: readMaxTimestamp(batch),
    });
  }

  /** Adds what `later` (a stretch after this one) says, as if its batches were added here. */
  merge(later: ProducerSummary): void {
    for (const [pid, next] of later.producers) {
      const prev = this.producers.get(pid);
      if (prev === undefined || next.epoch !== prev.epoch || next.lastDataOffset !== null) this.producers.set(pid, { ...next });
      else this.producers.set(pid, { ...next, lastDataOffset: prev.lastDataOffset });
    }
    for (const m of later.markers) this.markers.push(m);
    if (later.transactionalData) this.transactionalData = true;
  }
}

/** The control record type of a control batch, or null when it holds no record. */
export function controlTypeOf(batch: Buffer): number | null {
  if (readRecordCount(batch) <= 0) return null;
  // Control batches are never compressed by Kafka; read the key of the first record in place.
  const compressed = compressionOf(readAttributes(batch)) !== 0;
  if (compressed) return null;
  const size = readBatchSize(batch);
  const it = rawRecords(batch.subarray(BATCH_HEADER_SIZE, size), 1).next();
  if (it.done) return null;
  const key = it.value.key;
  if (key === null || key.length < 4) return null;
  return key.readInt16BE(2);
}

/** Which transaction a data batch of the whole log belongs to: from the markers that follow it. */
export class TxnIndex {
  private readonly byProducer = new Map<bigint, TxnMarker[]>();

  constructor(markers: Iterable<TxnMarker>) {
    for (const m of markers) {
      let list = this.byProducer.get(m.producerId);
      if (!list) this.byProducer.set(m.producerId, (list = []));
      list.push(m);
    }
    for (const list of this.byProducer.values()) list.sort((a, b) => (a.offset < b.offset ? -1 : a.offset > b.offset ? 1 : 0));
  }

  get empty(): boolean {
    return this.byProducer.size === 0;
  }

  /** 'abort' / 'commit' by the first marker of the producer after `offset`; 'open' when none follows yet. */
  statusOf(producerId: bigint, offset: bigint): 'abort' | 'commit' | 'open' {
    const list = this.byProducer.get(producerId);
    if (!list) return 'open';
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (list[mid]!.offset <= offset) lo = mid + 1;
      else hi = mid;
    }
    const m = list[lo];
    return m === undefined ? 'open' : m.abort ? 'abort' : 'commit';
  }
}

/** Kafka's CleanedTransactionMetadata, for one pass over the log in offset order. */
export class TxnTracker {
  private readonly ongoingAborted = new Set<bigint>();
  private readonly ongoingCommitted = new Set<bigint>();

  constructor(private readonly index: TxnIndex) {}

  /** A data batch: true when it belongs to an aborted transaction (its records can go). */
  onBatchRead(batch: Buffer): boolean {
    if ((readAttributes(batch) & ATTR_TRANSACTIONAL) === 0) return false;
    const pid = readProducerId(batch);
    const lastOffset = readBaseOffset(batch) + BigInt(readLastOffsetDelta(batch));
    if (this.index.statusOf(pid, lastOffset) === 'abort') {
      this.ongoingAborted.add(pid);
      return true;
    }
    this.ongoingCommitted.add(pid);
    return false;
  }

  /** A control batch: true when no data of its transaction was met in this pass (it may go, after the horizon). */
  onControlBatchRead(batch: Buffer): boolean {
    const type = controlTypeOf(batch);
    if (readRecordCount(batch) <= 0) return true; // already emptied by an earlier cleaning
    const pid = readProducerId(batch);
    if (type === ControlRecordType.ABORT) return !this.ongoingAborted.delete(pid);
    if (type === ControlRecordType.COMMIT) return !this.ongoingCommitted.delete(pid);
    return false;
  }
}

// ------------------------------------------------------------------ the per-batch filter

export interface CleanContext {
  map: OffsetMap;
  /** The round's current time: tombstone horizons are compared with it and set from it. */
  now: number;
  deleteRetentionMs: number;
  txn: TxnTracker;
  /** First uncleanable offset of the round: the batch ending right before it is kept, even empty. */
  upperBound: bigint;
  /** Kafka's isBatchLastRecordOfProducer for an active producer id. */
  keepsProducerState(batch: Buffer): boolean;
}

export interface CleanOutcome {
  /** What to write: the batch itself, a rewritten batch, a bare header; null to drop it. */
  out: Buffer | null;
  /** `out` is the original bytes. */
  verbatim: boolean;
  recordsRead: number;
  recordsRetained: number;
  /**
   * The batch was an ABORT marker and its record goes (the batch dropped, or kept as a bare
   * header): the transaction it ended must no longer be reported to read_committed fetches.
   */
  abortMarkerRemoved: boolean;
}

/** Kafka's filterTo (with the LogCleaner's RecordFilter) for one magic-2 batch. */
export async function cleanBatch(batch: Buffer, ctx: CleanContext): Promise<CleanOutcome> {
  const attributes = readAttributes(batch);
  const control = (attributes & ATTR_CONTROL) !== 0;
  const producerId = readProducerId(batch);
  const baseOffset = readBaseOffset(batch);
  const lastOffset = baseOffset + BigInt(readLastOffsetDelta(batch));
  const canDiscard = control ? ctx.txn.onControlBatchRead(batch) : ctx.txn.onBatchRead(batch);
  const hasHorizon = (attributes & ATTR_DELETE_HORIZON) !== 0;
  const horizon = hasHorizon ? readBaseTimestamp(batch) : NO_TIMESTAMP;
  const now = BigInt(ctx.now);
  const discardRecords = control ? canDiscard && hasHorizon && horizon <= now : canDiscard;
  const markerForEmptyTxn = canDiscard && control;
  const abortMarkerRemoved = control && discardRecords && controlTypeOf(batch) === ControlRecordType.ABORT;

  let retention: 'delete' | 'retain-empty' | 'delete-empty';
  if (producerId >= 0n && ctx.keepsProducerState(batch)) retention = 'retain-empty';
  else if (lastOffset + 1n === ctx.upperBound) retention = 'retain-empty';
  else if (discardRecords) retention = 'delete';
  else retention = 'delete-empty';
  const count = readRecordCount(batch);
  if (retention === 'delete') return { out: null, verbatim: false, recordsRead: count, recordsRetained: 0, abortMarkerRemoved };

  const data = count > 0 ? await recordData(batch) : Buffer.alloc(0);
  const baseTimestamp = readBaseTimestamp(batch);
  const base = Number(baseOffset);
  const latest = Number(ctx.map.latestOffset);
  const retained: RawRecord[] = [];
  let read = 0;
  let tombstones = false;
  for (const r of rawRecords(data, count)) {
    read++;
    let keep: boolean;
    if (discardRecords) keep = false;
    else if (control) keep = true;
    else keep = retainRecord(r, base, latest, ctx.map, hasHorizon, horizon, now);
    if (keep) {
      retained.push(r);
      if (r.tombstone) tombstones = true;
    }
  }
  if (retained.length > 0) {
    const needHorizon = (tombstones || markerForEmptyTxn) && !hasHorizon;
    if (retained.length === read && !needHorizon) return { out: batch.subarray(0, readBatchSize(batch)), verbatim: true, recordsRead: read, recordsRetained: read, abortMarkerRemoved };
    let newHorizon: bigint | null = hasHorizon ? horizon : null;
    if (needHorizon) {
      const h = now + BigInt(Math.max(0, ctx.deleteRetentionMs));
      newHorizon = h > LONG_MAX ? LONG_MAX : h;
    }
    const out = await rebuildBatch(batch, data, retained, baseTimestamp, newHorizon);
    return { out, verbatim: false, recordsRead: read, recordsRetained: retained.length, abortMarkerRemoved };
  }
  if (retention === 'retain-empty') return { out: emptyBatchHeader(batch), verbatim: false, recordsRead: read, recordsRetained: 0, abortMarkerRemoved };
  return { out: null, verbatim: false, recordsRead: read, recordsRetained: 0, abortMarkerRemoved };
}

/**
 * Kafka's Cleaner.shouldRetainRecord. A record without a key is dropped, as Kafka's cleaner drops
 * it (an invalid message): appends to a compacted topic refuse them, but a topic switched to
 * compact from delete still holds those written before.
 */
function retainRecord(r: RawRecord, baseOffset: number, latestOffset: number, map: OffsetMap, hasHorizon: boolean, horizon: bigint, now: bigint): boolean {
  const offset = baseOffset + r.offsetDelta;
  if (offset > latestOffset) return true;
  if (r.key === null) return false;
  const found = map.get(r.key);
  if (found >= 0 && offset < found) return false;
  return !r.tombstone || !hasHorizon || now < horizon;
}

/**
 * A batch with only the retained records: header fields as the original (base offset, last
 * offset delta, leader epoch, producer id/epoch/base sequence, codec, timestamp type, flags) but
 * the record count, the timestamps (baseTimestamp: the delete horizon when set, else the first
 * retained record's; maxTimestamp: the largest retained, or the original LogAppendTime) and CRC.
 */
async function rebuildBatch(batch: Buffer, data: Buffer, retained: RawRecord[], baseTimestamp: bigint, horizon: bigint | null): Promise<Buffer> {
  const attributes = readAttributes(batch);
  const logAppendTime = (attributes & ATTR_TIMESTAMP_TYPE) !== 0;
  const timestamps = retained.map((r) => baseTimestamp + new RecordReader(data, r.timestampPos, r.end).varlong());
  const newBase = horizon ?? timestamps[0]!;
  let maxTimestamp = logAppendTime ? readMaxTimestamp(batch) : timestamps.reduce((a, b) => (b > a ? b : a));
  if (!logAppendTime && maxTimestamp < 0n) maxTimestamp = NO_TIMESTAMP;
  // Re-encode each record's length, timestamp delta and offset delta; key, value and headers are copied.
  const parts: { r: RawRecord; delta: bigint; bodySize: number }[] = [];
  let size = 0;
  for (let i = 0; i < retained.length; i++) {
    const r = retained[i]!;
    const delta = timestamps[i]! - newBase;
    const bodySize = 1 + sizeOfVarlong(delta) + sizeOfVarint(r.offsetDelta) + (r.end - r.restStart);
    parts.push({ r, delta, bodySize });
    size += sizeOfVarint(bodySize) + bodySize;
  }
  const body = Buffer.allocUnsafe(size);
  let p = 0;
  for (const { r, delta, bodySize } of parts) {
    p = writeVarint(body, p, bodySize);
    body[p++] = r.attributes & 0xff;
    p = writeVarlong(body, p, delta);
    p = writeVarint(body, p, r.offsetDelta);
    p += data.copy(body, p, r.restStart, r.end);
  }
  const codec = compressionOf(attributes);
  const payload = codec === 0 ? body : body.length <= SYNC_CODEC_BYTES ? compress(codec, body) : await compressAsync(codec, body);
  const out = Buffer.allocUnsafe(BATCH_HEADER_SIZE + payload.length);
  batch.copy(out, 0, 0, BATCH_HEADER_SIZE);
  out.writeInt32BE(out.length - LOG_OVERHEAD, 8);
  out.writeInt16BE(horizon !== null ? attributes | ATTR_DELETE_HORIZON : attributes & ~ATTR_DELETE_HORIZON, 21);
  out.writeBigInt64BE(newBase, 27);
  out.writeBigInt64BE(maxTimestamp, 35);
  out.writeInt32BE(retained.length, 57);
  payload.copy(out, BATCH_HEADER_SIZE);
  writeBatchCrc(out);
  return out;
}

/** Kafka's DefaultRecordBatch.writeEmptyHeader: the batch's offsets and producer fields, no records. */
export function emptyBatchHeader(batch: Buffer): Buffer {
  const out = Buffer.alloc(BATCH_HEADER_SIZE);
  const attributes = readAttributes(batch) & (ATTR_TIMESTAMP_TYPE | ATTR_TRANSACTIONAL | ATTR_CONTROL);
  out.writeBigInt64BE(readBaseOffset(batch), 0);
  out.writeInt32BE(BATCH_HEADER_SIZE - LOG_OVERHEAD, 8);
  out.writeInt32BE(readPartitionLeaderEpoch(batch), 12);
  out.writeInt8(2, 16);
  out.writeInt16BE(attributes, 21);
  out.writeInt32BE(readLastOffsetDelta(batch), 23);
  out.writeBigInt64BE(NO_TIMESTAMP, 27);
  out.writeBigInt64BE(readMaxTimestamp(batch), 35);
  out.writeBigInt64BE(readProducerId(batch), 43);
  out.writeInt16BE(readProducerEpoch(batch), 51);
  out.writeInt32BE(readBaseSequence(batch), 53);
  out.writeInt32BE(0, 57);
  writeBatchCrc(out);
  return out;
}

/**
 * Adds the keys of one batch of the dirty section to the map (Kafka's buildOffsetMapForSegment
 * per batch): control batches and aborted data add nothing; neither does data of a transaction
 * still open (it may yet abort, and leaving its keys out only keeps more).
 */
export async function mapBatch(batch: Buffer, map: OffsetMap, txn: TxnIndex, startOffset: bigint): Promise<number> {
  const attributes = readAttributes(batch);
  const baseOffset = readBaseOffset(batch);
  const lastOffset = baseOffset + BigInt(readLastOffsetDelta(batch));
  const count = readRecordCount(batch);
  let records = 0;
  const base = Number(baseOffset);
  const start = Number(startOffset);
  const skip =
    (attributes & ATTR_CONTROL) !== 0 ||
    ((attributes & ATTR_TRANSACTIONAL) !== 0 && txn.statusOf(readProducerId(batch), lastOffset) !== 'commit');
  if (!skip && count > 0) {
    for (const r of rawRecords(await recordData(batch), count)) {
      records++;
      const offset = base + r.offsetDelta;
      if (r.key !== null && offset >= start) map.put(r.key, offset);
    }
  }
  if (lastOffset >= startOffset) map.updateLatestOffset(lastOffset);
  return records;
}

/** Kafka's isBatchLastRecordOfProducer over the whole log's producer summary, for active producer ids. */
export function producerStateKeeper(producers: Map<bigint, ProducerLast>, now: number, producerIdExpirationMs: number): (batch: Buffer) => boolean {
  const expiredBefore = BigInt(now) - BigInt(producerIdExpirationMs);
  return (batch) => {
    const last = producers.get(readProducerId(batch));
    if (!last) return false;
    if (last.maxTimestamp >= 0n && last.maxTimestamp < expiredBefore) return false; // expired producer id
    const lastOffset = readBaseOffset(batch) + BigInt(readLastOffsetDelta(batch));
    if (last.lastDataOffset !== null) return lastOffset === last.lastDataOffset;
    return (readAttributes(batch) & ATTR_CONTROL) !== 0 && readProducerEpoch(batch) === last.epoch;
  };
}

/** Kafka's default producer.id.expiration.ms. */
export const DEFAULT_PRODUCER_ID_EXPIRATION_MS = 86_400_000;

// ------------------------------------------------------------------ when and what to clean

/** What the planner needs of a segment. */
export interface SegmentInfo {
  baseOffset: bigint;
  size: number;
  /** Kafka's largestTimestamp: max batch timestamp, else the file's mtime. */
  largestTimestamp: number;
  /** Max timestamp of the first batch, when known (for max.compaction.lag.ms). */
  firstBatchTimestamp: bigint | null;
}

export interface CleaningPlan {
  firstDirtyOffset: bigint;
  /** Offsets at or past this are not cleaned in this round (a segment boundary). */
  firstUncleanableOffset: bigint;
  /** The cleaner checkpoint was unusable and was reset to the log start. */
  checkpointReset: boolean;
  cleanBytes: number;
  cleanableBytes: number;
  /** Dirty data older than max.compaction.lag.ms exists. */
  overdue: boolean;
  /** Whether the log is due for cleaning. */
  due: boolean;
}

export interface PlanInput {
  /** Oldest first; the last is the active segment. */
  segments: readonly SegmentInfo[];
  logStartOffset: bigint;
  logEndOffset: bigint;
  /** High watermark (this broker has no transactions in flight: also the last stable offset). */
  lastStableOffset: bigint;
  checkpoint: bigint | undefined;
  now: number;
  minCompactionLagMs: number;
  maxCompactionLagMs: number;
  minCleanableDirtyRatio: number;
}

/** Segments overlapping [from, to): from the one holding `from` to the last one below `to` (Kafka's logSegments). */
export function segmentsIn<T extends { baseOffset: bigint }>(segs: readonly T[], from: bigint, to: bigint): T[] {
  if (from >= to) return [];
  let first = 0;
  for (let i = 0; i < segs.length; i++) if (segs[i]!.baseOffset <= from) first = i;
  const out: T[] = [];
  for (let i = first; i < segs.length && segs[i]!.baseOffset < to; i++) out.push(segs[i]!);
  return out;
}

/** Kafka's nonActiveLogSegmentsFrom. */
function nonActiveFrom<T extends { baseOffset: bigint }>(segs: readonly T[], from: bigint): T[] {
  const active = segs[segs.length - 1]!;
  return from > active.baseOffset ? [] : segmentsIn(segs, from, active.baseOffset);
}

export function planCleaning(o: PlanInput): CleaningPlan {
  const segs = o.segments;
  const active = segs[segs.length - 1]!;
  let firstDirty = o.checkpoint ?? o.logStartOffset;
  let checkpointReset = false;
  if (firstDirty < o.logStartOffset || firstDirty > o.logEndOffset) {
    firstDirty = o.logStartOffset;
    checkpointReset = true;
  }
  const minLag = Math.max(0, o.minCompactionLagMs);
  let uncleanable = o.lastStableOffset < active.baseOffset ? o.lastStableOffset : active.baseOffset;
  if (minLag > 0) {
    const young = nonActiveFrom(segs, firstDirty).find((s) => s.largestTimestamp > o.now - minLag);
    if (young && young.baseOffset < uncleanable) uncleanable = young.baseOffset;
  }
  if (uncleanable < firstDirty) uncleanable = firstDirty;
  // calculateCleanableBytes: round down to the start of the segment holding the uncleanable offset.
  const firstUncleanableSegment = nonActiveFrom(segs, uncleanable)[0] ?? active;
  const firstUncleanableOffset = firstUncleanableSegment.baseOffset;
  const sum = (list: SegmentInfo[]): number => list.reduce((n, s) => n + s.size, 0);
  const cleanableBytes = sum(segmentsIn(segs, firstDirty < firstUncleanableOffset ? firstDirty : firstUncleanableOffset, firstUncleanableOffset));
  const cleanBytes = sum(segs.filter((s) => s.baseOffset < firstDirty));
  // maxCompactionDelay
  let overdue = false;
  const maxLag = Math.max(0, o.maxCompactionLagMs);
  if (maxLag < Number.MAX_SAFE_INTEGER) {
    const cleanUntil = o.now - maxLag;
    for (const s of nonActiveFrom(segs, firstDirty)) {
      const ts = s.firstBatchTimestamp;
      if (ts !== null && ts > 0n && Number(ts) < cleanUntil) overdue = true;
    }
  }
  const total = cleanBytes + cleanableBytes;
  const ratio = total > 0 ? cleanableBytes / total : 0;
  const due = total > 0 && ((overdue && cleanableBytes > 0) || (cleanableBytes > 0 && ratio > o.minCleanableDirtyRatio));
  return { firstDirtyOffset: firstDirty, firstUncleanableOffset, checkpointReset, cleanBytes, cleanableBytes, overdue, due };
}

/**
 * Kafka's groupSegmentsBySize: consecutive segments whose sizes add up to at most segment.bytes
 * and whose offsets fit one int32-relative index become one cleaned segment.
 */
export function groupSegmentsBySize<T extends { baseOffset: bigint; size: number }>(segs: readonly T[], maxSize: number, firstUncleanableOffset: bigint): T[][] {
  const groups: T[][] = [];
  let i = 0;
  while (i < segs.length) {
    const group = [segs[i]!];
    let size = segs[i]!.size;
    i++;
    while (i < segs.length) {
      const next = segs[i]!;
      const lastOffsetOfNext = i + 1 < segs.length ? segs[i + 1]!.baseOffset - 1n : firstUncleanableOffset - 1n;
      if (size + next.size > maxSize) break;
      if (next.size !== 0 && lastOffsetOfNext - group[0]!.baseOffset > 0x7fffffffn) break;
      group.push(next);
      size += next.size;
      i++;
    }
    groups.push(group);
  }
  return groups;
}
