/**
 * What a capture run sent, stored beside the frames as `fixtures/<client>/scenario.json`, so that
 * golden.test.ts knows the expected values without any live client.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export type Codec = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';
export const CODECS: readonly Codec[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];
/** Batch attribute bits 0-2 per codec. */
export const CODEC_IDS: Readonly<Record<Codec, number>> = { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 };

export interface ScenarioMessage {
  /** UTF-8; null = null key. */
  key: string | null;
  /** UTF-8 */
  value: string;
  /** In wire order; duplicate keys allowed. Values are UTF-8. */
  headers: [string, string][];
  /** Epoch millis as a decimal string, when the client was told to use this exact timestamp. */
  timestamp?: string;
}

export interface ScenarioProduce {
  topic: string;
  partition: number;
  codec: Codec;
  clientId: string;
  /** The Produce request's acks. */
  acks: number;
  /** Producer id the batches must carry (idempotent producers get 1000 from the capture broker); -1 otherwise. */
  producerId: string;
  /**
   * librdkafka sends a batch uncompressed when compressing does not make it smaller; with this
   * set, such batches count towards this step (at least one batch must still use `codec`).
   */
  uncompressedFallback?: boolean;
  messages: ScenarioMessage[];
}

export interface ScenarioGroup {
  groupId: string;
  clientId: string;
  topics: string[];
  /** Assignor names in the order the client offers them in JoinGroup. */
  protocols: string[];
  /** The offsets the consumer commits at the end: next offset to read = messages in the partition. */
  commits: { topic: string; partition: number; offset: string }[];
}

export interface Scenario {
  client: string;
  clientVersion: string;
  /** Every client id the scenario's clients use. */
  clientIds: string[];
  /** What ApiVersions v3+ must carry (ClientSoftwareName / ClientSoftwareVersion), if it is sent. */
  software: { name: string; version: string } | null;
  createTopics: { name: string; numPartitions: number; replicationFactor: number }[];
  produce: ScenarioProduce[];
  groups: ScenarioGroup[];
  /** Topics the capture broker knows in this session: any topic named in a request must be one of them. */
  topics: string[];
  /** Captured frame count and what was left out. */
  frames?: number;
  skippedFrames?: number;
  /** Codecs or steps that could not be captured, with the reason. */
  notes: string[];
}

/** The repository root, from a compiled file anywhere under dist/test/golden/. */
export function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (path.basename(dir) !== 'dist') {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('not running from dist/');
    dir = up;
  }
  return path.dirname(dir);
}

export const fixturesDir = (): string => path.join(repoRoot(), 'test', 'golden', 'fixtures');
export const driversSourceDir = (): string => path.join(repoRoot(), 'test', 'golden', 'drivers');

export function topicFor(codec: Codec): string {
  return codec === 'none' ? 'golden' : `golden-${codec}`;
}

/**
 * The standard message set for clients that take per-message keys, headers and timestamps: a null
 * key, duplicate header keys, non-ASCII text and a long repetitive value (so compression matters).
 */
export function standardMessages(client: string, codec: Codec, timestamps: boolean): ScenarioMessage[] {
  const base = 1_700_000_000_000 + CODEC_IDS[codec] * 1000;
  const msgs: ScenarioMessage[] = [
    { key: 'key-0', value: `${client} ${codec} message 0`, headers: [['trace', `t-${codec}-0`], ['source', client]] },
    { key: null, value: `${client} ${codec} message 1 with a null key`, headers: [] },
    { key: 'key-2', value: `${client} ${codec} ünïcödé ✓ 日本`, headers: [['dup', 'first'], ['dup', 'second']] },
    { key: 'key-3', value: `${client} ${codec} `.concat('abcdefgh'.repeat(40)), headers: [['empty', '']] },
  ];
  if (timestamps) msgs.forEach((m, i) => (m.timestamp = String(base + i * 7)));
  return msgs;
}
