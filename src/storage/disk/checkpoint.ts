/**
 * Kafka's offset checkpoint files (log-start-offset-checkpoint, recovery-point-offset-checkpoint):
 *
 *   0                      version
 *   2                      number of entries
 *   my-topic 0 1234        topic, partition, offset
 *   my-topic 1 0
 *
 * Written atomically (temp file, fsync, rename, fsync directory).
 */
import { atomicWrite, readFileOrNull } from './fs-util.js';

export interface CheckpointEntry {
  topic: string;
  partition: number;
  offset: bigint;
}

export const checkpointKey = (topic: string, partition: number): string => `${topic} ${partition}`;

export function formatCheckpoint(entries: Iterable<CheckpointEntry>): string {
  const list = [...entries];
  return ['0', String(list.length), ...list.map((e) => `${e.topic} ${e.partition} ${e.offset}`)].join('\n') + '\n';
}

export function parseCheckpoint(text: string): CheckpointEntry[] {
  const lines = text.split('\n').filter((l) => l.length > 0);
  if (lines[0] !== '0') throw new Error(`unsupported checkpoint version ${lines[0] ?? '(empty file)'}`);
  const count = Number(lines[1]);
  if (!Number.isInteger(count) || count < 0 || lines.length - 2 !== count) {
    throw new Error(`checkpoint announces ${lines[1] ?? '?'} entries, holds ${lines.length - 2}`);
  }
  return lines.slice(2).map((line) => {
    const m = /^(\S+) (\d+) (-?\d+)$/.exec(line);
    if (!m) throw new Error(`malformed checkpoint line "${line}"`);
    return { topic: m[1]!, partition: Number(m[2]), offset: BigInt(m[3]!) };
  });
}

/** Entries keyed by `checkpointKey`; null when there is no file. */
export async function readCheckpoint(path: string): Promise<Map<string, CheckpointEntry> | null> {
  const data = await readFileOrNull(path);
  if (data === null) return null;
  const map = new Map<string, CheckpointEntry>();
  for (const e of parseCheckpoint(data.toString('utf8'))) map.set(checkpointKey(e.topic, e.partition), e);
  return map;
}

export async function writeCheckpoint(path: string, entries: Iterable<CheckpointEntry>): Promise<void> {
  await atomicWrite(path, formatCheckpoint(entries));
}

/**
 * Rewrites one checkpoint file, one write at a time. A write asked for while another waits to
 * start joins it (each write takes the entries as they are when it starts), so a burst of changes
 * (DeleteRecords over a thousand partitions) costs a few rewrites, not one each.
 */
export class CheckpointWriter {
  private last: Promise<void> = Promise.resolve();
  private waiting: Promise<void> | null = null;

  constructor(
    private readonly path: string,
    private readonly entries: () => Iterable<CheckpointEntry> | Promise<Iterable<CheckpointEntry>>,
  ) {}

  write(): Promise<void> {
    if (this.waiting !== null) return this.waiting;
    const write = this.last.then(async () => {
      this.waiting = null;
      await writeCheckpoint(this.path, await this.entries());
    });
    this.waiting = write;
    this.last = write.catch(() => undefined);
    return write;
  }
}
