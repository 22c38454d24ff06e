/**
 * Topic-level configs: Kafka's names, types, the broker setting each one defaults to, and
 * validation. A topic stores only its overrides; the effective value is resolved here.
 */
import type { BrokerConfig } from '../config.js';
import type { LogConfig } from '../storage/storage.js';

type ConfigType = 'long' | 'int' | 'double' | 'boolean' | 'string' | 'list';

export interface TopicConfigDef {
  name: string;
  type: ConfigType;
  /** The broker value it falls back to: a broker key, or a function of the broker config. */
  synonym?: string | ((b: BrokerConfig) => string);
  /** Kafka's default when there is no broker synonym. */
  default?: string;
  /** Smallest legal value for numbers. */
  min?: number;
  max?: number;
  /** Legal values for strings and list items. */
  oneOf?: readonly string[];
}

const LONG_MAX = '9223372036854775807';

export const TOPIC_CONFIGS: readonly TopicConfigDef[] = [
  { name: 'cleanup.policy', type: 'list', synonym: 'log.cleanup.policy', oneOf: ['delete', 'compact'] },
  { name: 'compression.type', type: 'string', synonym: 'compression.type', oneOf: ['uncompressed', 'zstd', 'lz4', 'snappy', 'gzip', 'producer'] },
  { name: 'compression.gzip.level', type: 'int', default: '-1', min: -1, max: 9 },
  { name: 'compression.lz4.level', type: 'int', default: '9', min: 1, max: 17 },
  { name: 'compression.zstd.level', type: 'int', default: '3', min: -131072, max: 22 },
  { name: 'delete.retention.ms', type: 'long', synonym: 'log.cleaner.delete.retention.ms', min: 0 },
  { name: 'file.delete.delay.ms', type: 'long', synonym: 'log.segment.delete.delay.ms', min: 0 },
  { name: 'flush.messages', type: 'long', synonym: 'log.flush.interval.messages', min: 1 },
  { name: 'flush.ms', type: 'long', synonym: (b) => b.get('log.flush.interval.ms') ?? b.get('log.flush.scheduler.interval.ms')!, min: 0 },
  { name: 'follower.replication.throttled.replicas', type: 'list', default: '' },
  { name: 'index.interval.bytes', type: 'int', synonym: 'log.index.interval.bytes', min: 0 },
  { name: 'leader.replication.throttled.replicas', type: 'list', default: '' },
  { name: 'local.retention.bytes', type: 'long', default: '-2', min: -2 },
  { name: 'local.retention.ms', type: 'long', default: '-2', min: -2 },
  { name: 'max.compaction.lag.ms', type: 'long', synonym: 'log.cleaner.max.compaction.lag.ms', min: 1 },
  { name: 'max.message.bytes', type: 'int', synonym: 'message.max.bytes', min: 0 },
  { name: 'message.downconversion.enable', type: 'boolean', default: 'true' },
  { name: 'message.format.version', type: 'string', default: '3.0-IV1' },
  { name: 'message.timestamp.after.max.ms', type: 'long', default: LONG_MAX, min: 0 },
  { name: 'message.timestamp.before.max.ms', type: 'long', default: LONG_MAX, min: 0 },
  { name: 'message.timestamp.difference.max.ms', type: 'long', default: LONG_MAX, min: 0 },
  { name: 'message.timestamp.type', type: 'string', synonym: 'log.message.timestamp.type', oneOf: ['CreateTime', 'LogAppendTime'] },
  { name: 'min.cleanable.dirty.ratio', type: 'double', synonym: 'log.cleaner.min.cleanable.ratio', min: 0, max: 1 },
  { name: 'min.compaction.lag.ms', type: 'long', synonym: 'log.cleaner.min.compaction.lag.ms', min: 0 },
  { name: 'min.insync.replicas', type: 'int', synonym: 'min.insync.replicas', min: 1 },
  { name: 'preallocate', type: 'boolean', default: 'false' },
  { name: 'remote.storage.enable', type: 'boolean', default: 'false' },
  { name: 'retention.bytes', type: 'long', synonym: 'log.retention.bytes' },
  { name: 'retention.ms', type: 'long', synonym: (b) => String(b.duration('log.retention')), min: -1 },
  { name: 'segment.bytes', type: 'int', synonym: 'log.segment.bytes', min: 14 },
  { name: 'segment.index.bytes', type: 'int', default: '10485760', min: 4 },
  { name: 'segment.jitter.ms', type: 'long', default: '0', min: 0 },
  { name: 'segment.ms', type: 'long', synonym: (b) => String(b.duration('log.roll')), min: 1 },
  { name: 'unclean.leader.election.enable', type: 'boolean', default: 'false' },
];

