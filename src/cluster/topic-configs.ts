/**
 * Topic-level configs: every config Kafka 3.9's LogConfig defines, with its type, default,
 * validator and the broker settings it falls back to (Kafka's ServerTopicConfigSynonyms, in
 * precedence order). A topic stores only its overrides; the effective value is resolved here.
 */
import type { BrokerConfig } from '../config.js';
import type { LogConfig } from '../storage/storage.js';
import { brokerValue } from './broker-configs.js';
import {
  COMPRESSION_TYPES, type ConfigDefinition, GZIP_LEVEL, LONG_MAX_STRING, LZ4_LEVEL, METADATA_VERSION, type Parsed, THROTTLED_REPLICAS, ZSTD_LEVEL,
  atLeast, between, checkValue, listOf, oneOf, parseValue,
} from './config-schema.js';

/** A broker setting a topic config falls back to; hours and minutes are converted to milliseconds. */
export interface Synonym {
  name: string;
  unit?: 'hours' | 'minutes';
}

export interface TopicConfigDef extends ConfigDefinition {
  /** Broker settings, highest precedence first; empty for the few configs with no server default. */
  synonyms: readonly Synonym[];
}

const log = (name: string, unit?: Synonym['unit']): Synonym => ({ name: `log.${name}`, unit });
const same = (name: string): Synonym => ({ name });

