/** Rebuilds a partition's producer state from its log, reading batch headers (and markers) only. */
import {
  ControlRecordType, isControl, isTransactional, iterateBatches, readAttributes, readBaseSequence, readControlRecord,
  readLastOffsetDelta, readMaxTimestamp, readProducerEpoch, readProducerId, readRecordCount,
} from '../../../protocol/records/index.js';
import { CorruptLogError, type PartitionLog } from '../../storage/storage.js';
import { type ProducerExpiry, ProducerStateManager } from './producer-state.js';

const CHUNK = 4 * 1024 * 1024;

/** Applies one stored batch to the state, as the log replays it. */
export function replayBatch(state: ProducerStateManager, batch: Buffer, baseOffset: bigint): void {
  const producerId = readProducerId(batch);
  if (producerId < 0n) return;
  const attributes = readAttributes(batch);
  const epoch = readProducerEpoch(batch);
  const maxTimestamp = readMaxTimestamp(batch);
  if (isControl(attributes)) {
    // A marker the log cleaner emptied (kept as a bare header): its transaction is gone from the
    // log, nothing to replay (Kafka's ProducerAppendInfo.append).
    if (readRecordCount(batch) <= 0) return;
    const info = readControlRecord(batch);
    if (info.marker) state.markerAppended(producerId, epoch, info.marker.coordinatorEpoch, info.type === ControlRecordType.COMMIT, info.offset, maxTimestamp);
    return;
  }
  state.appended({ producerId, epoch, baseSequence: readBaseSequence(batch), offsetDelta: readLastOffsetDelta(batch), maxTimestamp, transactional: isTransactional(attributes) }, baseOffset);
}

/**
 * The producer state of a partition at start: the newest snapshot less its expired producers, then
 * the batches written after it (all of the log when there is no usable snapshot). `mark` is set
 * when the snapshot read is the state as it stands (it covers the whole log and nothing in it had
 * expired): a new one would say the same.
 */
/** Told of a stretch of the log the replay skipped: a damaged batch ended its segment (`to`: where the replay went on, null: nowhere). */
export type SkippedDamage = (from: bigint, to: bigint | null, err: Error) => void;

export async function loadProducerState(
  log: PartitionLog, expiry: ProducerExpiry, skipped?: SkippedDamage, compacted = false,
): Promise<{ state: ProducerStateManager; mark: SnapshotMark | null }> {
  const { state, snapshotOffset } = await loadOrReplay(log, expiry, skipped);
  if (compacted && snapshotOffset !== null) await forgetCleanedAbortMarkers(log, state, snapshotOffset);
  // Markers replayed are all in the log already: none holds the last stable offset back.
  state.markersVisible(log.highWatermark);
  const end = log.logEndOffset;
  return { state, mark: snapshotOffset === end && state.changes === 0 ? { changes: state.changes, offset: end } : null };
}

async function loadOrReplay(log: PartitionLog, expiry: ProducerExpiry, skipped?: SkippedDamage): Promise<{ state: ProducerStateManager; snapshotOffset: bigint | null }> {
  const snapshot = await log.readSnapshot().catch(() => null);
  if (snapshot) {
    let state: ProducerStateManager | null = null;
    try {
      state = ProducerStateManager.fromSnapshot(snapshot.data, expiry);
    } catch {
      // A damaged snapshot: replay the whole log instead.
    }
    if (state !== null) return { state: await rebuildProducerState(log, snapshot.offset, state, skipped), snapshotOffset: snapshot.offset };
  }
  return { state: await rebuildProducerState(log, undefined, undefined, skipped), snapshotOffset: null };
}

/**
 * The aborted transactions a snapshot of a compacted log reports whose ABORT marker is no longer in
 * the log: the cleaner removed it (after the transaction's data) and the broker was killed before
 * it snapshotted the state without them. Kafka keeps aborted transactions in each segment's
 * .txnindex, which the cleaner swaps in with the segment, so they go together; a read_committed
 * client told of one would drop every later transactional batch of that producer, waiting for a
 * marker that is gone.
 */
async function forgetCleanedAbortMarkers(log: PartitionLog, state: ProducerStateManager, snapshotOffset: bigint): Promise<void> {
  const gone: { producerId: bigint; offset: bigint }[] = [];
  for (const a of state.aborted) {
    // Later markers were replayed from the log; earlier ones went with the log start.
    if (a.lastOffset >= snapshotOffset || a.lastOffset < log.logStartOffset) continue;
    let present = false;
    try {
      const { records } = await log.read(a.lastOffset, 256, { maxOffset: log.logEndOffset, minOneBatch: true });
      for (const b of iterateBatches(records)) {
        const last = b.baseOffset + BigInt(readLastOffsetDelta(b.buf));
        if (last < a.lastOffset) continue;
        present = b.baseOffset <= a.lastOffset && b.magic === 2 && isControl(readAttributes(b.buf)) && readProducerId(b.buf) === a.producerId
          && readRecordCount(b.buf) > 0 && readControlRecord(b.buf).type === ControlRecordType.ABORT;
        break;
      }
    } catch (e) {
      if (!(e instanceof CorruptLogError)) throw e;
      present = true; // cannot tell: keep reporting it
    }
    if (!present) gone.push({ producerId: a.producerId, offset: a.lastOffset });
  }
  if (gone.length > 0) state.abortMarkersRemoved(gone);
}

/** What the last snapshot of a partition covered. */
export interface SnapshotMark {
  changes: number;
  offset: bigint;
}

/**
 * Snapshots the state when it changed or the log grew since `last`. The state and the log end
 * offset move together (a batch's producer entry is recorded as its append assigns the offset), so
 * the snapshot is of the log up to its end even while appends are being written: the log writes the
 * snapshot after them (writeSnapshot), and recovery drops a snapshot a crash leaves past the log.
 * A log without producer ids gets snapshots too: they are what spares the next start reading the whole log.
 */
export async function snapshotProducerState(log: PartitionLog, state: ProducerStateManager, last: SnapshotMark): Promise<SnapshotMark> {
  const offset = log.logEndOffset;
  if (state.changes === last.changes && offset === last.offset) return last;
  const changes = state.changes;
  await log.writeSnapshot(offset, state.toSnapshot());
  return { changes, offset };
}

export async function rebuildProducerState(log: PartitionLog, from = log.logStartOffset, state = new ProducerStateManager(), skipped?: SkippedDamage): Promise<ProducerStateManager> {
  let offset = from < log.logStartOffset ? log.logStartOffset : from;
  const end = log.logEndOffset;
  while (offset < end) {
    let records: Buffer;
    try {
      ({ records } = await log.read(offset, CHUNK, { maxOffset: end, minOneBatch: true }));
    } catch (e) {
      if (!(e instanceof CorruptLogError)) throw e;
      // A batch damaged in a segment that recovery trusts (Kafka's replay starts past it, from the
      // snapshot taken at roll): that segment ends there, and the replay goes on from the next.
      const next = log.segmentTimes().find((seg) => seg.baseOffset > offset)?.baseOffset ?? null;
      skipped?.(offset, next, e);
      if (next === null) break;
      offset = next;
      continue;
    }
    if (records.length === 0) break;
    const before = offset;
    for (const b of iterateBatches(records)) {
      if (b.magic !== 2) continue;
      const last = b.baseOffset + BigInt(readLastOffsetDelta(b.buf));
      if (last < offset) continue;
      replayBatch(state, b.buf, b.baseOffset);
      offset = last + 1n;
    }
    if (offset === before) break;
  }
  state.logStartMoved(log.logStartOffset);
  return state;
}
