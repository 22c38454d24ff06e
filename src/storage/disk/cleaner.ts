/**
 * The disk engine's log cleaner for one partition: Kafka's Cleaner.doClean split into bounded
 * calls.
 *
 * A round: decide whether the log is due (compaction.ts planCleaning); learn every segment's
 * producer summary once (a header scan of segments written by an earlier run); build the offset
 * map over the dirty section [first dirty, first uncleanable), stopping when the map is full or
 * the call's byte budget is spent; then clean the segments below the map's end, group by group
 * (groups of segments that fit segment.bytes become one), each into `<base>.log.cleaned` (with
 * its indexes), fsynced, then swapped in by the partition log (`.cleaned` → `.swap` → final
 * names, on the partition's I/O queue). When the last group is done the cleaner checkpoint moves
 * to the map's end. A call stops after the group during which it passed its byte budget; the
 * round goes on at the next call. So one call reads about bytesPerPass, plus at most one dirty
 * segment (the map stops at segment ends) and one group.
 *
 * Sources are inactive segments, never written again: they are read with their own descriptors,
 * outside the partition's I/O queue, so appends and reads go on meanwhile.
 */
import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import {
  BATCH_HEADER_SIZE,
  LOG_OVERHEAD,
  readBaseOffset,
  readBatchSize,
  readLastOffsetDelta,
  readMaxTimestamp,
  readProducerId,
} from '../../../protocol/records/index.js';
import {
  cleanBatch,
  groupSegmentsBySize,
  mapBatch,
  OffsetMap,
  planCleaning,
  ProducerSummary,
  producerStateKeeper,
  segmentsIn,
  TxnIndex,
  TxnTracker,
  type CleanContext,
} from '../compaction.js';
import { policyCompacts, type AbortMarker, type CompactionResult, type LogConfig } from '../storage.js';
import { readAt, unlinkIfExists, writeAllAt } from './fs-util.js';
import type { StorageLogger } from './logger.js';
import { CLEANED_SUFFIX } from './names.js';
import { scanBatches } from './scan.js';
import { Segment } from './segment.js';

/** What the cleaner needs from its partition log. */
export interface CleanerHost {
  readonly name: string;
  readonly dir: string;
  readonly logStartOffset: bigint;
  readonly logEndOffset: bigint;
  readonly highWatermark: bigint;
  readonly config: LogConfig;
  readonly logger: StorageLogger;
  /** The current segments, oldest first; the last is active. */
  currentSegments(): readonly Segment[];
  /** Closing or failed: stop as soon as possible. */
  stopping(): boolean;
  /** Producer summary of batches appended in this run to a segment whose summary is unknown. */
  lateSummary(seg: Segment): ProducerSummary | null;
  /** Swaps `cleaned` in for `group` (on the I/O queue); false when the group changed meanwhile. */
  replaceSegments(group: Segment[], cleaned: Segment): Promise<boolean>;
  readCheckpoint(): bigint | undefined;
  writeCheckpoint(offset: bigint): Promise<void>;
  /** Tests: called at each step where a crash is simulated. */
  hook(stage: string): void;
}

export interface CleanerOptions {
  /** Bytes read (map and cleaning) after which a call stops at the end of its current group. */
  bytesPerPass: number;
  /** Memory for the offset map (Kafka's log.cleaner.dedupe.buffer.size). */
  dedupeBufferBytes: number;
  producerIdExpirationMs: number;
}

interface Round {
  now: number;
  firstDirty: bigint;
  /** Offsets below are cleaned by this round (the map's latest offset + 1). */
  endOffset: bigint;
  /** First uncleanable offset: the batch ending right before it is kept even when emptied. */
  upperBound: bigint;
  map: OffsetMap;
  txn: TxnTracker;
  keepsProducerState: (batch: Buffer) => boolean;
  /** Groups from the segment at or after this base offset remain. */
  cursor: bigint;
}

/** Thrown by tests' hooks: behave as a killed process (no cleanup). */
export const isSimulatedCrash = (e: unknown): boolean => typeof e === 'object' && e !== null && (e as { simulatedCrash?: unknown }).simulatedCrash === true;

class Aborted extends Error {}

const CHUNK = 1024 * 1024;
/** Longest stretch of record work between two turns of the event loop. */
const SLICE_MS = 4;

const emptyResult = (): CompactionResult => ({
  firstDirtyOffset: 0n, cleanedUpTo: 0n, complete: false, segmentsCleaned: 0, bytesRead: 0, bytesWritten: 0, bytesFreed: 0, recordsRead: 0, recordsRetained: 0, abortMarkersRemoved: [],
});

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const WRITE_BUFFER = 1024 * 1024;

export class LogCleaner {
  private round: Round | null = null;
  /** ABORT markers removed by swapped-in segments and not yet told in a result. */
  private abortMarkersRemoved: AbortMarker[] = [];

