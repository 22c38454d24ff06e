/**
 * Broker-level configs as Kafka 3.9 names them: type, default, validator, whether AlterConfigs may
 * change it while the broker runs, and a description. These are what DescribeConfigs shows for a
 * broker; the log.* ones are also the defaults topic configs fall back to (topic-configs.ts).
 *
 * Defaults are Samsa's: Kafka's, except where config.ts (BROKER_DEFAULTS) chooses otherwise (for
 * example listeners and log.dirs).
 */
import { BROKER_DEFAULTS, type BrokerConfig, type Properties } from '../config.js';
import {
  COMPRESSION_TYPES, type ConfigDefinition, GZIP_LEVEL, HOST_COUNTS, checkValue, LONG_MAX_STRING, LZ4_LEVEL, METADATA_VERSION, ZSTD_LEVEL, atLeast, between, listOf, oneOf,
} from './config-schema.js';

export interface BrokerConfigDef extends ConfigDefinition {
  /**
   * Set for configs AlterConfigs may change at run time, both for this broker (resource name = our
   * node id) and as the cluster-wide default (empty resource name). Everything else is read-only.
   */
  dynamic?: true;
  /** Kafka's internal configs: described only when set explicitly. */
  internal?: true;
}

const INT_MAX = '2147483647';

const defs: BrokerConfigDef[] = [
  // --- identity, listeners, storage ---
  { name: 'node.id', type: 'int', default: '-1', doc: 'This node\'s id in the cluster; also what Metadata reports as the broker id and controller id.' },
  { name: 'broker.id', type: 'int', default: '-1', doc: 'Older name of node.id; when only one of the two is set, the other takes its value.' },
  { name: 'broker.rack', type: 'string', default: null, doc: 'Rack (or availability zone) of this broker, reported in Metadata.' },
  { name: 'process.roles', type: 'list', default: '', validator: listOf('broker', 'controller'), doc: 'KRaft roles of the node. Samsa always acts as both broker and controller.' },
  { name: 'listeners', type: 'string', default: 'PLAINTEXT://:9092', doc: 'Where the broker accepts connections, as NAME://host:port,…; clients are served on every listener not in controller.listener.names, each of which must be PLAINTEXT.' },
  { name: 'advertised.listeners', type: 'string', default: null, doc: 'The addresses given to clients in Metadata, per listener name, when they differ from the ones bound (listeners).' },
  { name: 'listener.security.protocol.map', type: 'string', default: 'PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL', doc: 'Security protocol of each listener name.' },
  { name: 'inter.broker.listener.name', type: 'string', default: null, doc: 'Listener other brokers use to reach this one. Unused by a single broker.' },
  { name: 'security.inter.broker.protocol', type: 'string', default: 'PLAINTEXT', validator: oneOf('PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'), doc: 'Security protocol between brokers. Unused by a single broker.' },
  { name: 'controller.listener.names', type: 'string', default: null, doc: 'Listeners the KRaft controller uses. Unused: Samsa has no separate controller listener.' },
  { name: 'log.dirs', type: 'string', default: null, doc: 'Directory (first of a comma-separated list) holding the partition logs and the broker\'s metadata files.' },
  { name: 'log.dir', type: 'string', default: '/tmp/kafka-logs', doc: 'Data directory used when log.dirs is not set.' },
  { name: 'samsa.storage', type: 'string', default: 'disk', validator: oneOf('disk', 'memory'), doc: 'Samsa only: where data lives, on disk in Kafka\'s layout or in memory (lost at exit).' },
  { name: 'samsa.log.direct.writes', type: 'boolean', default: 'true', doc: 'Samsa only: large appends to the disk engine\'s logs bypass the page cache (O_DIRECT) where the platform and filesystem allow, sparing the kernel a newly allocated page for every byte written; false writes everything through the page cache, as Kafka does.' },
  { name: 'samsa.producer.snapshot.interval.ms', type: 'long', default: '30000', validator: atLeast(1), doc: 'Samsa only: how often changed producer state is snapshotted beside each partition log, so a restart replays only the log after it.' },
  { name: 'inter.broker.protocol.version', type: 'string', default: '3.9-IV0', validator: METADATA_VERSION, doc: 'Protocol version spoken between brokers. Informational here.' },

  // --- topics ---
  { name: 'num.partitions', type: 'int', default: '1', validator: atLeast(1), doc: 'Partitions of a topic created without a partition count, including auto-created topics.' },
  { name: 'default.replication.factor', type: 'int', default: '1', doc: 'Replication factor of topics created without one. A single broker can only host factor 1.' },
  { name: 'auto.create.topics.enable', type: 'boolean', default: 'true', doc: 'Whether a Metadata request naming an unknown topic creates it (when the client allows it).' },
  { name: 'delete.topic.enable', type: 'boolean', default: 'true', doc: 'Whether DeleteTopics is allowed.' },
  { name: 'create.topic.policy.class.name', type: 'class', default: null, doc: 'Java class checking topic creations. Samsa loads no policy classes, so none is applied.' },
  { name: 'alter.config.policy.class.name', type: 'class', default: null, doc: 'Java class checking config changes. Samsa loads no policy classes, so none is applied.' },
  { name: 'unclean.leader.election.enable', type: 'boolean', default: 'false', dynamic: true, doc: 'Default of the topic config unclean.leader.election.enable.' },
  { name: 'min.insync.replicas', type: 'int', default: '1', validator: atLeast(1), dynamic: true, doc: 'Default of the topic config min.insync.replicas: in-sync replicas an acks=all produce needs (a single broker has one).' },

  // --- produce: sizes, compression, timestamps ---
  { name: 'message.max.bytes', type: 'int', default: '1048588', validator: atLeast(0), dynamic: true, doc: 'Largest record batch the broker accepts; default of the topic config max.message.bytes.' },
  { name: 'compression.type', type: 'string', default: 'producer', validator: oneOf(...COMPRESSION_TYPES), dynamic: true, doc: 'Default of the topic config compression.type: producer keeps the producer\'s codec, other values make the broker recompress batches into that codec.' },
  { name: 'compression.gzip.level', type: 'int', default: '-1', validator: GZIP_LEVEL, dynamic: true, doc: 'Default gzip level for broker-side compression (topic config compression.gzip.level).' },
  { name: 'compression.lz4.level', type: 'int', default: '9', validator: LZ4_LEVEL, dynamic: true, doc: 'Default lz4 level for broker-side compression (topic config compression.lz4.level).' },
  { name: 'compression.zstd.level', type: 'int', default: '3', validator: ZSTD_LEVEL, dynamic: true, doc: 'Default zstd level for broker-side compression (topic config compression.zstd.level).' },
  { name: 'log.message.timestamp.type', type: 'string', default: 'CreateTime', validator: oneOf('CreateTime', 'LogAppendTime'), dynamic: true, doc: 'Default of the topic config message.timestamp.type.' },
  { name: 'log.message.timestamp.difference.max.ms', type: 'long', default: LONG_MAX_STRING, validator: atLeast(0), dynamic: true, doc: 'Deprecated default of the topic config message.timestamp.difference.max.ms.' },
  { name: 'log.message.timestamp.before.max.ms', type: 'long', default: LONG_MAX_STRING, validator: atLeast(0), dynamic: true, doc: 'Default of the topic config message.timestamp.before.max.ms: how old a CreateTime timestamp may be.' },
  { name: 'log.message.timestamp.after.max.ms', type: 'long', default: LONG_MAX_STRING, validator: atLeast(0), dynamic: true, doc: 'Default of the topic config message.timestamp.after.max.ms: how far ahead a CreateTime timestamp may be.' },
  { name: 'log.message.format.version', type: 'string', default: '3.0-IV1', validator: METADATA_VERSION, doc: 'Deprecated default of the topic config message.format.version; ignored.' },
  { name: 'log.message.downconversion.enable', type: 'boolean', default: 'true', dynamic: true, doc: 'Default of the topic config message.downconversion.enable.' },

  // --- log segments, retention, flushing ---
  { name: 'log.segment.bytes', type: 'int', default: '1073741824', validator: atLeast(14), dynamic: true, doc: 'Default of the topic config segment.bytes: size at which a segment file is closed.' },
  { name: 'log.roll.ms', type: 'long', default: null, dynamic: true, doc: 'Default of the topic config segment.ms, in milliseconds; wins over log.roll.hours.' },
  { name: 'log.roll.hours', type: 'int', default: '168', validator: atLeast(1), doc: 'Default of the topic config segment.ms, in hours, used when log.roll.ms is not set.' },
  { name: 'log.roll.jitter.ms', type: 'long', default: null, dynamic: true, doc: 'Default of the topic config segment.jitter.ms, in milliseconds; wins over log.roll.jitter.hours.' },
  { name: 'log.roll.jitter.hours', type: 'int', default: '0', validator: atLeast(0), doc: 'Default of the topic config segment.jitter.ms, in hours.' },
  { name: 'log.retention.ms', type: 'long', default: null, dynamic: true, doc: 'Default of the topic config retention.ms, in milliseconds; wins over log.retention.minutes and log.retention.hours. -1 keeps data forever.' },
  { name: 'log.retention.minutes', type: 'int', default: null, doc: 'Default of the topic config retention.ms, in minutes; wins over log.retention.hours.' },
  { name: 'log.retention.hours', type: 'int', default: '168', doc: 'Default of the topic config retention.ms, in hours, used when neither log.retention.ms nor log.retention.minutes is set.' },
  { name: 'log.retention.bytes', type: 'long', default: '-1', dynamic: true, doc: 'Default of the topic config retention.bytes: size a partition may reach before its oldest segments go; -1 for no limit.' },
  { name: 'log.retention.check.interval.ms', type: 'long', default: '300000', validator: atLeast(1), doc: 'How often the broker looks for segments to delete under the retention settings.' },
  { name: 'log.cleanup.policy', type: 'list', default: 'delete', validator: listOf('compact', 'delete'), dynamic: true, doc: 'Default of the topic config cleanup.policy.' },
  { name: 'log.index.size.max.bytes', type: 'int', default: '10485760', validator: atLeast(4), dynamic: true, doc: 'Default of the topic config segment.index.bytes.' },
  { name: 'log.index.interval.bytes', type: 'int', default: '4096', validator: atLeast(0), dynamic: true, doc: 'Default of the topic config index.interval.bytes.' },
  { name: 'log.flush.interval.messages', type: 'long', default: LONG_MAX_STRING, validator: atLeast(1), dynamic: true, doc: 'Default of the topic config flush.messages: fsync after this many messages.' },
  { name: 'log.flush.interval.ms', type: 'long', default: null, dynamic: true, doc: 'Default of the topic config flush.ms; when unset, log.flush.scheduler.interval.ms is used.' },
  { name: 'log.flush.scheduler.interval.ms', type: 'long', default: LONG_MAX_STRING, doc: 'Fallback for log.flush.interval.ms.' },
  { name: 'log.flush.offset.checkpoint.interval.ms', type: 'int', default: '60000', validator: atLeast(0), doc: 'How often recovery points are checkpointed. Informational here.' },
  { name: 'log.flush.start.offset.checkpoint.interval.ms', type: 'int', default: '60000', validator: atLeast(0), doc: 'How often log start offsets are checkpointed. Informational here.' },
  { name: 'log.segment.delete.delay.ms', type: 'long', default: '60000', validator: atLeast(0), dynamic: true, doc: 'Default of the topic config file.delete.delay.ms.' },
  { name: 'log.preallocate', type: 'boolean', default: 'false', dynamic: true, doc: 'Default of the topic config preallocate.' },
  { name: 'log.local.retention.ms', type: 'long', default: '-2', validator: atLeast(-2), dynamic: true, doc: 'Default of the topic config local.retention.ms (tiered storage; not available).' },
  { name: 'log.local.retention.bytes', type: 'long', default: '-2', validator: atLeast(-2), dynamic: true, doc: 'Default of the topic config local.retention.bytes (tiered storage; not available).' },
  { name: 'num.recovery.threads.per.data.dir', type: 'int', default: '1', validator: atLeast(1), dynamic: true, doc: 'Threads per data directory for log recovery at start-up and flushing at shutdown. Informational here.' },

  // --- log cleaner ---
  { name: 'log.cleaner.enable', type: 'boolean', default: 'true', doc: 'Whether compacted topics are cleaned.' },
  { name: 'log.cleaner.threads', type: 'int', default: '1', validator: atLeast(0), dynamic: true, doc: 'Cleaner threads. Samsa cleans on the broker\'s own thread.' },
  { name: 'log.cleaner.backoff.ms', type: 'long', default: '15000', validator: atLeast(0), dynamic: true, doc: 'Pause between cleaner passes over the compacted logs (read at start-up).' },
  { name: 'log.cleaner.dedupe.buffer.size', type: 'long', default: '134217728', dynamic: true, doc: 'Memory for the cleaner\'s key map. Informational here.' },
  { name: 'log.cleaner.io.buffer.size', type: 'int', default: '524288', validator: atLeast(0), dynamic: true, doc: 'Cleaner read and write buffer size. Informational here.' },
  { name: 'log.cleaner.io.buffer.load.factor', type: 'double', default: '0.9', dynamic: true, doc: 'Fill ratio of the cleaner\'s key map. Informational here.' },
  { name: 'log.cleaner.io.max.bytes.per.second', type: 'double', default: '1.7976931348623157E308', dynamic: true, doc: 'I/O throttle for the cleaner. Informational here.' },
  { name: 'log.cleaner.min.cleanable.ratio', type: 'double', default: '0.5', validator: between(0, 1), dynamic: true, doc: 'Default of the topic config min.cleanable.dirty.ratio.' },
  { name: 'log.cleaner.delete.retention.ms', type: 'long', default: '86400000', validator: atLeast(0), dynamic: true, doc: 'Default of the topic config delete.retention.ms.' },
  { name: 'log.cleaner.min.compaction.lag.ms', type: 'long', default: '0', validator: atLeast(0), dynamic: true, doc: 'Default of the topic config min.compaction.lag.ms.' },
  { name: 'log.cleaner.max.compaction.lag.ms', type: 'long', default: LONG_MAX_STRING, validator: atLeast(1), dynamic: true, doc: 'Default of the topic config max.compaction.lag.ms.' },

  // --- network ---
  { name: 'socket.send.buffer.bytes', type: 'int', default: '102400', doc: 'SO_SNDBUF of client sockets in Kafka. Informational here: Node leaves the operating system\'s value.' },
  { name: 'socket.receive.buffer.bytes', type: 'int', default: '102400', doc: 'SO_RCVBUF of client sockets in Kafka. Informational here: Node leaves the operating system\'s value.' },
  { name: 'socket.request.max.bytes', type: 'int', default: '104857600', validator: atLeast(1), doc: 'Largest request frame accepted; a bigger one closes the connection.' },
  { name: 'socket.listen.backlog.size', type: 'int', default: '50', validator: atLeast(1), doc: 'How many new connections may wait, unread, while max.connections are open (Kafka\'s listen backlog); more are closed at once.' },
  { name: 'connections.max.idle.ms', type: 'long', default: '600000', doc: 'Connections idle for longer than this are closed.' },
  { name: 'max.connections', type: 'int', default: INT_MAX, validator: atLeast(0), dynamic: true, doc: 'Most connections the broker takes; past it, new ones wait (unread) until one closes.' },
  { name: 'max.connections.per.ip', type: 'int', default: INT_MAX, validator: atLeast(0), dynamic: true, doc: 'Most connections from one address; one past it is closed at once.' },
  { name: 'max.connections.per.ip.overrides', type: 'string', default: '', validator: HOST_COUNTS, dynamic: true, doc: 'Per-address exceptions to max.connections.per.ip, as host:count pairs.' },
  { name: 'max.connection.creation.rate', type: 'int', default: INT_MAX, validator: atLeast(0), dynamic: true, doc: 'Most new connections per second the listener takes; past it, new ones wait for the throttle time.' },
  { name: 'connection.failed.authentication.delay.ms', type: 'int', default: '100', validator: atLeast(0), doc: 'Delay before closing a connection whose authentication failed.' },
  { name: 'num.network.threads', type: 'int', default: '3', validator: atLeast(1), dynamic: true, doc: 'Network threads. Samsa serves every connection on one event loop.' },
  { name: 'num.io.threads', type: 'int', default: '8', validator: atLeast(1), dynamic: true, doc: 'Request handler threads. Samsa handles requests on one event loop.' },
  { name: 'background.threads', type: 'int', default: '10', validator: atLeast(1), dynamic: true, doc: 'Threads for background work. Informational here.' },
  { name: 'queued.max.requests', type: 'int', default: '500', validator: atLeast(1), doc: 'Requests queued before the network stops reading. Informational here.' },
  { name: 'queued.max.request.bytes', type: 'long', default: '-1', doc: 'Bytes of queued requests before reading stops; -1 for no limit. Informational here.' },
  { name: 'request.timeout.ms', type: 'int', default: '30000', doc: 'Timeout of requests the broker itself sends. Informational here.' },
  { name: 'fetch.max.bytes', type: 'int', default: '57671680', validator: atLeast(1024), doc: 'Largest Fetch response the broker builds, whatever the request asks for.' },
  { name: 'max.request.partition.size.limit', type: 'int', default: '2000', validator: atLeast(1), doc: 'Most partitions one DescribeTopicPartitions response describes (KIP-966); the client pages through the rest.' },
  { name: 'max.incremental.fetch.session.cache.slots', type: 'int', default: '1000', validator: atLeast(0), doc: 'Most incremental fetch sessions (KIP-227) kept at once.' },
  { name: 'authorizer.class.name', type: 'string', default: '', doc: 'Java authorizer class; empty means no authorization, which is what Samsa does.' },
  { name: 'quota.window.num', type: 'int', default: '11', validator: atLeast(1), doc: 'How many samples client quota rates are measured over.' },
  { name: 'quota.window.size.seconds', type: 'int', default: '1', validator: atLeast(1), doc: 'Length of one client quota sample.' },
  { name: 'controller.quota.window.num', type: 'int', default: '11', validator: atLeast(1), doc: 'Samples of the controller mutation quota: a client may create or delete up to num × size × controller_mutation_rate partitions at once.' },
  { name: 'controller.quota.window.size.seconds', type: 'int', default: '1', validator: atLeast(1), doc: 'Length of one controller mutation quota sample.' },
  { name: 'sasl.enabled.mechanisms', type: 'list', default: 'GSSAPI', doc: 'SASL mechanisms offered to clients.' },
  { name: 'metric.reporters', type: 'list', default: '', dynamic: true, doc: 'Java metric reporter classes. Informational here.' },

  // --- replication (a single broker has no followers) ---
  { name: 'num.replica.fetchers', type: 'int', default: '1', dynamic: true, doc: 'Fetcher threads per source broker. Unused by a single broker.' },
  { name: 'replica.lag.time.max.ms', type: 'long', default: '30000', doc: 'How long a follower may lag before it leaves the ISR. Unused by a single broker.' },
  { name: 'replica.fetch.max.bytes', type: 'int', default: '1048576', validator: atLeast(0), doc: 'Bytes a follower fetches per partition. Unused by a single broker.' },
  { name: 'replica.fetch.wait.max.ms', type: 'int', default: '500', doc: 'Longest wait of a follower fetch. Unused by a single broker.' },
  { name: 'replica.socket.timeout.ms', type: 'int', default: '30000', doc: 'Socket timeout of follower fetches. Unused by a single broker.' },
  { name: 'leader.replication.throttled.rate', type: 'long', default: LONG_MAX_STRING, validator: atLeast(0), dynamic: true, doc: 'Replication throttle for leaders, bytes per second. Unused by a single broker.' },
  { name: 'follower.replication.throttled.rate', type: 'long', default: LONG_MAX_STRING, validator: atLeast(0), dynamic: true, doc: 'Replication throttle for followers, bytes per second. Unused by a single broker.' },
  { name: 'replica.alter.log.dirs.io.max.bytes.per.second', type: 'long', default: LONG_MAX_STRING, validator: atLeast(0), dynamic: true, doc: 'Throttle for moving replicas between log directories. Unused here.' },
  { name: 'auto.leader.rebalance.enable', type: 'boolean', default: 'true', doc: 'Whether leadership moves back to preferred replicas. Unused by a single broker.' },
  { name: 'leader.imbalance.check.interval.seconds', type: 'long', default: '300', validator: atLeast(1), doc: 'How often leader balance is checked. Unused by a single broker.' },
  { name: 'leader.imbalance.per.broker.percentage', type: 'int', default: '10', doc: 'Leader imbalance tolerated per broker. Unused by a single broker.' },
  { name: 'controlled.shutdown.enable', type: 'boolean', default: 'true', doc: 'Whether leadership is handed over before shutdown. Samsa finishes requests in flight and flushes instead.' },

  // --- consumer groups and committed offsets ---
  { name: 'group.min.session.timeout.ms', type: 'int', default: '6000', doc: 'Shortest session timeout a group member may ask for.' },
  { name: 'group.max.session.timeout.ms', type: 'int', default: '1800000', doc: 'Longest session timeout a group member may ask for.' },
  { name: 'group.initial.rebalance.delay.ms', type: 'int', default: '3000', doc: 'How long the first rebalance of an empty group waits for more members to join.' },
  { name: 'group.max.size', type: 'int', default: INT_MAX, validator: atLeast(1), doc: 'Most members a classic group may have.' },
  { name: 'group.coordinator.rebalance.protocols', type: 'list', default: 'classic', validator: listOf('classic', 'consumer', 'share'), doc: 'Group protocols the coordinator offers. Samsa implements the classic protocol.' },
  { name: 'offset.metadata.max.bytes', type: 'int', default: '4096', doc: 'Longest metadata string allowed with a committed offset.' },
  { name: 'offsets.topic.num.partitions', type: 'int', default: '50', validator: atLeast(1), doc: 'Partitions of __consumer_offsets, fixed once the topic exists.' },
  { name: 'offsets.topic.replication.factor', type: 'short', default: '3', validator: atLeast(1), doc: 'Replication factor of __consumer_offsets. A single broker creates it with factor 1.' },
  { name: 'offsets.topic.segment.bytes', type: 'int', default: '104857600', validator: atLeast(1), doc: 'segment.bytes of __consumer_offsets.' },
  { name: 'offsets.topic.compression.codec', type: 'int', default: '0', doc: 'Codec id for __consumer_offsets writes (0 = none). Informational here.' },
  { name: 'offsets.retention.minutes', type: 'int', default: '10080', validator: atLeast(1), doc: 'How long committed offsets of an empty group are kept.' },
  { name: 'offsets.retention.check.interval.ms', type: 'long', default: '600000', validator: atLeast(1), doc: 'How often expired committed offsets are removed.' },
  { name: 'offsets.commit.timeout.ms', type: 'int', default: '5000', validator: atLeast(1), doc: 'How long an offset commit waits for its write.' },
  { name: 'offsets.commit.required.acks', type: 'short', default: '-1', doc: 'Deprecated acks setting for offset commits. Informational here.' },
  { name: 'offsets.load.buffer.size', type: 'int', default: '5242880', validator: atLeast(1), doc: 'Read size when loading __consumer_offsets. Informational here.' },

  // --- transactions and idempotence ---
  { name: 'transaction.state.log.num.partitions', type: 'int', default: '50', validator: atLeast(1), doc: 'Partitions of __transaction_state, fixed once the topic exists.' },
  { name: 'transaction.state.log.replication.factor', type: 'short', default: '3', validator: atLeast(1), doc: 'Replication factor of __transaction_state. A single broker creates it with factor 1.' },
  { name: 'transaction.state.log.segment.bytes', type: 'int', default: '104857600', validator: atLeast(1), doc: 'segment.bytes of __transaction_state.' },
  { name: 'transaction.state.log.min.isr', type: 'int', default: '2', validator: atLeast(1), doc: 'min.insync.replicas of __transaction_state. Informational on a single broker.' },
  { name: 'transaction.state.log.load.buffer.size', type: 'int', default: '5242880', validator: atLeast(1), doc: 'Read size when loading __transaction_state. Informational here.' },
  { name: 'transaction.max.timeout.ms', type: 'int', default: '900000', validator: atLeast(1), doc: 'Longest transaction timeout a producer may ask for.' },
  { name: 'transactional.id.expiration.ms', type: 'int', default: '604800000', validator: atLeast(1), doc: 'How long a transactional id without activity is remembered.' },
  { name: 'transaction.abort.timed.out.transaction.cleanup.interval.ms', type: 'int', default: '10000', validator: atLeast(1), doc: 'How often transactions past their timeout are aborted.' },
  { name: 'transaction.remove.expired.transaction.cleanup.interval.ms', type: 'int', default: '3600000', validator: atLeast(1), doc: 'How often expired transactional ids are removed.' },
  { name: 'transaction.partition.verification.enable', type: 'boolean', default: 'true', dynamic: true, doc: 'Whether transactional writes must go to partitions added to the transaction (KIP-890).' },
  { name: 'producer.id.expiration.ms', type: 'int', default: '86400000', validator: atLeast(1), dynamic: true, doc: 'How long a partition remembers an idle producer\'s state.' },
  { name: 'log.initial.task.delay.ms', type: 'long', default: '30000', validator: atLeast(0), internal: true, doc: 'Delay after start before the first retention pass (then one every log.retention.check.interval.ms).' },
  { name: 'producer.id.expiration.check.interval.ms', type: 'int', default: '600000', validator: atLeast(1), internal: true, doc: 'How often idle producer state is removed.' },
];

