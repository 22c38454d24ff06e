/**
 * Loading a partition directory at open, and rebuilding indexes.
 *
 * - An interrupted cleaner swap is completed, as Kafka's LogLoader does: a `<base>.log.swap` is a
 *   cleaned segment fully written and fsynced; every segment file with a base offset in
 *   [base, its next offset) is deleted (what it replaces) and the `.swap` takes its final name (its
 *   indexes are rebuilt). `.cleaned` files are an unfinished cleaning: discarded.
 * - Leftovers are removed: `*.deleted` / `*.tmp` / `*.cleaned` / other `*.swap` segment files,
 *   index files whose `.log` is gone, and producer snapshots past the recovered log end.
 * - Segments are sorted by base offset (the 20-digit file name).
 * - Older segments were sealed when they were rolled, and fsynced soon after, in the background.
 *   Their index sizes and last entries are checked; after an unclean shutdown the segments from
 *   the partition's recovery point on (recovery-points.ts: their fsync may not have finished) are
 *   checked batch by batch, CRC included, with their indexes rebuilt (without a recovery point, a
 *   directory of an older version, every index file is read and validated in full instead). A missing or corrupt index is rebuilt by
 *   scanning the segment; should the scan meet an invalid batch, the segment is truncated there
 *   and every later segment dropped (what Kafka's log recovery does).
 * - The last segment, after a clean shutdown, is checked from its last offset-index entry to the
 *   end of the file, batch by batch: sane length, magic 2, offsets increasing and within int32 of
 *   the base offset. Index entries past the last good batch are dropped, missing ones re-added; an
 *   index that does not agree with the log (corrupt, or its last entry not naming the batch it
 *   points at) is rebuilt from position 0. After an unclean shutdown the whole segment is checked
 *   from position 0, CRC-32C included, and its indexes rebuilt, as Kafka recovers everything past
 *   its recovery point. Either way the file is truncated at the first torn or invalid batch.
 */
import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { readBatchHeader } from '../../../protocol/records/index.js';
import { isZeroPadding } from './direct-writer.js';
import { atomicWrite, fsyncDir, isNotFound, listDir, openForReading, readAt, readFileOrNull, readSmallFileOrNull, statOrNull, unlinkIfExists, type PositionalReader } from './fs-util.js';
import type { StorageLogger } from './logger.js';
import { INDEX_SUFFIX, LOG_SUFFIX, parseSegmentFileName, SNAPSHOT_FILE, SWAP_SUFFIX, TIME_INDEX_SUFFIX } from './names.js';
import { OFFSET_INDEX_ENTRY_SIZE, OffsetIndex } from './offset-index.js';
import { scanBatches, type ScanOutcome } from './scan.js';
import { Segment } from './segment.js';
import { TIME_INDEX_ENTRY_SIZE, TimeIndex } from './time-index.js';
import { join } from 'node:path';

export interface LoadOptions {
  dir: string;
  /** The directory is there already (else it is made). */
  exists: boolean;
  /** The previous process wrote the clean-shutdown marker. */
  clean: boolean;
  indexIntervalBytes: number;
  /** logStartOffset from the checkpoint, if the partition has an entry. */
  checkpointedLogStart: bigint | undefined;
  /**
   * Segments holding offsets from here on may not be fsynced: after an unclean shutdown they are
   * checked in full. Undefined: every segment but the last is (a data directory of an older version).
   */
  recoveryPoint?: bigint;
  logger: StorageLogger;
  now: number;
  /** `topic-partition`, for log lines. */
  name: string;
}

export interface LoadedLog {
  /** Sorted by base offset; the last one is open for writing. */
  segments: Segment[];
  logStartOffset: bigint;
  /** Bytes cut from torn or invalid tails. */
  truncatedBytes: number;
  /** The active segment's files may differ from what was last fsynced (written before an unclean shutdown, or changed by the recovery). */
  unsynced: boolean;
}

