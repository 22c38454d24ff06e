/**
 * File and directory names of the disk engine. They follow Kafka's log directory layout, so
 * Kafka's tools (kafka-dump-log and friends) can read what we write.
 */

export const LOG_SUFFIX = '.log';
export const INDEX_SUFFIX = '.index';
export const TIME_INDEX_SUFFIX = '.timeindex';
/** A segment file waiting for its delayed unlink (Kafka's file.delete.delay.ms). */
export const DELETED_SUFFIX = '.deleted';
/** Temporary file of an atomic write. */
export const TEMP_SUFFIX = '.tmp';
/** A segment the cleaner is writing (Kafka's CleanedFileSuffix): removed by recovery. */
export const CLEANED_SUFFIX = '.cleaned';
/** A cleaned segment ready to replace others (Kafka's SwapFileSuffix): recovery completes the swap. */
export const SWAP_SUFFIX = '.swap';

export const META_PROPERTIES_FILE = 'meta.properties';
export const TOPICS_FILE = '__samsa_topics.json';

/** Producer-state snapshots: `<20-digit offset>.producer-state` (our own format, so not Kafka's `.snapshot`). */
export const SNAPSHOT_SUFFIX = '.producer-state';
export const SNAPSHOT_FILE = /^(\d{20})\.producer-state$/;

/** Where Storage.writeState keeps a named document. */
export function stateFileName(name: string): string {
  if (!/^[a-z0-9-]+$/.test(name)) throw new Error(`bad state name ${name}`);
  return `__samsa_${name}.json`;
}
export const CLEAN_SHUTDOWN_FILE = '.samsa_clean_shutdown';
export const LOG_START_OFFSET_CHECKPOINT_FILE = 'log-start-offset-checkpoint';
/** The first dirty offset of every compacted partition (Kafka's cleaner-offset-checkpoint). */
export const CLEANER_OFFSET_CHECKPOINT_FILE = 'cleaner-offset-checkpoint';
export const PARTITION_METADATA_FILE = 'partition.metadata';

/** Suffix of a partition directory renamed away before its removal (Kafka: `-delete`). */
export const DELETE_DIR_SUFFIX = '-delete';
/** Suffix of a partition directory whose topic id does not match the topic (Kafka: `-stray`). */
export const STRAY_DIR_SUFFIX = '-stray';

const OFFSET_DIGITS = 20;

/** `00000000000000001234.log` for base offset 1234. */
export function segmentFileName(baseOffset: bigint, suffix: string): string {
  return baseOffset.toString().padStart(OFFSET_DIGITS, '0') + suffix;
}

export interface ParsedSegmentFile {
  baseOffset: bigint;
  /** `.log`, `.index`, `.timeindex` or another Kafka suffix such as `.txnindex`. */
  suffix: string;
  /** `.deleted`, `.tmp`, `.cleaned`, `.swap` when present. */
  trailer: string | null;
}

const SEGMENT_FILE = /^(\d{20})(\.[a-z]+)(\.deleted|\.tmp|\.cleaned|\.swap)?$/;

export function parseSegmentFileName(name: string): ParsedSegmentFile | null {
  const m = SEGMENT_FILE.exec(name);
  if (!m) return null;
  return { baseOffset: BigInt(m[1]!), suffix: m[2]!, trailer: m[3] ?? null };
}

export function partitionDirName(topic: string, partition: number): string {
  return `${topic}-${partition}`;
}

/** The longest file name Linux file systems take (NAME_MAX, in bytes; topic names are ASCII). */
const MAX_FILE_NAME = 255;

/**
 * The name a partition directory is renamed to when set aside (`-delete`, `-stray`):
 * `<topic>-<partition>.<unique id><suffix>`, with the topic cut short when the whole would be too
 * long for the file system, as Kafka's logDirNameWithSuffixCappedLength does (the topic part is
 * never read back).
 */
export function setAsideDirName(topic: string, partition: number, uniqueId: string, suffix: string): string {
  const tail = `-${partition}.${uniqueId}${suffix}`;
  return topic.slice(0, MAX_FILE_NAME - tail.length) + tail;
}

/** Whether a directory name is one setAsideDirName makes (`<topic>-<partition>.<id><suffix>`), as Kafka matches them. */
export function isSetAsideDirName(name: string, suffix: string): boolean {
  return name.endsWith(suffix) && /^\S+-\d+\.[A-Za-z0-9]+$/.test(name.slice(0, -suffix.length));
}

/** The topic and partition of a partition directory's name, or null for any other name. */
export function parsePartitionDirName(name: string): { topic: string; partition: number } | null {
  const m = /^(.+)-(\d+)$/.exec(name);
  return m ? { topic: m[1]!, partition: Number(m[2]) } : null;
}

