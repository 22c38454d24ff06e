/** Rebuilds a partition's producer state from its log, reading batch headers (and markers) only. */
import {
  ControlRecordType, isControl, isTransactional, iterateBatches, readAttributes, readBaseSequence, readControlRecord,
  readLastOffsetDelta, readMaxTimestamp, readProducerEpoch, readProducerId,
} from '../../../protocol/records/index.js';
import type { PartitionLog } from '../../storage/storage.js';
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
export async function loadProducerState(log: PartitionLog, expiry: ProducerExpiry): Promise<{ state: ProducerStateManager; mark: SnapshotMark | null }> {
  const { state, snapshotOffset } = await loadOrReplay(log, expiry);
  // Markers replayed are all in the log already: none holds the last stable offset back.
  state.markersVisible(log.highWatermark);
  const end = log.logEndOffset;
  return { state, mark: snapshotOffset === end && state.changes === 0 ? { changes: state.changes, offset: end } : null };
}

async function loadOrReplay(log: PartitionLog, expiry: ProducerExpiry): Promise<{ state: ProducerStateManager; snapshotOffset: bigint | null }> {
  const snapshot = await log.readSnapshot().catch(() => null);
  if (snapshot) {
    try {
      return { state: await rebuildProducerState(log, snapshot.offset, ProducerStateManager.fromSnapshot(snapshot.data, expiry)), snapshotOffset: snapshot.offset };
    } catch {
      // A damaged snapshot: replay the whole log instead.
    }
  }
  return { state: await rebuildProducerState(log), snapshotOffset: null };
}

/** What the last snapshot of a partition covered. */
export interface SnapshotMark {
  changes: number;
  offset: bigint;
}

/**
 * Snapshots the state when it changed or the log grew since `last`, and no append is in flight
 * (so the log holds all of it). A log without producer ids gets snapshots too: they are what
 * spares the next start reading the whole log.
 */
export async function snapshotProducerState(log: PartitionLog, state: ProducerStateManager, last: SnapshotMark): Promise<SnapshotMark> {
  const offset = log.logEndOffset;
  if ((state.changes === last.changes && offset === last.offset) || offset !== log.highWatermark) return last;
  const changes = state.changes;
  await log.writeSnapshot(offset, state.toSnapshot());
  return { changes, offset };
}

export async function rebuildProducerState(log: PartitionLog, from = log.logStartOffset, state = new ProducerStateManager()): Promise<ProducerStateManager> {
  let offset = from < log.logStartOffset ? log.logStartOffset : from;
  const end = log.logEndOffset;
  while (offset < end) {
    const { records } = await log.read(offset, CHUNK, { maxOffset: end, minOneBatch: true });
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