export async function loadPartition(o: LoadOptions): Promise<LoadedLog> {
  if (!o.exists) await fsp.mkdir(o.dir, { recursive: true });
  let names = listDir(o.dir);
  if (await completeSwaps(o, names)) names = listDir(o.dir);
  const logBases = new Set<bigint>();
  for (const name of names) {
    const f = parseSegmentFileName(name);
    if (f && f.trailer === null && f.suffix === LOG_SUFFIX) logBases.add(f.baseOffset);
  }
  for (const name of names) {
    const f = parseSegmentFileName(name);
    if (!f) continue;
    const orphanIndex = f.trailer === null && (f.suffix === INDEX_SUFFIX || f.suffix === TIME_INDEX_SUFFIX) && !logBases.has(f.baseOffset);
    if (f.trailer !== null || orphanIndex) {
      o.logger.info({ partition: o.name, file: name }, 'removing leftover segment file');
      await unlinkIfExists(join(o.dir, name));
    }
  }
  const bases = [...logBases].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

  const segments: Segment[] = [];
  let loaded: LoadedLog;
  try {
    loaded = await loadSegments(o, bases, segments);
  } catch (e) {
    // The active segment's descriptors are open from recovery on: a failure (EMFILE, say) closes them.
    await Promise.all(segments.map((seg) => seg.closeWriter()));
    throw e;
  }
  // A producer snapshot past the recovered log end describes batches a crash cut away: once the
  // log grows past it again it would be taken for this log's (Kafka's truncateAndReload deletes it).
  const end = loaded.segments[loaded.segments.length - 1]!.nextOffset;
  for (const name of names) {
    const m = SNAPSHOT_FILE.exec(name);
    if (m === null || BigInt(m[1]!) <= end) continue;
    o.logger.warn({ partition: o.name, file: name, logEndOffset: String(end) }, 'removing a producer snapshot past the log end');
    await unlinkIfExists(join(o.dir, name));
  }
  return loaded;
}

async function loadSegments(o: LoadOptions, bases: bigint[], segments: Segment[]): Promise<LoadedLog> {
  let truncatedBytes = 0;
  let unsynced = false;
  for (let i = 0; i < bases.length; i++) {
    const seg = new Segment(o.dir, bases[i]!, o.now);
    segments.push(seg);
    if (i === bases.length - 1) {
      const recovered = await recoverActive(seg, o);
      truncatedBytes += recovered.truncated;
      unsynced = recovered.unsynced;
      break;
    }
    const unflushed = !o.clean && o.recoveryPoint !== undefined && bases[i + 1]! > o.recoveryPoint;
    const cut = await loadInactive(seg, bases[i + 1]!, o, unflushed);
    if (cut >= 0) {
      truncatedBytes += cut;
      // Below the recovery point the later segments reached the disk before this one was damaged
      // (a bad sector, a hand edit): as Kafka's recoverSegment, only this segment is cut, and the
      // log reads on from the next one.
      if (!unflushed) continue;
      // A segment not yet fsynced when the broker died: what follows it was written after the
      // lost bytes (Kafka's recoverLog). Drop the later segments and carry on with this one as the active segment.
      for (const later of bases.slice(i + 1)) {
        const dropped = new Segment(o.dir, later, o.now);
        const st = await statOrNull(dropped.logPath);
        truncatedBytes += st?.size ?? 0;
        o.logger.error({ partition: o.name, segment: String(later) }, 'dropping segment after an invalid batch in an earlier segment');
        for (const p of dropped.paths) await unlinkIfExists(p);
      }
      segments.pop();
      const active = new Segment(o.dir, bases[i]!, o.now);
      segments.push(active);
      const recovered = await recoverActive(active, o);
      truncatedBytes += recovered.truncated;
      unsynced = recovered.unsynced;
      break;
    }
  }
  const cp = o.checkpointedLogStart;
  const recoveredEnd = segments.length > 0 ? segments[segments.length - 1]!.nextOffset : null;
  if (cp !== undefined && recoveredEnd !== null && cp > recoveredEnd) {
    // The log start had moved (DeleteRecords, retention) past what a crash left of the log: as
    // Kafka's LogLoader, the log starts again, empty, at the checkpoint, so that no offset below
    // it is handed out a second time.
    o.logger.warn({ partition: o.name, logStartOffset: String(cp), logEndOffset: String(recoveredEnd) }, 'log start offset checkpoint past the recovered log end: the log starts again, empty, there');
    for (const seg of segments) {
      await seg.closeWriter();
      truncatedBytes += (await statOrNull(seg.logPath))?.size ?? 0;
      for (const p of seg.paths) await unlinkIfExists(p);
    }
    segments.length = 0;
  }
  if (segments.length === 0) {
    const seg = new Segment(o.dir, cp ?? 0n, o.now);
    seg.resetDerivedState(0, 0);
    segments.push(seg);
    seg.active = true;
    await seg.openWriter();
    await seg.persistIndexes();
    // The files exist now; as after a clean start, the descriptors open at the first append, so
    // that thousands of partitions created and never written hold none.
    await seg.closeWriter();
  }
  const active = segments[segments.length - 1]!;
  let logStartOffset = segments[0]!.baseOffset;
  if (cp !== undefined && cp > logStartOffset) logStartOffset = cp < active.nextOffset ? cp : active.nextOffset;
  return { segments, logStartOffset, truncatedBytes, unsynced };
}

