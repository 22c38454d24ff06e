/**
 * The topic settings the produce path reads, resolved once per change instead of once per request:
 * cached per topic configs object (replaced whenever a topic's overrides change) and per broker
 * config generation (bumped whenever a dynamic broker config changes).
 */
import { CompressionCodec } from '../../protocol/records/index.js';
import type { BrokerConfig } from '../config.js';
import { LONG_MAX } from './config-schema.js';
import { effectiveConfig } from './topic-configs.js';

export interface ProduceSettings {
  maxMessageBytes: number;
  segmentBytes: number;
  compacted: boolean;
  logAppendTime: boolean;
  /** The codec batches must be stored with; null for compression.type=producer. */
  targetCodec: CompressionCodec | null;
  /** compression.<codec>.level for the target codec (undefined: the codec's default). */
  compressionLevel: number | undefined;
  /** Effective message.timestamp.before/after.max.ms (the deprecated difference config standing in for a default one); null: unbounded. */
  timestampBeforeMaxMs: bigint | null;
  timestampAfterMaxMs: bigint | null;
  minInsyncReplicas: number;
}

const CODECS: Record<string, CompressionCodec | null> = {
  producer: null,
  uncompressed: CompressionCodec.None,
  gzip: CompressionCodec.Gzip,
  snappy: CompressionCodec.Snappy,
  lz4: CompressionCodec.Lz4,
  zstd: CompressionCodec.Zstd,
};

const cache = new WeakMap<object, { generation: number; settings: ProduceSettings }>();

export function produceSettings(configs: Record<string, string>, broker: BrokerConfig): ProduceSettings {
  const hit = cache.get(configs);
  if (hit && hit.generation === broker.generation) return hit.settings;
  const settings = resolve(configs, broker);
  cache.set(configs, { generation: broker.generation, settings });
  return settings;
}

function resolve(configs: Record<string, string>, broker: BrokerConfig): ProduceSettings {
  const get = (name: string) => effectiveConfig(name, configs, broker).trim();
  const long = (name: string) => BigInt(get(name));
  const targetCodec = CODECS[get('compression.type')] ?? null;
  const levelConfig = targetCodec === CompressionCodec.Gzip ? 'compression.gzip.level'
    : targetCodec === CompressionCodec.Lz4 ? 'compression.lz4.level'
      : targetCodec === CompressionCodec.Zstd ? 'compression.zstd.level' : undefined;
  let compressionLevel = levelConfig ? Number(get(levelConfig)) : undefined;
  if (targetCodec === CompressionCodec.Gzip && compressionLevel === -1) compressionLevel = undefined; // zlib's default
  // Kafka's LogConfig: a bound left at its default takes message.timestamp.difference.max.ms.
  const difference = long('message.timestamp.difference.max.ms');
  const before = long('message.timestamp.before.max.ms');
  const after = long('message.timestamp.after.max.ms');
  const bound = (v: bigint) => (v === LONG_MAX ? null : v);
  return {
    maxMessageBytes: Number(get('max.message.bytes')),
    segmentBytes: Number(get('segment.bytes')),
    compacted: get('cleanup.policy').split(',').some((p) => p.trim().toLowerCase() === 'compact'),
    logAppendTime: get('message.timestamp.type') === 'LogAppendTime',
    targetCodec,
    compressionLevel,
    timestampBeforeMaxMs: bound(before !== LONG_MAX ? before : difference),
    timestampAfterMaxMs: bound(after !== LONG_MAX ? after : difference),
    minInsyncReplicas: Number(get('min.insync.replicas')),
  };
}