  constructor(
    private readonly host: CleanerHost,
    private readonly options: CleanerOptions,
  ) {}

  /** Forgets a round in progress (config change, DeleteRecords): the next call plans anew. */
  reset(): void {
    this.round = null;
  }

  /**
   * One call; its result also tells the ABORT markers removed by replacements not told yet (a call
   * that failed after some, say), even when this call cleaned nothing.
   */
  async run(now: number, lastStableOffset: bigint): Promise<CompactionResult | null> {
    let result = await this.runOnce(now, lastStableOffset);
    if (this.abortMarkersRemoved.length > 0) {
      result ??= { ...emptyResult(), complete: true };
      result.abortMarkersRemoved = this.abortMarkersRemoved;
      this.abortMarkersRemoved = [];
    }
    return result;
  }

  private async runOnce(now: number, lastStableOffset: bigint): Promise<CompactionResult | null> {
    const host = this.host;
    const cfg = host.config;
    if (!policyCompacts(cfg.cleanupPolicy)) {
      this.round = null;
      return null;
    }
    const result = emptyResult();
    try {
      if (this.round === null) {
        const round = await this.startRound(now, result, lastStableOffset);
        if (round === null) return null;
        this.round = round;
      }
      const round = this.round;
      result.firstDirtyOffset = round.firstDirty;
      result.cleanedUpTo = round.endOffset;
      for (;;) {
        if (host.stopping()) throw new Aborted('partition closing');
        const segs = host.currentSegments();
        const todo = segmentsIn(segs, round.cursor, round.endOffset).filter((s) => s.baseOffset >= round.cursor && s !== segs[segs.length - 1]);
        if (todo.length === 0) break;
        const group = groupSegmentsBySize(todo, cfg.segmentBytes, round.upperBound)[0]!;
        const after = segs[segs.indexOf(group[group.length - 1]!) + 1]!;
        await this.cleanGroup(round, group, after.baseOffset, result);
        round.cursor = after.baseOffset;
        if (result.bytesRead >= this.options.bytesPerPass) return result; // the round goes on at the next call
      }
      this.round = null;
      host.hook('round-done');
      await host.writeCheckpoint(round.endOffset);
      result.complete = true;
      host.logger.info(
        { partition: host.name, firstDirtyOffset: String(round.firstDirty), cleanedUpTo: String(round.endOffset), bytesRead: result.bytesRead, bytesWritten: result.bytesWritten, recordsRead: result.recordsRead, recordsRetained: result.recordsRetained },
        'log cleaning round done',
      );
      return result;
    } catch (e) {
      this.round = null;
      if (e instanceof Aborted) return null;
      throw e;
    }
  }

  private async startRound(now: number, result: CompactionResult, lastStableOffset: bigint): Promise<Round | null> {
    const host = this.host;
    const cfg = host.config;
    const segs = host.currentSegments();
    if (cfg.maxCompactionLagMs < Number.MAX_SAFE_INTEGER) await this.loadFirstBatchTimestamps(segs);
    const plan = planCleaning({
      segments: segs.map((s) => ({ baseOffset: s.baseOffset, size: s.size, largestTimestamp: s.largestTimestamp(), firstBatchTimestamp: s.firstBatchTimestamp })),
      logStartOffset: host.logStartOffset,
      logEndOffset: host.logEndOffset,
      lastStableOffset,
      checkpoint: host.readCheckpoint(),
      now,
      minCompactionLagMs: cfg.minCompactionLagMs,
      maxCompactionLagMs: cfg.maxCompactionLagMs,
      minCleanableDirtyRatio: cfg.minCleanableDirtyRatio,
    });
    if (plan.checkpointReset) await host.writeCheckpoint(plan.firstDirtyOffset);
    if (!plan.due) return null;

    // The whole log's producers and markers (segments of an earlier run are scanned once).
    const whole = new ProducerSummary();
    for (const seg of segs) whole.merge(await this.summaryOf(seg));
    const txnIndex = new TxnIndex(whole.markers);

    // Kafka's buildOffsetMap over the dirty section, bounded by the map's memory (at any batch)
    // and by the byte budget (at segment ends: a segment mapped in part counts as clean after).
    const map = new OffsetMap(this.options.dedupeBufferBytes);
    const dirty = segmentsIn(segs, plan.firstDirtyOffset, plan.firstUncleanableOffset);
    let stopped = false;
    for (let i = 0; i < dirty.length && !stopped; i++) {
      const seg = dirty[i]!;
      if (i > 0 && result.bytesRead >= this.options.bytesPerPass) break;
      const nextBase = i + 1 < dirty.length ? dirty[i + 1]!.baseOffset : plan.firstUncleanableOffset;
      let from = 0;
      if (seg.baseOffset < plan.firstDirtyOffset && seg.offsetIndex) from = seg.offsetIndex.lookup(plan.firstDirtyOffset).position;
      await this.forEachBatch(seg, from, async (batch) => {
        if (map.latestOffset >= 0n && map.full) {
          stopped = true;
          return false;
        }
        result.bytesRead += batch.length;
        await mapBatch(batch, map, txnIndex, plan.firstDirtyOffset);
        return true;
      });
      if (!stopped) map.updateLatestOffset(nextBase - 1n);
    }
    if (map.latestOffset < plan.firstDirtyOffset) return null;
    const endOffset = map.latestOffset + 1n;
    host.logger.info(
      { partition: host.name, firstDirtyOffset: String(plan.firstDirtyOffset), endOffset: String(endOffset), firstUncleanableOffset: String(plan.firstUncleanableOffset), keys: map.size, cleanableBytes: plan.cleanableBytes, cleanBytes: plan.cleanBytes },
      'log cleaning round starts',
    );
    const active = segs[segs.length - 1]!;
    return {
      now,
      firstDirty: plan.firstDirtyOffset,
      endOffset,
      upperBound: plan.firstUncleanableOffset,
      map,
      txn: new TxnTracker(txnIndex),
      keepsProducerState: producerStateKeeper(whole.producers, now, this.options.producerIdExpirationMs),
      cursor: segs[0]!.baseOffset < active.baseOffset ? segs[0]!.baseOffset : active.baseOffset,
    };
  }