/** Finishes cleaner swaps interrupted by a crash (Kafka's LogLoader with `.swap` files); returns whether there were any. */
async function completeSwaps(o: LoadOptions, names: string[]): Promise<boolean> {
  const swaps = names.map((n) => ({ n, f: parseSegmentFileName(n) })).filter(({ f }) => f && f.trailer === SWAP_SUFFIX && f.suffix === LOG_SUFFIX);
  if (swaps.length === 0) return false;
  for (const { n, f } of swaps) {
    const base = f!.baseOffset;
    const path = join(o.dir, n);
    const fh = await fsp.open(path, 'r+');
    let next = base;
    try {
      const size = (await fh.stat()).size;
      const outcome = await scanBatches(fh, 0, size, { validateOffsets: true, crc: false, wholeBatches: false, minBaseOffset: base, segmentBase: base }, (b) => {
        next = b.lastOffset + 1n;
      });
      if (outcome.invalid !== null) {
        // Written and fsynced before its rename: this should not happen. Keep what is whole.
        o.logger.error({ partition: o.name, file: n, reason: outcome.invalid }, 'invalid batch in a .swap segment, truncating');
        await fh.truncate(outcome.end);
        await fh.datasync();
      }
    } finally {
      await fh.close();
    }
    // What the swap replaces: segment files from its base offset to its next offset (at least its own base).
    const upTo = next > base ? next : base + 1n;
    for (const other of names) {
      const g = parseSegmentFileName(other);
      if (!g || g.trailer !== null || g.baseOffset < base || g.baseOffset >= upTo) continue;
      await unlinkIfExists(join(o.dir, other));
    }
    await fsp.rename(path, path.slice(0, -SWAP_SUFFIX.length));
    o.logger.info({ partition: o.name, segment: String(base), nextOffset: String(next) }, 'completed an interrupted cleaner swap');
  }
  await fsyncDir(o.dir);
  return true;
}

/**
 * Checks an older segment; rebuilds its indexes when missing or corrupt, or when the segment may
 * not have been fsynced (`unflushed`: then every batch is checked). Returns -1 when the segment is
 * usable as is, else the bytes truncated from it (then it must become the active one).
 */
async function loadInactive(seg: Segment, nextBase: bigint, o: LoadOptions, unflushed: boolean): Promise<number> {
  const st = await fsp.stat(seg.logPath);
  seg.size = st.size;
  seg.mtimeMs = st.mtimeMs;
  seg.nextOffset = nextBase;
  if (unflushed) {
    o.logger.info({ partition: o.name, segment: String(seg.baseOffset) }, 'checking a segment rolled shortly before an unclean shutdown');
  } else {
    // Below the recovery point the index files were fsynced with their segment: their sizes and last
    // entries are checked, as Kafka's sanityCheck does, unless no recovery point was ever kept.
    const problem = o.clean || o.recoveryPoint !== undefined ? await lightIndexCheck(seg, nextBase) : await fullIndexCheck(seg, nextBase);
    if (problem === null) return -1;
    o.logger.warn({ partition: o.name, segment: String(seg.baseOffset), problem }, 'rebuilding segment indexes');
  }
  const fh = await fsp.open(seg.logPath, 'r+');
  try {
    const { scratch, outcome } = await rebuildFromLog(seg, fh, st.size, o.indexIntervalBytes);
    adopt(seg, scratch);
    // Only the zeros direct appends pad with, after a last batch the next segment continues: cut them, keep the segment.
    const padding = outcome.invalid !== null && seg.nextOffset === nextBase && (await isZeroPadding(fh, outcome.end, st.size));
    if (outcome.invalid !== null && !padding) {
      o.logger.error({ partition: o.name, segment: String(seg.baseOffset), position: outcome.end, reason: outcome.invalid }, 'invalid batch in an older segment, truncating');
      await fh.truncate(outcome.end);
      await fh.datasync();
      seg.size = outcome.end;
      seg.sealTimeIndex();
      await writeIndexFiles(seg);
      return st.size - outcome.end;
    }
    if (padding) await fh.truncate(outcome.end);
    seg.sealTimeIndex();
    await writeIndexFiles(seg);
    // Checked, it is trusted from now on: it must be on the disk (a later roll's fsync moves the recovery point past it).
    if (unflushed || padding) await fh.datasync();
    return -1;
  } finally {
    await fh.close();
  }
}

