/**
 * __consumer_offsets, as Kafka writes it: each record's key and value are an int16 version followed
 * by the body; the key version tells the record type (0/1 offset commit, 2 group metadata).
 * A null value is a tombstone.
 */
import {
  GroupMetadataKey,
  GroupMetadataValue,
  OffsetCommitKey,
  OffsetCommitValue,
  type GroupMetadataValue as GroupMetadataValueData,
  type OffsetCommitValue as OffsetCommitValueData,
} from '../../../protocol/generated/index.js';
import type { MessageCodec } from '../../../protocol/codec.js';
import type { Encodable } from '../../../protocol/primitives/types.js';
import { Reader } from '../../../protocol/primitives/reader.js';
import { Writer } from '../../../protocol/primitives/writer.js';

export const OFFSETS_TOPIC = '__consumer_offsets';

/** Java's String.hashCode over UTF-16 code units, with int32 wrap-around. */
export function javaStringHash(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(31, h) + s.charCodeAt(i)) | 0;
  return h;
}

/** Kafka's Utils.abs(groupId.hashCode()) % partitions (abs(MIN_VALUE) is 0 there). */
export function partitionFor(key: string, partitions: number): number {
  const h = javaStringHash(key);
  return (h === -2147483648 ? 0 : Math.abs(h)) % partitions;
}

export type OffsetValue = OffsetCommitValueData;
export type GroupValue = GroupMetadataValueData;

export type GroupRecord =
  | { kind: 'offset'; group: string; topic: string; partition: number; value: OffsetValue | null }
  | { kind: 'group'; group: string; value: GroupValue | null };

function versioned<T>(codec: MessageCodec<T>, version: number, value: Encodable<T>): Buffer {
  const w = new Writer();
  w.int16(version);
  codec.write(w, version, value);
  return w.toBuffer();
}

export function encodeRecord(r: GroupRecord): { key: Buffer; value: Buffer | null } {
  if (r.kind === 'offset') {
    const key = versioned(OffsetCommitKey, 1, { group: r.group, topic: r.topic, partition: r.partition });
    if (r.value === null) return { key, value: null };
    // Kafka writes v3, or v1 when the commit carries its own expiry (OffsetCommit v2–4 retention).
    const version = r.value.expireTimestamp >= 0n ? 1 : 3;
    return { key, value: versioned(OffsetCommitValue, version, r.value) };
  }
  const key = versioned(GroupMetadataKey, 2, { group: r.group });
  return { key, value: r.value === null ? null : versioned(GroupMetadataValue, 3, r.value) };
}

/** Decodes one record; null for record types this coordinator does not use (KIP-848 ones). */
export function decodeRecord(key: Buffer, value: Buffer | null): GroupRecord | null {
  const kr = new Reader(key);
  const keyVersion = kr.int16();
  if (keyVersion === 0 || keyVersion === 1) {
    const k = OffsetCommitKey.read(kr, keyVersion);
    let v: OffsetValue | null = null;
    if (value !== null) {
      const vr = new Reader(value);
      v = OffsetCommitValue.decode(vr.int16(), vr);
    }
    return { kind: 'offset', group: k.group, topic: k.topic, partition: k.partition, value: v };
  }
  if (keyVersion === 2) {
    const k = GroupMetadataKey.read(kr, keyVersion);
    let v: GroupValue | null = null;
    if (value !== null) {
      const vr = new Reader(value);
      v = GroupMetadataValue.decode(vr.int16(), vr);
    }
    return { kind: 'group', group: k.group, value: v };
  }
  return null;
}