  /** Cleans one group of segments into one `.cleaned` segment and has it swapped in. */
  private async cleanGroup(round: Round, group: Segment[], nextBase: bigint, result: CompactionResult): Promise<void> {
    const host = this.host;
    const cfg = host.config;
    const cleaned = new Segment(host.dir, group[0]!.baseOffset, Date.now());
    cleaned.fileSuffix = CLEANED_SUFFIX;
    cleaned.resetDerivedState(0, 0);
    cleaned.summary = new ProducerSummary();
    const ctx: CleanContext = {
      map: round.map,
      now: round.now,
      deleteRetentionMs: cfg.deleteRetentionMs,
      txn: round.txn,
      upperBound: round.upperBound,
      keepsProducerState: round.keepsProducerState,
    };
    let fh: FileHandle | null = await fsp.open(cleaned.logPath, 'w', 0o644);
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let written = 0;
    let changed = group.length > 1;
    let bytesIn = 0;
    const abortMarkersRemoved: AbortMarker[] = [];
    const flush = async (): Promise<void> => {
      if (pendingBytes === 0) return;
      await writeAllAt(fh!, pending, written);
      written += pendingBytes;
      pending = [];
      pendingBytes = 0;
    };
    try {
      for (const seg of group) {
        bytesIn += seg.size;
        await this.forEachBatch(seg, 0, async (batch) => {
          if (host.stopping()) throw new Aborted('partition closing');
          result.bytesRead += batch.length;
          const o = await cleanBatch(batch, ctx);
          result.recordsRead += o.recordsRead;
          result.recordsRetained += o.recordsRetained;
          if (!o.verbatim) changed = true;
          if (o.abortMarkerRemoved) abortMarkersRemoved.push({ producerId: readProducerId(batch), offset: readBaseOffset(batch) + BigInt(readLastOffsetDelta(batch)) });
          if (o.out === null) return true;
          const out = o.out; // a view of the chunk just read, or a new buffer: both stay as they are
          const baseOffset = readBaseOffset(out);
          cleaned.appendedBatch(
            { position: written + pendingBytes, size: out.length, baseOffset, lastOffset: baseOffset + BigInt(readLastOffsetDelta(out)), maxTimestamp: readMaxTimestamp(out) },
            cfg.indexIntervalBytes,
          );
          cleaned.summary!.add(out);
          pending.push(out);
          pendingBytes += out.length;
          if (pendingBytes >= WRITE_BUFFER) await flush();
          return true;
        });
      }
      await flush();
      if (!changed) {
        await fh.close();
        fh = null;
        await this.discard(cleaned);
        return;
      }
      cleaned.sealTimeIndex();
      cleaned.nextOffset = nextBase;
      const last = group[group.length - 1]!;
      cleaned.mtimeMs = last.mtimeMs;
      await fh.datasync();
      await fh.close();
      fh = null;
      // Kafka keeps the last source's modification time (retention of timestamp-less segments).
      await fsp.utimes(cleaned.logPath, new Date(), new Date(last.mtimeMs)).catch(() => undefined);
      for (const [path, data] of [
        [cleaned.indexPath, cleaned.offsetIndex!.toBuffer()],
        [cleaned.timeIndexPath, cleaned.timeIndex!.toBuffer()],
      ] as const) {
        const ifh = await fsp.open(path, 'w', 0o644);
        try {
          await ifh.writeFile(data);
          await ifh.sync();
        } finally {
          await ifh.close();
        }
      }
      cleaned.offsetIndex!.markPersisted();
      cleaned.timeIndex!.markPersisted();
      host.hook('cleaned-written');
      if (host.stopping()) throw new Aborted('partition closing');
      const swapped = await host.replaceSegments(group, cleaned);
      if (!swapped) {
        await this.discard(cleaned);
        throw new Aborted('segments changed while cleaning');
      }
      this.abortMarkersRemoved.push(...abortMarkersRemoved);
      result.segmentsCleaned += group.length;
      result.bytesWritten += written;
      result.bytesFreed += bytesIn - written;
    } catch (e) {
      if (isSimulatedCrash(e)) throw e;
      if (fh) await fh.close().catch(() => undefined);
      if (cleaned.fileSuffix === CLEANED_SUFFIX) await this.discard(cleaned);
      if (e instanceof Aborted) throw e;
      // A source segment deleted by retention or DeleteRecords meanwhile: give up this round.
      if (group.some((s) => s.deleted)) throw new Aborted('segment deleted while cleaning');
      throw e;
    }
  }