/** Clean shutdown: sizes are whole entries, the last offset entry points inside the log, the last time entry inside the segment. */
async function lightIndexCheck(seg: Segment, nextBase: bigint): Promise<string | null> {
  const idx = await statOrNull(seg.indexPath);
  const tim = await statOrNull(seg.timeIndexPath);
  if (!idx || !tim) return 'index file missing';
  if (idx.size % OFFSET_INDEX_ENTRY_SIZE !== 0) return `offset index size ${idx.size}`;
  if (tim.size % TIME_INDEX_ENTRY_SIZE !== 0) return `time index size ${tim.size}`;
  if (idx.size > 0) {
    const last = await readTail(seg.indexPath, OFFSET_INDEX_ENTRY_SIZE);
    const rel = last.readInt32BE(0);
    const pos = last.readInt32BE(4);
    if (rel < 0 || pos < 0 || pos >= seg.size) return `last offset index entry (${rel}, ${pos}) outside the log`;
  }
  if (tim.size > 0) {
    const last = await readTail(seg.timeIndexPath, TIME_INDEX_ENTRY_SIZE);
    const ts = last.readBigInt64BE(0);
    const offset = seg.baseOffset + BigInt(last.readInt32BE(8));
    if (ts < 0n || offset < seg.baseOffset || offset >= nextBase) return `last time index entry (${ts}, ${offset}) outside the segment`;
    seg.maxTimestamp = ts;
    seg.maxTimestampOffset = offset;
  }
  return null;
}

/** Unclean shutdown: every entry of both index files is checked. */
async function fullIndexCheck(seg: Segment, nextBase: bigint): Promise<string | null> {
  const idxData = await readFileOrNull(seg.indexPath);
  const timData = await readFileOrNull(seg.timeIndexPath);
  if (idxData === null || timData === null) return 'index file missing';
  const idx = OffsetIndex.parse(seg.baseOffset, idxData, seg.size);
  if (typeof idx === 'string') return `offset index: ${idx}`;
  const tim = TimeIndex.parse(seg.baseOffset, timData, nextBase - 1n);
  if (typeof tim === 'string') return `time index: ${tim}`;
  const last = tim.lastEntry();
  seg.maxTimestamp = last.timestamp;
  seg.maxTimestampOffset = last.offset;
  return null;
}

async function readTail(path: string, bytes: number): Promise<Buffer> {
  const fh = await fsp.open(path, 'r');
  try {
    const { size } = await fh.stat();
    return await readAt(fh, bytes, size - bytes);
  } finally {
    await fh.close();
  }
}

/**
 * Recovers the last segment, the active one. Returns the bytes truncated, and whether its files
 * may hold bytes not fsynced yet.
 */
async function recoverActive(seg: Segment, o: LoadOptions): Promise<{ truncated: number; unsynced: boolean }> {
  // At most segment.index.bytes each, read once at open (fs-util.ts: why synchronously).
  const idxData = readSmallFileOrNull(seg.indexPath);
  const timData = readSmallFileOrNull(seg.timeIndexPath);
  seg.active = true;
  // After a clean shutdown the segment is only read here (synchronously, as its indexes): its
  // write descriptors open at the first append, so a partition left alone holds none.
  const reader = o.clean ? openForReading(seg.logPath) : null;
  if (reader === null) await seg.openWriter();
  let recovered: { truncated: number; unsynced: boolean };
  try {
    recovered = await recoverActiveWith(seg, o, reader ?? seg.logFh!, idxData, timData);
  } finally {
    reader?.close();
  }
  // Checked (and cut, indexes written): the write descriptors open again at the first append, as
  // after a clean start. Kept open, every partition of a data dir recovered after a crash held
  // three, and a broker with thousands of partitions ran out of them before it could listen.
  // (An fsync still owed goes through the descriptors opened then: it flushes the file, not the descriptor.)
  await seg.closeWriter();
  return recovered;
}