const BY_NAME = new Map(TOPIC_CONFIGS.map((d) => [d.name, d]));

export function topicConfigDef(name: string): TopicConfigDef | undefined {
  return BY_NAME.get(name);
}

/** Why a value is not acceptable for a config, or null when it is. */
export function invalidReason(name: string, value: string | null): string | null {
  const def = BY_NAME.get(name);
  if (!def) return `Unknown topic config name: ${name}`;
  if (value === null) return null; // null means "back to the default"
  const v = value.trim();
  switch (def.type) {
    case 'long':
    case 'int':
    case 'double': {
      const n = Number(v);
      if (v === '' || !Number.isFinite(n) || (def.type !== 'double' && !Number.isInteger(n))) {
        return `Invalid value ${value} for configuration ${name}: Not a number of type ${def.type.toUpperCase()}`;
      }
      if (def.type === 'int' && (n < -2147483648 || n > 2147483647)) return `Invalid value ${value} for configuration ${name}: Not a number of type INT`;
      if (def.min !== undefined && n < def.min) return `Invalid value ${value} for configuration ${name}: Value must be at least ${def.min}`;
      if (def.max !== undefined && n > def.max) return `Invalid value ${value} for configuration ${name}: Value must be no more than ${def.max}`;
      return null;
    }
    case 'boolean':
      return v === 'true' || v === 'false' ? null : `Invalid value ${value} for configuration ${name}: Expected value to be either true or false`;
    case 'string':
      return def.oneOf && !def.oneOf.includes(v) ? `Invalid value ${value} for configuration ${name}: String must be one of: ${def.oneOf.join(', ')}` : null;
    case 'list': {
      if (!def.oneOf) return null;
      const items = v.split(',').map((s) => s.trim()).filter(Boolean);
      const bad = items.find((i) => !def.oneOf!.includes(i));
      return bad ? `Invalid value ${value} for configuration ${name}: Invalid value ${bad}; legal values are ${def.oneOf.join(', ')}` : null;
    }
  }
}

/** The effective value of a topic config: the topic's override, else the broker's, else Kafka's default. */
export function effectiveConfig(name: string, overrides: Record<string, string>, broker: BrokerConfig): string {
  if (name in overrides) return overrides[name];
  const def = BY_NAME.get(name);
  if (!def) throw new Error(`unknown topic config ${name}`);
  if (typeof def.synonym === 'function') return def.synonym(broker);
  if (def.synonym !== undefined && broker.get(def.synonym) !== undefined) return broker.get(def.synonym)!;
  return def.default ?? '';
}

function num(name: string, overrides: Record<string, string>, broker: BrokerConfig): number {
  return Math.min(Number(effectiveConfig(name, overrides, broker)), Number.MAX_SAFE_INTEGER);
}

export function logConfigFor(overrides: Record<string, string>, broker: BrokerConfig): LogConfig {
  const policy = effectiveConfig('cleanup.policy', overrides, broker).split(',').map((s) => s.trim());
  const compact = policy.includes('compact');
  const del = policy.includes('delete');
  return {
    segmentBytes: num('segment.bytes', overrides, broker),
    segmentMs: num('segment.ms', overrides, broker),
    retentionMs: num('retention.ms', overrides, broker),
    retentionBytes: num('retention.bytes', overrides, broker),
    indexIntervalBytes: num('index.interval.bytes', overrides, broker),
    flushMessages: num('flush.messages', overrides, broker),
    flushMs: num('flush.ms', overrides, broker),
    fileDeleteDelayMs: num('file.delete.delay.ms', overrides, broker),
    cleanupPolicy: compact && del ? 'compact,delete' : compact ? 'compact' : 'delete',
    deleteRetentionMs: num('delete.retention.ms', overrides, broker),
    minCompactionLagMs: num('min.compaction.lag.ms', overrides, broker),
    maxCompactionLagMs: num('max.compaction.lag.ms', overrides, broker),
    minCleanableDirtyRatio: num('min.cleanable.dirty.ratio', overrides, broker),
  };
}