  private async discard(seg: Segment): Promise<void> {
    for (const p of seg.pathsWith(CLEANED_SUFFIX)) await unlinkIfExists(p).catch(() => undefined);
  }

  /**
   * Visits the whole batches of a segment from `from` in order, reading big chunks with the
   * segment's own descriptor; `visit` returns false to stop.
   */
  private async forEachBatch(seg: Segment, from: number, visit: (batch: Buffer) => Promise<boolean>): Promise<void> {
    let fh: FileHandle;
    try {
      fh = await fsp.open(seg.logPath, 'r');
    } catch (e) {
      if (seg.deleted) throw new Aborted('segment deleted while cleaning');
      throw e;
    }
    try {
      const end = seg.size;
      let pos = from;
      while (pos < end) {
        let buf = await readAt(fh, Math.min(CHUNK, end - pos), pos);
        if (buf.length < LOG_OVERHEAD) throw new Error(`${seg.logPath}: file ends at ${pos + buf.length}, before ${end}`);
        const first = readBatchSize(buf, 0);
        if (first < BATCH_HEADER_SIZE) throw new Error(`${seg.logPath}: corrupt batch length at ${pos}`);
        if (first > buf.length) {
          buf = await readAt(fh, first, pos);
          if (buf.length < first) throw new Error(`${seg.logPath}: file ends inside the batch at ${pos}`);
        }
        let p = 0;
        let sliceStart = performance.now();
        while (p + LOG_OVERHEAD <= buf.length) {
          const size = readBatchSize(buf, p);
          if (size < BATCH_HEADER_SIZE) throw new Error(`${seg.logPath}: corrupt batch length at ${pos + p}`);
          if (p + size > buf.length) break;
          if (!(await visit(buf.subarray(p, p + size)))) return;
          p += size;
          if (performance.now() - sliceStart > SLICE_MS) {
            await yieldToEventLoop();
            sliceStart = performance.now();
          }
        }
        pos += p;
      }
    } finally {
      await fh.close();
    }
  }

  /** A segment's producer summary: known, or learnt once by a scan of its batches. */
  private async summaryOf(seg: Segment): Promise<ProducerSummary> {
    if (seg.summary) return seg.summary;
    const scanned = new ProducerSummary();
    const fh = await fsp.open(seg.logPath, 'r');
    try {
      await scanBatches(fh, 0, seg.size, { validateOffsets: false, crc: false, wholeBatches: true, minBaseOffset: seg.baseOffset, segmentBase: seg.baseOffset }, (_b, bytes) => {
        scanned.add(bytes!);
      });
    } finally {
      await fh.close();
    }
    const late = this.host.lateSummary(seg);
    if (late) scanned.merge(late);
    const segs = this.host.currentSegments();
    // Only a segment that takes no more appends keeps its summary; the active one is scanned again.
    if (seg !== segs[segs.length - 1] && !seg.deleted) seg.summary = scanned;
    return scanned;
  }

  /** max.compaction.lag.ms needs each segment's first batch timestamp: read once from the file. */
  private async loadFirstBatchTimestamps(segs: readonly Segment[]): Promise<void> {
    for (const seg of segs) {
      if (seg.firstBatchTimestamp !== null || seg.firstBatchTimestampLoaded || seg.size === 0) continue;
      const fh = await fsp.open(seg.logPath, 'r').catch(() => null);
      if (!fh) continue;
      try {
        const head = await readAt(fh, BATCH_HEADER_SIZE, 0);
        if (head.length === BATCH_HEADER_SIZE) seg.firstBatchTimestamp = readMaxTimestamp(head);
        seg.firstBatchTimestampLoaded = true;
      } finally {
        await fh.close();
      }
    }
  }
}
