/** Helpers to inspect the disk engine's files the way Kafka's tools would. */
import assert from 'node:assert/strict';
import { constants } from 'node:fs';
import { open, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { readBatchSize, readLastOffset, readMaxTimestamp } from '../../protocol/records/index.js';

export interface SegmentFiles {
  base: bigint;
  log: Buffer;
  index: Buffer;
  timeindex: Buffer;
}

/** Every segment of a partition directory, by base offset, with its three files' content. */
export async function segmentFiles(dir: string): Promise<SegmentFiles[]> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.log')).sort();
  const out: SegmentFiles[] = [];
  for (const name of names) {
    const stem = name.slice(0, -4);
    out.push({
      base: BigInt(stem),
      log: await readFile(join(dir, name)),
      index: await readFile(join(dir, `${stem}.index`)),
      timeindex: await readFile(join(dir, `${stem}.timeindex`)),
    });
  }
  return out;
}

export function offsetIndexEntries(index: Buffer, base: bigint): { offset: bigint; position: number }[] {
  assert.equal(index.length % 8, 0, '.index holds whole 8-byte entries');
  const out = [];
  for (let p = 0; p < index.length; p += 8) out.push({ offset: base + BigInt(index.readInt32BE(p)), position: index.readInt32BE(p + 4) });
  return out;
}

export function timeIndexEntries(index: Buffer, base: bigint): { timestamp: bigint; offset: bigint }[] {
  assert.equal(index.length % 12, 0, '.timeindex holds whole 12-byte entries');
  const out = [];
  for (let p = 0; p < index.length; p += 12) out.push({ timestamp: index.readBigInt64BE(p), offset: base + BigInt(index.readInt32BE(p + 8)) });
  return out;
}

/** Batch positions of a .log file. */
export function logBatches(log: Buffer): { position: number; size: number; lastOffset: bigint; maxTimestamp: bigint }[] {
  const out = [];
  for (let p = 0; p < log.length; ) {
    const size = readBatchSize(log, p);
    out.push({ position: p, size, lastOffset: readLastOffset(log, p), maxTimestamp: readMaxTimestamp(log, p) });
    p += size;
  }
  return out;
}

/**
 * Checks a segment's indexes against its log with Kafka's rules: every offset entry names the last
 * offset of the batch at its position, entries are more than indexIntervalBytes apart, time
 * entries strictly increase and name the first batch reaching that maximum; `sealed` segments end
 * their time index with their largest timestamp.
 */
export function checkSegmentIndexes(seg: SegmentFiles, indexIntervalBytes: number, sealed: boolean): void {
  const batches = logBatches(seg.log);
  const byPos = new Map(batches.map((b) => [b.position, b]));
  let lastPos = 0;
  for (const e of offsetIndexEntries(seg.index, seg.base)) {
    const b = byPos.get(e.position);
    assert.ok(b, `index entry position ${e.position} is a batch boundary`);
    assert.equal(e.offset, b.lastOffset, 'index entry maps the batch last offset');
    assert.ok(e.position - lastPos > indexIntervalBytes, `entries more than ${indexIntervalBytes} bytes apart`);
    lastPos = e.position;
  }
  const times = timeIndexEntries(seg.timeindex, seg.base);
  for (let i = 1; i < times.length; i++) {
    assert.ok(times[i]!.timestamp > times[i - 1]!.timestamp, 'time index timestamps strictly increase');
    assert.ok(times[i]!.offset >= times[i - 1]!.offset, 'time index offsets never decrease');
  }
  for (const e of times) {
    const first = batches.find((b) => b.maxTimestamp >= e.timestamp);
    assert.ok(first, `a batch reaches ${e.timestamp}`);
    assert.equal(first.maxTimestamp, e.timestamp);
    assert.equal(first.lastOffset, e.offset, 'time entry names the first batch with that maximum');
  }
  if (sealed && batches.length > 0) {
    const max = batches.reduce((m, b) => (b.maxTimestamp > m ? b.maxTimestamp : m), -1n);
    assert.equal(times[times.length - 1]?.timestamp, max, 'sealed time index ends with the largest timestamp');
  }
}

/** Whether the filesystem under `dir` takes O_DIRECT at all (tmpfs before Linux 6.6 does not, nor macOS). */
export async function takesDirect(dir: string): Promise<boolean> {
  const flag = (constants as Record<string, number | undefined>).O_DIRECT;
  if (flag === undefined) return false;
  const probe = join(dir, 'direct-probe');
  try {
    await (await open(probe, constants.O_CREAT | constants.O_WRONLY | flag)).close();
    return true;
  } catch {
    return false;
  } finally {
    await rm(probe, { force: true });
  }
}
