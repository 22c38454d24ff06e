/**
 * Format conversion a Kafka 3.x broker performs (RECORDS.md §1.5, §2.3): the log holds only
 * magic 2, so Produce v0–v2 input is converted up, and Fetch v0–v3 output converted down.
 */
import {
  compressionOf,
  isControl,
  readAttributes,
  readMaxTimestamp,
  TimestampType,
  timestampTypeOf,
} from './batch.js';
import { buildRecordBatch } from './builder.js';
import { CompressionCodec, type CompressOptions } from './compression.js';
import { invalid, RecordsError } from './errors.js';
import { iterateBatches } from './iterate.js';
import { buildMessageSet, type LegacyMagic, type LegacyMessage, readMessageSet } from './legacy.js';
import { decodeRecords } from './record.js';

export interface UpConvertOptions {
  /** Defaults to the first message's offset (the broker overwrites it anyway). */
  baseOffset?: bigint;
  /** Defaults to the codec of the first compressed wrapper, i.e. the producer's choice. */
  compression?: CompressionCodec;
  compressionOptions?: CompressOptions;
  partitionLeaderEpoch?: number;
  maxBytes?: number;
}

/**
 * Converts a magic 0/1 message set (Produce v0–v2) into one v2 batch holding every message,
 * with offset deltas 0..n-1. Magic 0 messages get NO_TIMESTAMP (-1). As Kafka's log append, it
 * leaves out a truncated trailing message, and returns an empty buffer when nothing whole is left;
 * as Kafka's LogValidator, it refuses magic 0 and 1 mixed and a compressed wrapper with company.
 */
export function upConvert(messageSet: Buffer, options: UpConvertOptions = {}): Buffer {
  const { messages, entries, wrappers } = readMessageSet(messageSet, { maxBytes: options.maxBytes });
  if (messages.length === 0) return Buffer.alloc(0);
  const magic = messages[0]!.magic;
  const other = messages.find((m) => m.magic !== magic);
  if (other) throw invalid('BAD_MAGIC', `Batch magic ${other.magic} is not the same as the first batch's magic byte ${magic}`);
  if (wrappers > 0 && entries > 1) throw invalid('NOT_SINGLE_BATCH', 'Compressed outer record has more than one batch');
  const compression =
    options.compression ?? messages.find((m) => m.compression !== CompressionCodec.None)?.compression ?? CompressionCodec.None;
  return buildRecordBatch({
    baseOffset: options.baseOffset ?? messages[0]!.offset,
    records: messages.map((m) => ({ key: m.key, value: m.value, timestamp: m.timestamp })),
    compression,
    compressionOptions: options.compressionOptions,
    timestampType: TimestampType.CreateTime,
    partitionLeaderEpoch: options.partitionLeaderEpoch,
  });
}

export interface DownConvertOptions {
  /** Records below this offset are left out (a fetch may start inside a batch). */
  minOffset?: bigint;
  compressionOptions?: CompressOptions;
  maxBytes?: number;
}

function legacyGroups(messages: LegacyMessage[]): LegacyMessage[][] {
  // Keep messages that shared a wrapper together, so they are re-wrapped with their codec.
  const groups: LegacyMessage[][] = [];
  for (const m of messages) {
    const last = groups[groups.length - 1];
    if (last && m.compression !== CompressionCodec.None && last[0]!.compression === m.compression) last.push(m);
    else groups.push([m]);
  }
  return groups;
}

/**
 * Converts stored batches for Fetch v0–v3: each v2 batch becomes one wrapper (same codec) or,
 * uncompressed, one message per record. Control batches and headers are dropped; zstd is
 * refused (UNSUPPORTED_COMPRESSION_TYPE), as old fetch versions cannot receive it. Batches
 * already at or below the target magic are copied; a truncated trailing batch is ignored.
 */
export function downConvert(records: Buffer, magic: LegacyMagic, options: DownConvertOptions = {}): Buffer {
  const minOffset = options.minOffset ?? -(1n << 63n);
  const parts: Buffer[] = [];
  for (const view of iterateBatches(records)) {
    if (view.magic <= magic) {
      parts.push(view.buf);
      continue;
    }
    if (view.magic === 1) {
      const { messages } = readMessageSet(view.buf, { maxBytes: options.maxBytes });
      for (const group of legacyGroups(messages.filter((m) => m.offset >= minOffset))) {
        parts.push(
          buildMessageSet({
            magic,
            messages: group.map((m) => ({ offset: m.offset, key: m.key, value: m.value })),
            compression: group[0]!.compression,
            compressionOptions: options.compressionOptions,
          }),
        );
      }
      continue;
    }
    const attributes = readAttributes(view.buf);
    if (isControl(attributes)) continue;
    const codec = compressionOf(attributes);
    if (codec === CompressionCodec.Zstd) {
      throw new RecordsError('UNSUPPORTED_COMPRESSION_TYPE', 'CODEC_NOT_ALLOWED', 'zstd data cannot be converted to magic 0/1');
    }
    const kept = decodeRecords(view.buf, { maxBytes: options.maxBytes }).filter((r) => r.offset >= minOffset);
    if (kept.length === 0) continue;
    const timestampType = timestampTypeOf(attributes);
    parts.push(
      buildMessageSet({
        magic,
        messages: kept.map((r) => ({ offset: r.offset, key: r.key, value: r.value, timestamp: r.timestamp })),
        compression: codec,
        compressionOptions: options.compressionOptions,
        timestampType,
        logAppendTime: timestampType === TimestampType.LogAppendTime ? readMaxTimestamp(view.buf) : undefined,
      }),
    );
  }
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}