async function recoverActiveWith(seg: Segment, o: LoadOptions, fh: PositionalReader, idxData: Buffer | null, timData: Buffer | null): Promise<{ truncated: number; unsynced: boolean }> {
  const st = await fh.stat();
  const fileSize = st.size;
  seg.mtimeMs = st.mtimeMs;
  const base = seg.baseOffset;

  let rebuild: string | null = null;
  let outcome: ScanOutcome | null = null;
  const idx = idxData === null ? 'missing' : OffsetIndex.parse(base, idxData, fileSize);
  const tim = timData === null ? 'missing' : TimeIndex.parse(base, timData);
  // After an unclean shutdown every batch of the active segment is checked again, CRC included:
  // it was never fsynced as a whole, so a lost page may sit anywhere in it, not only at the end
  // (Kafka recovers everything past its recovery point, which is where the active segment starts).
  const recheck = !o.clean;
  if (!recheck && typeof idx === 'string') rebuild = `offset index: ${idx}`;
  else if (!recheck && typeof tim === 'string') rebuild = `time index: ${tim}`;
  else if (!recheck && typeof idx !== 'string' && typeof tim !== 'string') {
    // Resume from the last indexed batch: everything before it is trusted.
    const indexed = idx.entries > 0;
    const last = idx.lastEntry();
    tim.truncateAbove(indexed ? last.offset : base - 1n);
    seg.offsetIndex = idx;
    seg.timeIndex = tim;
    const tl = tim.lastEntry();
    seg.maxTimestamp = tl.timestamp;
    seg.maxTimestampOffset = tl.offset;
    seg.maxTimestampPosition = -1;
    seg.size = last.position;
    const state = { first: indexed, mismatch: null as string | null };
    outcome = await scanBatches(
      fh,
      last.position,
      fileSize,
      // After a clean shutdown: the CRCs were checked when the batches were appended.
      { validateOffsets: true, crc: false, wholeBatches: false, minBaseOffset: base, segmentBase: base },
      (b) => {
        if (state.first) {
          state.first = false;
          if (b.lastOffset !== last.offset) {
            state.mismatch = `last index entry names offset ${last.offset}, the batch at ${b.position} ends at ${b.lastOffset}`;
            return false;
          }
          // This batch is already indexed: account for it as Kafka's append did right after indexing it.
          if (b.maxTimestamp > seg.maxTimestamp) {
            seg.maxTimestamp = b.maxTimestamp;
            seg.maxTimestampOffset = b.lastOffset;
            seg.maxTimestampPosition = b.position;
          }
          seg.bytesSinceLastIndexEntry = b.size;
          seg.size = b.position + b.size;
          seg.nextOffset = b.lastOffset + 1n;
          return true;
        }
        seg.appendedBatch(b, o.indexIntervalBytes);
        return true;
      },
    );
    if (state.mismatch !== null) rebuild = state.mismatch;
    else if (indexed && outcome.invalid !== null && outcome.end === last.position) rebuild = `indexed batch invalid: ${outcome.invalid}`;
  }
  if (rebuild !== null || recheck) {
    if (rebuild !== null) o.logger.warn({ partition: o.name, segment: String(base), problem: rebuild }, 'rebuilding segment indexes');
    // A whole segment is read asynchronously (the synchronous reader is for a tail), and the
    // index files are rewritten (created, when missing) through the write descriptors.
    await seg.openWriter();
    const r = await rebuildFromLog(seg, seg.logFh!, fileSize, o.indexIntervalBytes);
    outcome = r.outcome;
    adopt(seg, r.scratch);
    // Nothing of the old files is trusted: the next persist rewrites them from the first byte.
    seg.offsetIndex!.distrustFile(idxData?.length ?? 0);
    seg.timeIndex!.distrustFile(timData?.length ?? 0);
  }
  const end = outcome!.end;
  if (outcome!.invalid !== null && !(await isZeroPadding(fh, end, fileSize))) {
    o.logger.warn({ partition: o.name, segment: String(base), position: end, bytes: fileSize - end, reason: outcome!.invalid }, 'truncating torn or invalid log tail');
  }
  if (end < fileSize) {
    await seg.openWriter();
    await seg.logFh!.truncate(end);
    await seg.logFh!.datasync();
  }
  seg.size = end;
  if (seg.size === 0) {
    seg.nextOffset = base;
    seg.firstBatchTimestamp = null;
  } else if (seg.firstBatchTimestamp === null) {
    seg.firstBatchTimestamp = readBatchHeader(await readAt(fh, 61, 0)).maxTimestamp;
  }
  seg.sealTimeIndex();
  const indexWrites = await seg.persistIndexes();
  if (fileSize !== end) {
    await seg.sync(true);
    return { truncated: fileSize - end, unsynced: false };
  }
  return { truncated: 0, unsynced: !o.clean || indexWrites > 0 };
}

