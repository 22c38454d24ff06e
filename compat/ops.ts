/**
 * The language every client driver speaks. The harness sends one operation as JSON on a driver's
 * stdin (or calls an in-process driver); the driver does it with its client library, the way that
 * library's own documentation says to, and answers with one JSON object on its last stdout line.
 *
 * Scenarios (scenarios.ts) are sequences of these operations plus assertions, so the same checks
 * apply to every client. Out-of-process drivers: drivers/*.py (Python), drivers/go/* (Go), and the
 * Node drivers in drivers/node/*.ts, each run as its own process.
 */

export type Codec = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';
export const CODECS: readonly Codec[] = ['gzip', 'snappy', 'lz4', 'zstd'];

/** A message to produce. Strings are UTF-8; null is a null key/value. */
export interface OutMessage {
  key: string | null;
  value: string | null;
  headers?: [string, string][];
  /** Record timestamp (CreateTime) in ms, when the client can set one. */
  timestamp?: number;
  partition?: number;
}

/** A consumed record as a driver reports it. */
export interface InMessage {
  partition: number;
  offset: number;
  key: string | null;
  value: string | null;
  headers: [string, string][];
  timestamp: number;
}

export type StartFrom = 'earliest' | { offset: number } | { timestamp: number };

export type Op =
  | { op: 'version' }
  | { op: 'createTopic'; topic: string; partitions: number; configs?: Record<string, string> }
  | { op: 'listTopics' }
  | { op: 'describeTopic'; topic: string }
  | { op: 'deleteTopic'; topic: string }
  | { op: 'produce'; topic: string; messages: OutMessage[]; compression?: Codec; idempotent?: boolean }
  | {
      op: 'consume';
      topic: string;
      partition: number;
      from: StartFrom;
      count: number;
      timeoutMs: number;
      isolation?: 'read_committed' | 'read_uncommitted';
      /** Out-of-range start offsets must surface as the client's error instead of a reset. */
      strict?: boolean;
    }
  | { op: 'offsetForTime'; topic: string; partition: number; timestamp: number }
  | { op: 'groupConsume'; topic: string; group: string; count: number; timeoutMs: number }
  | { op: 'rebalance'; topic: string; group: string; partitions: number; preCount: number; timeoutMs: number }
  | { op: 'staticMembership'; topic: string; group: string; timeoutMs: number }
  /**
   * Three transactions on partition 0: t1-0..2 committed, t2-0..1 aborted (delivered to the broker
   * first: some clients purge what is still queued when aborting), t3-0..1 committed together with
   * offset 3 for `group` on partition 0 (if the client can send offsets to a transaction).
   */
  | { op: 'transactions'; topic: string; transactionalId: string; group: string }
  | { op: 'describeConfigs'; topic: string; names: string[] }
  | { op: 'alterConfigs'; topic: string; configs: Record<string, string> }
  | { op: 'createPartitions'; topic: string; count: number }
  | { op: 'deleteRecords'; topic: string; partition: number; offset: number }
  /** The consumer groups the client's admin lists: { groups: GroupListing[] }. */
  | { op: 'listGroups' }
  /** One group as the client's admin describes it: GroupDescription. */
  | { op: 'describeGroup'; group: string }
  /** The group's committed offsets for the topic's partitions: { offsets: PartitionOffset[] }, -1 where none. */
  | { op: 'groupOffsets'; group: string; topic: string; partitions: number }
  /** Sets the committed offsets of a group without members, as an admin does. */
  | { op: 'setGroupOffsets'; group: string; topic: string; offsets: PartitionOffset[] }
  | { op: 'deleteGroup'; group: string };

export interface PartitionOffset {
  partition: number;
  offset: number;
}

/** Kafka's names for group states (ListGroups v4+, DescribeGroups): 'Empty', 'Stable', 'Dead', … */
export interface GroupListing {
  groupId: string;
  /** Omitted when the client does not report it. */
  protocolType?: string;
  state?: string;
}

export interface GroupDescription {
  state: string;
  /** Omitted when the client does not report it. */
  protocolType?: string;
  members: number;
}

export type OpName = Op['op'];

/** An error as the client raised it: its class/name, the Kafka error code when it exposes one, the text. */
export interface ClientError {
  name: string;
  code?: number;
  message: string;
}

export interface OpRequest {
  bootstrap: string;
  /** A prefix for client ids, so broker logs show which scenario a connection belongs to. */
  clientId: string;
  op: Op;
}

export type OpResult = ({ ok: true } & Record<string, unknown>) | { ok: false; error: ClientError };

/** What rebalance answers: who owned what, and who consumed which message. */
export interface RebalanceResult {
  /** Member A's partitions while alone (phase 1). */
  phase1: number[];
  /** Assignments once B has joined, when the client exposes them (else null). */
  phase2: { A: number[]; B: number[] } | null;
  /** Values consumed by each member, with their partition. */
  consumed: { A: { partition: number; value: string }[]; B: { partition: number; value: string }[] };
}

/** What staticMembership answers. */
export interface StaticResult {
  before: { A: number[]; B: number[] };
  after: { A: number[] };
  /** How many assignment events member B saw before A restarted, and in total at the end. */
  bEventsBefore: number;
  bEventsAfter: number;
}

/** A deterministic printable payload of `size` bytes (no newlines, so line-based tools can carry it). */
export function payload(size: number, seed: number): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_';
  let s = '';
  const chunk: string[] = [];
  for (let i = 0; i < 4096; i++) chunk.push(alphabet[(i * 7 + seed * 13 + (i >> 6)) % alphabet.length]);
  const block = chunk.join('');
  while (s.length < size) s += block;
  return s.slice(0, size);
}