export const TOPIC_CONFIGS: readonly TopicConfigDef[] = [
  {
    name: 'cleanup.policy', type: 'list', default: 'delete', synonyms: [log('cleanup.policy')], validator: listOf('compact', 'delete'),
    doc: 'What happens to old data: "delete" drops whole segments once they pass retention.ms or retention.bytes, "compact" keeps only the latest record of each key; both may be listed.',
  },
  {
    name: 'compression.gzip.level', type: 'int', default: '-1', synonyms: [same('compression.gzip.level')], validator: GZIP_LEVEL,
    doc: 'gzip level (1-9, or -1 for zlib\'s default) used when the broker itself compresses batches for this topic with gzip.',
  },
  {
    name: 'compression.lz4.level', type: 'int', default: '9', synonyms: [same('compression.lz4.level')], validator: LZ4_LEVEL,
    doc: 'lz4 level (1-17) used when the broker itself compresses batches for this topic with lz4.',
  },
  {
    name: 'compression.type', type: 'string', default: 'producer', synonyms: [same('compression.type')], validator: oneOf(...COMPRESSION_TYPES),
    doc: 'Codec batches are stored with. "producer" keeps whatever codec the producer chose; any other value makes the broker recompress batches whose codec differs ("uncompressed" stores them uncompressed).',
  },
  {
    name: 'compression.zstd.level', type: 'int', default: '3', synonyms: [same('compression.zstd.level')], validator: ZSTD_LEVEL,
    doc: 'zstd level used when the broker itself compresses batches for this topic with zstd.',
  },
  {
    name: 'delete.retention.ms', type: 'long', default: '86400000', synonyms: [log('cleaner.delete.retention.ms')], validator: atLeast(0),
    doc: 'On compacted topics, how long a tombstone (a record with a null value) is kept after compaction first reaches it, so that slow readers still see the deletion.',
  },
  {
    name: 'file.delete.delay.ms', type: 'long', default: '60000', synonyms: [log('segment.delete.delay.ms')], validator: atLeast(0),
    doc: 'How long a removed segment stays on disk (renamed) before its files are deleted.',
  },
  {
    name: 'flush.messages', type: 'long', default: LONG_MAX_STRING, synonyms: [log('flush.interval.messages')], validator: atLeast(1),
    doc: 'Force an fsync of the log after this many messages. Left at its default, flushing is up to the operating system.',
  },
  {
    name: 'flush.ms', type: 'long', default: LONG_MAX_STRING, synonyms: [log('flush.interval.ms'), log('flush.scheduler.interval.ms')], validator: atLeast(0),
    doc: 'Force an fsync of the log when its oldest unflushed write is this old. Left at its default, flushing is up to the operating system.',
  },
  {
    name: 'follower.replication.throttled.replicas', type: 'list', default: '', synonyms: [], validator: THROTTLED_REPLICAS,
    doc: 'Replicas (partition:broker pairs, or *) whose replication is throttled on the follower side. Stored but without effect on a single broker.',
  },
  {
    name: 'index.interval.bytes', type: 'int', default: '4096', synonyms: [log('index.interval.bytes')], validator: atLeast(0),
    doc: 'How many bytes of batches may lie between two entries of the offset and time indexes; smaller means larger indexes and shorter scans.',
  },
  {
    name: 'leader.replication.throttled.replicas', type: 'list', default: '', synonyms: [], validator: THROTTLED_REPLICAS,
    doc: 'Replicas (partition:broker pairs, or *) whose replication is throttled on the leader side. Stored but without effect on a single broker.',
  },
  {
    name: 'local.retention.bytes', type: 'long', default: '-2', synonyms: [log('local.retention.bytes')], validator: atLeast(-2),
    doc: 'With tiered storage, how many bytes a partition keeps locally; -2 means the same as retention.bytes. Tiered storage is not available here.',
  },
  {
    name: 'local.retention.ms', type: 'long', default: '-2', synonyms: [log('local.retention.ms')], validator: atLeast(-2),
    doc: 'With tiered storage, how long segments are kept locally; -2 means the same as retention.ms. Tiered storage is not available here.',
  },
  {
    name: 'max.compaction.lag.ms', type: 'long', default: LONG_MAX_STRING, synonyms: [log('cleaner.max.compaction.lag.ms')], validator: atLeast(1),
    doc: 'On compacted topics, the longest a record may stay uncompacted: older dirty data makes the log due for cleaning whatever its dirty ratio.',
  },
  {
    name: 'max.message.bytes', type: 'int', default: '1048588', synonyms: [same('message.max.bytes')], validator: atLeast(0),
    doc: 'Largest record batch (after the broker\'s own compression, if any) this topic accepts; larger produce requests fail with MESSAGE_TOO_LARGE.',
  },
  {
    name: 'message.downconversion.enable', type: 'boolean', default: 'true', synonyms: [log('message.downconversion.enable')],
    doc: 'Whether clients that only read the old message formats (Fetch v0-v3) get converted data; when false, they get UNSUPPORTED_VERSION.',
  },
  {
    name: 'message.format.version', type: 'string', default: '3.0-IV1', synonyms: [log('message.format.version')], validator: METADATA_VERSION,
    doc: 'Deprecated: the on-disk message format version. Ignored; batches are always stored in format v2.',
  },
  {
    name: 'message.timestamp.after.max.ms', type: 'long', default: LONG_MAX_STRING, synonyms: [log('message.timestamp.after.max.ms')], validator: atLeast(0),
    doc: 'With CreateTime, how far in the future a record\'s timestamp may be compared with the broker\'s clock; a later one fails the batch with INVALID_TIMESTAMP.',
  },
  {
    name: 'message.timestamp.before.max.ms', type: 'long', default: LONG_MAX_STRING, synonyms: [log('message.timestamp.before.max.ms')], validator: atLeast(0),
    doc: 'With CreateTime, how far in the past a record\'s timestamp may be compared with the broker\'s clock; an older one fails the batch with INVALID_TIMESTAMP.',
  },
  {
    name: 'message.timestamp.difference.max.ms', type: 'long', default: LONG_MAX_STRING, synonyms: [log('message.timestamp.difference.max.ms')], validator: atLeast(0),
    doc: 'Deprecated: the largest allowed gap between a record\'s timestamp and the broker\'s clock, either way. Used for whichever of message.timestamp.before.max.ms and message.timestamp.after.max.ms is left at its default.',
  },
  {
    name: 'message.timestamp.type', type: 'string', default: 'CreateTime', synonyms: [log('message.timestamp.type')], validator: oneOf('CreateTime', 'LogAppendTime'),
    doc: 'Which time a record carries: the one the producer set (CreateTime) or the time the broker appended it (LogAppendTime).',
  },
  {
    name: 'min.cleanable.dirty.ratio', type: 'double', default: '0.5', synonyms: [log('cleaner.min.cleanable.ratio')], validator: between(0, 1),
    doc: 'On compacted topics, the share of not-yet-compacted bytes above which the log is compacted.',
  },
  {
    name: 'min.compaction.lag.ms', type: 'long', default: '0', synonyms: [log('cleaner.min.compaction.lag.ms')], validator: atLeast(0),
    doc: 'On compacted topics, the least time a record stays uncompacted, so readers can see every value written recently.',
  },
  {
    name: 'min.insync.replicas', type: 'int', default: '1', synonyms: [same('min.insync.replicas')], validator: atLeast(1),
    doc: 'How many in-sync replicas an acks=all produce needs. As in Kafka, at most the partition\'s replica count is required: on a single broker, one.',
  },
  {
    name: 'preallocate', type: 'boolean', default: 'false', synonyms: [log('preallocate')],
    doc: 'Whether segment files are allocated at full size when created. Stored but not acted on.',
  },
  {
    name: 'remote.log.copy.disable', type: 'boolean', default: 'false', synonyms: [],
    doc: 'With tiered storage, stops copying segments to remote storage. Tiered storage is not available here.',
  },
  {
    name: 'remote.log.delete.on.disable', type: 'boolean', default: 'false', synonyms: [],
    doc: 'With tiered storage, whether turning it off deletes the remote data. Tiered storage is not available here.',
  },
  {
    name: 'remote.storage.enable', type: 'boolean', default: 'false', synonyms: [],
    doc: 'Whether the topic uses tiered storage. Tiered storage is not available here, so true is refused.',
  },
  {
    name: 'retention.bytes', type: 'long', default: '-1', synonyms: [log('retention.bytes')],
    doc: 'With the delete policy, the size a partition may grow to before its oldest segments are removed; -1 means no size limit.',
  },
  {
    name: 'retention.ms', type: 'long', default: '604800000', synonyms: [log('retention.ms'), log('retention.minutes', 'minutes'), log('retention.hours', 'hours')], validator: atLeast(-1),
    doc: 'With the delete policy, how long data is kept: a segment whose newest record is older than this is removed. -1 keeps data forever.',
  },
  {
    name: 'segment.bytes', type: 'int', default: '1073741824', synonyms: [log('segment.bytes')], validator: atLeast(14),
    doc: 'Size at which a partition\'s active segment file is closed and a new one started. Retention and compaction work on whole segments.',
  },
  {
    name: 'segment.index.bytes', type: 'int', default: '10485760', synonyms: [log('index.size.max.bytes')], validator: atLeast(4),
    doc: 'Largest size of a segment\'s offset and time index files; a full index also closes the segment.',
  },
  {
    name: 'segment.jitter.ms', type: 'long', default: '0', synonyms: [log('roll.jitter.ms'), log('roll.jitter.hours', 'hours')], validator: atLeast(0),
    doc: 'Random amount subtracted from segment.ms so that many partitions do not all roll at once.',
  },
  {
    name: 'segment.ms', type: 'long', default: '604800000', synonyms: [log('roll.ms'), log('roll.hours', 'hours')], validator: atLeast(1),
    doc: 'Age at which the active segment is closed and a new one started even if it is not full, so that retention can remove old data.',
  },
  {
    name: 'unclean.leader.election.enable', type: 'boolean', default: 'false', synonyms: [same('unclean.leader.election.enable')],
    doc: 'Whether a replica that is not in sync may become leader, trading lost data for availability. Without effect on a single broker.',
  },
];