export const BROKER_CONFIGS: readonly BrokerConfigDef[] = defs;

const BY_NAME = new Map(defs.map((d) => [d.name, d]));

export function brokerConfigDef(name: string): BrokerConfigDef | undefined {
  return BY_NAME.get(name);
}

/**
 * The known name an unknown one was probably meant to be, or null: a topic config's name given to
 * the broker, the name written in capitals or with underscores, a Docker image's environment
 * variable for it, or one letter off (further off, it may be a real Kafka setting Samsa does not
 * have, such as replica.fetch.min.bytes beside replica.fetch.max.bytes).
 */
export function likelyBrokerConfig(name: string): string | null {
  if (BY_NAME.has(`log.${name}`)) return `log.${name}`;
  // The right name in capitals, or with _ for . (log_retention_hours).
  for (const candidate of [name.toLowerCase(), name.toLowerCase().replace(/_/g, '.')]) {
    if (candidate !== name && BY_NAME.has(candidate)) return candidate;
  }
  // A Docker image's environment variable (KAFKA_NUM_PARTITIONS, bitnami's KAFKA_CFG_NUM_PARTITIONS)
  // given as a property: the images turn _ into ., __ into _ and ___ into - (bitnami only _ into .).
  const env = /^KAFKA_(?:CFG_)?([A-Z0-9_]+)$/.exec(name)?.[1]?.toLowerCase();
  if (env !== undefined) {
    const imageStyle = env.split('___').map((part) => part.split('__').map((p) => p.replace(/_/g, '.')).join('_')).join('-');
    for (const candidate of [imageStyle, env.replace(/_/g, '.')]) {
      if (BY_NAME.has(candidate)) return candidate;
    }
  }
  let best: string | null = null;
  let bestDistance = 2;
  for (const known of BY_NAME.keys()) {
    const d = editDistance(name, known, bestDistance);
    if (d < bestDistance) [best, bestDistance] = [known, d];
  }
  return best;
}