/** Scans a whole segment (validating, with CRC) into a scratch segment holding the rebuilt state. */
export async function rebuildFromLog(seg: Segment, fh: PositionalReader, fileSize: number, indexIntervalBytes: number): Promise<{ scratch: Segment; outcome: ScanOutcome }> {
  const scratch = new Segment(seg.dir, seg.baseOffset, seg.created);
  scratch.resetDerivedState(0, 0);
  const outcome = await scanBatches(
    fh,
    0,
    fileSize,
    { validateOffsets: true, crc: true, wholeBatches: false, minBaseOffset: seg.baseOffset, segmentBase: seg.baseOffset },
    (b) => scratch.appendedBatch(b, indexIntervalBytes),
  );
  return { scratch, outcome };
}

/** Takes the rebuilt log-derived state of `scratch`. */
function adopt(seg: Segment, scratch: Segment): void {
  seg.offsetIndex = scratch.offsetIndex;
  seg.timeIndex = scratch.timeIndex;
  seg.size = scratch.size;
  seg.nextOffset = scratch.nextOffset;
  seg.maxTimestamp = scratch.maxTimestamp;
  seg.maxTimestampOffset = scratch.maxTimestampOffset;
  seg.maxTimestampPosition = scratch.maxTimestampPosition;
  seg.firstBatchTimestamp = scratch.firstBatchTimestamp;
  seg.bytesSinceLastIndexEntry = scratch.bytesSinceLastIndexEntry;
}

/** Writes both index files of an inactive segment from memory. */
export async function writeIndexFiles(seg: Segment): Promise<void> {
  await atomicWrite(seg.indexPath, seg.offsetIndex!.toBuffer());
  await atomicWrite(seg.timeIndexPath, seg.timeIndex!.toBuffer());
  seg.offsetIndex!.markPersisted();
  seg.timeIndex!.markPersisted();
}

export interface IndexLoadOptions {
  indexIntervalBytes: number;
  logger: StorageLogger;
  name: string;
  now: number;
}

/**
 * Loads the indexes of an inactive segment on first use, validating every entry; rebuilds them
 * from the log when missing or corrupt. Throws ENOENT when the segment was deleted meanwhile.
 */
export async function loadSegmentIndexes(seg: Segment, o: IndexLoadOptions): Promise<void> {
  if (seg.offsetIndex && seg.timeIndex) return;
  if (!seg.indexLoad) {
    seg.indexLoad = doLoad(seg, o).finally(() => {
      seg.indexLoad = null;
    });
  }
  await seg.indexLoad;
}

async function doLoad(seg: Segment, o: IndexLoadOptions): Promise<void> {
  const idxData = await readFileOrNull(seg.indexPath);
  const timData = await readFileOrNull(seg.timeIndexPath);
  const idx = idxData === null ? 'missing' : OffsetIndex.parse(seg.baseOffset, idxData, seg.size);
  const tim = timData === null ? 'missing' : TimeIndex.parse(seg.baseOffset, timData, seg.nextOffset - 1n);
  if (typeof idx !== 'string' && typeof tim !== 'string') {
    seg.offsetIndex = idx;
    seg.timeIndex = tim;
    return;
  }
  if (seg.deleted) throw Object.assign(new Error(`segment ${seg.logPath} was deleted`), { code: 'ENOENT' });
  o.logger.warn({ partition: o.name, segment: String(seg.baseOffset), problem: typeof idx === 'string' ? idx : tim }, 'rebuilding segment indexes');
  let fh: FileHandle;
  try {
    fh = await fsp.open(seg.logPath, 'r');
  } catch (e) {
    if (isNotFound(e)) seg.deleted = true;
    throw e;
  }
  try {
    const { scratch, outcome } = await rebuildFromLog(seg, fh, seg.size, o.indexIntervalBytes);
    if (outcome.invalid !== null) {
      o.logger.error({ partition: o.name, segment: String(seg.baseOffset), position: outcome.end, reason: outcome.invalid }, 'invalid batch in an older segment; indexing up to it');
    }
    scratch.sealTimeIndex();
    seg.offsetIndex = scratch.offsetIndex;
    seg.timeIndex = scratch.timeIndex;
    if (!seg.deleted) await writeIndexFiles(seg);
  } finally {
    await fh.close();
  }
}