const BY_NAME = new Map(TOPIC_CONFIGS.map((d) => [d.name, d]));

/** The order Kafka's LogConfig defines the topic configs in: values are checked in it, so the first bad one named is Kafka's. */
export const KAFKA_DEFINE_ORDER: readonly string[] = [
  'segment.bytes', 'segment.ms', 'segment.jitter.ms', 'segment.index.bytes', 'flush.messages', 'flush.ms', 'retention.bytes', 'retention.ms',
  'max.message.bytes', 'index.interval.bytes', 'delete.retention.ms', 'min.compaction.lag.ms', 'max.compaction.lag.ms', 'file.delete.delay.ms',
  'min.cleanable.dirty.ratio', 'cleanup.policy', 'unclean.leader.election.enable', 'min.insync.replicas', 'compression.type',
  'compression.gzip.level', 'compression.lz4.level', 'compression.zstd.level', 'preallocate', 'message.format.version', 'message.timestamp.type',
  'message.timestamp.difference.max.ms', 'message.timestamp.before.max.ms', 'message.timestamp.after.max.ms',
  'leader.replication.throttled.replicas', 'follower.replication.throttled.replicas', 'message.downconversion.enable',
  'remote.storage.enable', 'local.retention.ms', 'local.retention.bytes', 'remote.log.copy.disable', 'remote.log.delete.on.disable',
];

export function topicConfigDef(name: string): TopicConfigDef | undefined {
  return BY_NAME.get(name);
}

/** Why a value is not acceptable for a config, or null when it is. */
export function invalidReason(name: string, value: string | null): string | null {
  const def = BY_NAME.get(name);
  if (!def) return `Unknown topic config name: ${name}`;
  if (value === null) return null; // null means "back to the default"
  return checkValue(def, value);
}

function convert(value: string, unit: Synonym['unit']): string {
  if (!unit) return value;
  // Kafka's ConfigSynonym converters: an unparsable number counts as 0.
  const n = /^[+-]?\d+$/.test(value.trim()) ? Number(value.trim()) : 0;
  return String(n * (unit === 'hours' ? 3_600_000 : 60_000));
}