/** Levenshtein distance, or `cap` once it is known to be at least that. */
function editDistance(a: string, b: string, cap: number): number {
  if (Math.abs(a.length - b.length) >= cap) return cap;
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    if (Math.min(...next) >= cap) return cap;
    row = next;
  }
  return Math.min(row[b.length]!, cap);
}

/**
 * Kafka's check of the settings a broker starts with (KafkaConfig's ConfigDef): the reason the
 * first invalid one is refused, in Kafka's words, or null. Names Kafka does not know pass, as
 * they do in Kafka.
 */
export function invalidStaticConfigs(props: Readonly<Properties>): string | null {
  for (const [name, value] of Object.entries(props)) {
    const def = BY_NAME.get(name);
    const reason = def ? checkValue(def, value) : null;
    if (reason) return reason;
  }
  return null;
}

/**
 * Kafka's KafkaConfig.validateValues for the connection limits: the reason they are refused, or
 * null. Kafka refuses to start with them, and refuses a dynamic change that would produce them.
 */
export function invalidConnectionLimits(broker: BrokerConfig): string | null {
  if (Number(brokerValue(broker, 'max.connections.per.ip')) === 0 && (brokerValue(broker, 'max.connections.per.ip.overrides') ?? '').trim() === '') {
    return 'requirement failed: max.connections.per.ip can be set to zero only if max.connections.per.ip.overrides property is set.';
  }
  return null;
}