/** The value a topic without an override gets: its first broker synonym that has a value, else Kafka's default. */
export function brokerDefaultFor(def: TopicConfigDef, broker: BrokerConfig): string {
  for (const s of def.synonyms) {
    const v = brokerValue(broker, s.name);
    if (v !== undefined) return convert(v, s.unit);
  }
  return def.default ?? '';
}

/**
 * Kafka's KafkaConfig.validateValues for the broker's log defaults (the rules across the
 * ms/minutes/hours spellings): the reason they are refused, or null. Kafka refuses to start with
 * them, and refuses a dynamic change that would produce them.
 */
export function invalidLogDefaults(broker: BrokerConfig): string | null {
  const ms = (name: string) => Number(brokerDefaultFor(BY_NAME.get(name)!, broker));
  if (!(ms('segment.ms') >= 1)) return 'requirement failed: log.roll.ms must be greater than or equal to 1';
  if (!(ms('segment.jitter.ms') >= 0)) return 'requirement failed: log.roll.jitter.ms must be greater than or equal to 0';
  // Any negative retention counts as -1 (unlimited); only 0 is refused.
  if (ms('retention.ms') === 0) return 'requirement failed: log.retention.ms must be unlimited (-1) or, greater than or equal to 1';
  return null;
}

/** The effective value of a topic config: the topic's override, else the broker's, else Kafka's default. */
export function effectiveConfig(name: string, overrides: Record<string, string>, broker: BrokerConfig): string {
  if (name in overrides) return overrides[name];
  const def = BY_NAME.get(name);
  if (!def) throw new Error(`unknown topic config ${name}`);
  return brokerDefaultFor(def, broker);
}

/**
 * Kafka's LogConfig.validate for a topic's complete set of overrides: known names, each value,
 * then the rules across configs (on the effective values). Returns the reason or null.
 */
export function validateTopicConfigs(configs: Record<string, string>, broker: BrokerConfig): string | null {
  // Kafka's LogConfig.validate: every name first, then the values in its define order.
  for (const name of Object.keys(configs)) if (!BY_NAME.has(name)) return `Unknown topic config name: ${name}`;
  for (const name of KAFKA_DEFINE_ORDER) {
    const value = configs[name];
    const reason = value === undefined ? null : checkValue(BY_NAME.get(name)!, value);
    if (reason) return reason;
  }
  const parsed = (name: string): Parsed => parseValue(BY_NAME.get(name)!, effectiveConfig(name, configs, broker));
  const minLag = parsed('min.compaction.lag.ms') as bigint;
  const maxLag = parsed('max.compaction.lag.ms') as bigint;
  if (minLag > maxLag) return `conflict topic config setting min.compaction.lag.ms (${minLag}) > max.compaction.lag.ms (${maxLag})`;
  if (parsed('remote.storage.enable') === true) return 'Tiered Storage functionality is disabled in the broker. Topic cannot be configured with remote log storage.';
  return null;
}

function num(name: string, overrides: Record<string, string>, broker: BrokerConfig): number {
  return Math.min(Number(effectiveConfig(name, overrides, broker)), Number.MAX_SAFE_INTEGER);
}

export function logConfigFor(overrides: Record<string, string>, broker: BrokerConfig): LogConfig {
  const policy = effectiveConfig('cleanup.policy', overrides, broker).split(',').map((s) => s.trim().toLowerCase());
  const compact = policy.includes('compact');
  const del = policy.includes('delete');
  return {
    segmentBytes: num('segment.bytes', overrides, broker),
    segmentMs: num('segment.ms', overrides, broker),
    segmentJitterMs: num('segment.jitter.ms', overrides, broker),
    segmentIndexBytes: num('segment.index.bytes', overrides, broker),
    retentionMs: num('retention.ms', overrides, broker),
    retentionBytes: num('retention.bytes', overrides, broker),
    indexIntervalBytes: num('index.interval.bytes', overrides, broker),
    flushMessages: num('flush.messages', overrides, broker),
    flushMs: num('flush.ms', overrides, broker),
    fileDeleteDelayMs: num('file.delete.delay.ms', overrides, broker),
    cleanupPolicy: compact && del ? 'compact,delete' : compact ? 'compact' : del ? 'delete' : '',
    deleteRetentionMs: num('delete.retention.ms', overrides, broker),
    minCompactionLagMs: num('min.compaction.lag.ms', overrides, broker),
    maxCompactionLagMs: num('max.compaction.lag.ms', overrides, broker),
    minCleanableDirtyRatio: num('min.cleanable.dirty.ratio', overrides, broker),
  };
}