/** Samsa's default for a broker config: BROKER_DEFAULTS where it has one, else Kafka's; null when none. */
export function brokerDefault(name: string): string | null {
  if (Object.hasOwn(BROKER_DEFAULTS, name)) return BROKER_DEFAULTS[name];
  return BY_NAME.get(name)?.default ?? null;
}

/** The current value of a broker config (dynamic, static or default), or undefined when it has none. */
export function brokerValue(broker: BrokerConfig, name: string): string | undefined {
  return broker.get(name) ?? BY_NAME.get(name)?.default ?? undefined;
}

/**
 * Kafka's DynamicBrokerConfig.brokerConfigSynonyms: the names one broker setting may be given by,
 * highest precedence first.
 */
export function brokerSynonyms(name: string): string[] {
  switch (name) {
    case 'log.roll.ms':
    case 'log.roll.hours':
      return ['log.roll.ms', 'log.roll.hours'];
    case 'log.roll.jitter.ms':
    case 'log.roll.jitter.hours':
      return ['log.roll.jitter.ms', 'log.roll.jitter.hours'];
    case 'log.flush.interval.ms':
      return ['log.flush.interval.ms', 'log.flush.scheduler.interval.ms'];
    case 'log.retention.ms':
    case 'log.retention.minutes':
    case 'log.retention.hours':
      return ['log.retention.ms', 'log.retention.minutes', 'log.retention.hours'];
    default:
      return [name];
  }
}
