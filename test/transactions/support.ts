/**
 * Helpers for the transaction tests: exact protocol reads of a partition (offsets, batches,
 * last stable offset) with our RawClient, transactional requests by hand, a TCP proxy that loses
 * responses, and kcat reads with a chosen isolation level.
 */
import assert from 'node:assert/strict';
import { type Server, type Socket, connect, createServer } from 'node:net';
import { join } from 'node:path';
import { ErrorCode } from '../../protocol/error-codes.js';
import { ApiKey } from '../../protocol/generated/index.js';
import {
  buildRecordBatch, isControl, isTransactional, iterateBatches, readAttributes, readBaseSequence, readControlRecord, readLastOffsetDelta, readProducerEpoch, readProducerId,
  readRecordCount, readRecords,
} from '../../protocol/records/index.js';
import { ROOT, run } from '../support/processes.js';
import { RawClient } from '../support/raw-client.js';
import { PyProcess } from '../groups/support-py/py-process.js';
import { Random } from '../support/random.js';

export const TXN_PY = join(ROOT, 'test/transactions');

export const READ_UNCOMMITTED = 0;
export const READ_COMMITTED = 1;

export function errorName(code: number): string {
  return Object.entries(ErrorCode).find(([, c]) => c === code)?.[0] ?? String(code);
}

export async function createTopics(client: RawClient, topics: { name: string; partitions: number }[]): Promise<void> {
  const r = await client.send(ApiKey.CreateTopics, 7, {
    topics: topics.map((t) => ({ name: t.name, numPartitions: t.partitions, replicationFactor: 1, assignments: [], configs: [] })),
    timeoutMs: 5000, validateOnly: false,
  });
  for (const t of r.topics) assert.equal(t.errorCode, ErrorCode.NONE, `create ${t.name}: ${t.errorMessage}`);
}

/** One record as stored, with the header of the batch it is in. */
export interface StoredRecord {
  offset: number;
  key: string | null;
  value: string | null;
  producerId: bigint;
  epoch: number;
  baseSequence: number;
  transactional: boolean;
  /** COMMIT / ABORT for transaction markers, null for data. */
  control: 'COMMIT' | 'ABORT' | null;
}

export interface PartitionRead {
  records: StoredRecord[];
  highWatermark: bigint;
  lastStableOffset: bigint;
  logStartOffset: bigint;
  /** Null for read_uncommitted (as Kafka answers), the list for read_committed. */
  abortedTransactions: { producerId: bigint; firstOffset: bigint }[] | null;
}

/** Fetch v11 of one partition from `offset`, once. */
export async function fetchOnce(client: RawClient, topic: string, partition: number, offset: bigint, isolationLevel: number, maxBytes = 1 << 20): Promise<any> {
  const r = await client.send(ApiKey.Fetch, 11, {
    replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes, isolationLevel, sessionId: 0, sessionEpoch: -1,
    topics: [{ topic, partitions: [{ partition, currentLeaderEpoch: -1, fetchOffset: offset, logStartOffset: -1n, partitionMaxBytes: maxBytes }] }],
    forgottenTopicsData: [], rackId: '',
  });
  const p = r.responses[0].partitions[0];
  assert.equal(p.errorCode, ErrorCode.NONE, `fetch ${topic}-${partition}@${offset}: ${errorName(p.errorCode)}`);
  return p;
}

/**
 * Every stored record of a partition (markers included) from the log start to the high watermark
 * (read_uncommitted) or the last stable offset (read_committed), with the bounds of the last fetch.
 */
export async function readPartition(client: RawClient, topic: string, partition: number, isolationLevel = READ_UNCOMMITTED): Promise<PartitionRead> {
  const records: StoredRecord[] = [];
  let offset = 0n;
  let last: any;
  const aborted: { producerId: bigint; firstOffset: bigint }[] = [];
  for (;;) {
    last = await fetchOnce(client, topic, partition, offset, isolationLevel);
    if (last.abortedTransactions) aborted.push(...last.abortedTransactions.map((a: any) => ({ producerId: a.producerId, firstOffset: a.firstOffset })));
    const bound = isolationLevel === READ_COMMITTED ? last.lastStableOffset : last.highWatermark;
    const before = offset;
    for (const b of iterateBatches(last.records as Buffer)) {
      const attributes = readAttributes(b.buf);
      const header = { producerId: readProducerId(b.buf), epoch: readProducerEpoch(b.buf), baseSequence: readBaseSequence(b.buf), transactional: isTransactional(attributes) };
      // A batch the log cleaner emptied (a bare header, markers too) holds no record: only its offsets are passed.
      const next = b.baseOffset + BigInt(readLastOffsetDelta(b.buf)) + 1n;
      if (isControl(attributes)) {
        if (readRecordCount(b.buf) > 0) {
          const c = readControlRecord(b.buf);
          if (c.offset >= offset) records.push({ offset: Number(c.offset), key: null, value: null, ...header, control: c.type === 1 ? 'COMMIT' : 'ABORT' });
        }
        if (next > offset) offset = next;
        continue;
      }
      for (const r of readRecords(b.buf)) {
        if (r.offset < offset) continue;
        records.push({ offset: Number(r.offset), key: r.key?.toString() ?? null, value: r.value?.toString() ?? null, ...header, control: null });
        offset = r.offset + 1n;
      }
      if (next > offset) offset = next;
    }
    if (offset >= bound || offset === before) break;
  }
  const seen = new Set<string>();
  const uniqueAborted = aborted.filter((a) => {
    const k = `${a.producerId}/${a.firstOffset}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
  return {
    records, highWatermark: last.highWatermark, lastStableOffset: last.lastStableOffset, logStartOffset: last.logStartOffset,
    abortedTransactions: isolationLevel === READ_COMMITTED ? uniqueAborted : last.abortedTransactions,
  };
}

/** What a read_committed consumer keeps of a raw read: data records, minus aborted transactions, below the LSO. */
export function committedView(records: StoredRecord[]): StoredRecord[] {
  // A data record is aborted when a later ABORT marker of its producer closes the transaction it is in.
  const out: StoredRecord[] = [];
  const open = new Map<bigint, StoredRecord[]>();
  for (const r of records) {
    if (r.control) {
      const txn = open.get(r.producerId) ?? [];
      open.delete(r.producerId);
      if (r.control === 'COMMIT') out.push(...txn);
    } else if (r.transactional) {
      if (!open.has(r.producerId)) open.set(r.producerId, []);
      open.get(r.producerId)!.push(r);
    } else {
      out.push(r);
    }
  }
  return out.sort((a, b) => a.offset - b.offset);
}

/** ListOffsets v5 LATEST (-1) with an isolation level: HW for read_uncommitted, LSO for read_committed. */
export async function latestOffset(client: RawClient, topic: string, partition: number, isolationLevel: number): Promise<bigint> {
  const r = await client.send(ApiKey.ListOffsets, 5, {
    replicaId: -1, isolationLevel, topics: [{ name: topic, partitions: [{ partitionIndex: partition, currentLeaderEpoch: -1, timestamp: -1n, maxNumOffsets: 1 }] }],
  });
  const p = r.topics[0].partitions[0];
  assert.equal(p.errorCode, ErrorCode.NONE, `ListOffsets ${topic}-${partition}: ${errorName(p.errorCode)}`);
  return p.offset;
}

/** The high watermark and last stable offset as Fetch and ListOffsets both report them; asserts they agree. */
export async function stableOffsets(client: RawClient, topic: string, partition: number): Promise<{ hw: bigint; lso: bigint }> {
  const f = await fetchOnce(client, topic, partition, 0n, READ_COMMITTED, 1);
  const hw = await latestOffset(client, topic, partition, READ_UNCOMMITTED);
  const lso = await latestOffset(client, topic, partition, READ_COMMITTED);
  assert.equal(f.highWatermark, hw, `${topic}-${partition}: Fetch highWatermark vs ListOffsets read_uncommitted`);
  assert.equal(f.lastStableOffset, lso, `${topic}-${partition}: Fetch lastStableOffset vs ListOffsets read_committed`);
  return { hw, lso };
}

// ---- A transactional producer by hand ------------------------------------------------------------

export interface RawProducer {
  producerId: bigint;
  epoch: number;
  /** Next sequence per "topic/partition". */
  seq: Map<string, number>;
}

export async function initProducerId(client: RawClient, transactionalId: string | null, timeoutMs = 60_000, version = 4): Promise<{ errorCode: number; producerId: bigint; producerEpoch: number }> {
  return client.send(ApiKey.InitProducerId, version, { transactionalId, transactionTimeoutMs: timeoutMs, producerId: -1n, producerEpoch: -1 });
}

/** InitProducerId, retrying CONCURRENT_TRANSACTIONS (an open transaction being aborted) as clients do. */
export async function initProducer(client: RawClient, transactionalId: string | null, timeoutMs = 60_000): Promise<RawProducer> {
  for (let attempt = 0; ; attempt++) {
    const r = await initProducerId(client, transactionalId, timeoutMs);
    if (r.errorCode === ErrorCode.CONCURRENT_TRANSACTIONS && attempt < 100) {
      await new Promise((res) => setTimeout(res, 50));
      continue;
    }
    assert.equal(r.errorCode, ErrorCode.NONE, `InitProducerId ${transactionalId}: ${errorName(r.errorCode)}`);
    return { producerId: r.producerId, epoch: r.producerEpoch, seq: new Map() };
  }
}

export async function addPartitions(client: RawClient, transactionalId: string, p: RawProducer, topic: string, partitions: number[]): Promise<number[]> {
  const r = await client.send(ApiKey.AddPartitionsToTxn, 3, {
    v3AndBelowTransactionalId: transactionalId, v3AndBelowProducerId: p.producerId, v3AndBelowProducerEpoch: p.epoch,
    v3AndBelowTopics: [{ name: topic, partitions }],
  });
  return r.resultsByTopicV3AndBelow[0].resultsByPartition.map((x: any) => x.partitionErrorCode);
}

export async function endTxn(client: RawClient, transactionalId: string, p: RawProducer, commit: boolean, version = 3): Promise<number> {
  const r = await client.send(ApiKey.EndTxn, version, { transactionalId, producerId: p.producerId, producerEpoch: p.epoch, committed: commit });
  return r.errorCode;
}

export interface BatchSpec {
  producerId: bigint;
  epoch: number;
  baseSequence: number;
  values: string[];
  transactional?: boolean;
}

export function producerBatch(s: BatchSpec): Buffer {
  return buildRecordBatch({
    baseOffset: 0n, producerId: s.producerId, producerEpoch: s.epoch, baseSequence: s.baseSequence, transactional: s.transactional ?? false,
    records: s.values.map((v) => ({ value: Buffer.from(v), headers: [] })),
  });
}

/** Produce v9 of one batch; returns the partition response. */
export async function produceBatch(client: RawClient, topic: string, partition: number, batch: Buffer, transactionalId: string | null = null): Promise<any> {
  const r = await client.send(ApiKey.Produce, 9, { transactionalId, acks: -1, timeoutMs: 5000, topicData: [{ name: topic, partitionData: [{ index: partition, records: batch }] }] });
  return r.responses[0].partitionResponses[0];
}

/** Sends the next batch of a producer (its sequence advanced on success). */
export async function produceNext(client: RawClient, p: RawProducer, topic: string, partition: number, values: string[], transactionalId: string | null = null): Promise<any> {
  const key = `${topic}/${partition}`;
  const seq = p.seq.get(key) ?? 0;
  const r = await produceBatch(client, topic, partition, producerBatch({ producerId: p.producerId, epoch: p.epoch, baseSequence: seq, values, transactional: transactionalId !== null }), transactionalId);
  if (r.errorCode === ErrorCode.NONE) p.seq.set(key, seq + values.length);
  return r;
}

export async function describeTransaction(client: RawClient, transactionalId: string): Promise<any> {
  const r = await client.send(ApiKey.DescribeTransactions, 0, { transactionalIds: [transactionalId] });
  return r.transactionStates[0];
}

// ---- A proxy that loses responses ------------------------------------------------------------------

/**
 * A TCP proxy between clients and the broker. At the start of each broker→client response frame it
 * may, with probability `dropRate`, close both connections instead of passing the response on: the
 * broker has done the work, the client never hears of it and must retry. Whole earlier responses
 * in the same chunk are still delivered.
 */
export class LossyProxy {
  target: { host: string; port: number } | null = null;
  dropRate: number;
  responses = 0;
  drops = 0;
  connections = 0;
  /** Lost responses by the API key of their request. */
  readonly dropsByApi = new Map<number, number>();
  private readonly rnd: Random;
  private readonly sockets = new Set<Socket>();

  private constructor(private readonly server: Server, readonly port: number, dropRate: number, seed: number) {
    this.dropRate = dropRate;
    this.rnd = new Random(seed);
  }

  static start(dropRate: number, seed: number): Promise<LossyProxy> {
    return new Promise((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const proxy = new LossyProxy(server, (server.address() as { port: number }).port, dropRate, seed);
        server.on('connection', (s) => proxy.accept(s));
        resolve(proxy);
      });
    });
  }

  private accept(client: Socket): void {
    if (!this.target) {
      client.destroy();
      return;
    }
    this.connections++;
    const upstream = connect(this.target);
    this.sockets.add(client);
    this.sockets.add(upstream);
    // While hanging up on purpose the client socket is ended (not destroyed), so that what was
    // written to it before still reaches the client.
    let hangingUp = false;
    const closeBoth = () => {
      if (!hangingUp) client.destroy();
      upstream.destroy();
      this.sockets.delete(upstream);
    };
    client.on('close', () => this.sockets.delete(client));
    client.on('error', closeBoth);
    upstream.on('error', closeBoth);
    client.on('close', closeBoth);
    upstream.on('close', closeBoth);
    // Responses come back in request order on a connection: the API keys of the requests sent,
    // oldest first, tell what each response answers.
    const apiKeys: number[] = [];
    let reqHeader = Buffer.alloc(0);
    let reqRemaining = 0;
    client.on('data', (d: Buffer) => {
      let pos = 0;
      while (pos < d.length) {
        if (reqRemaining === 0) {
          const take = Math.min(6 - reqHeader.length, d.length - pos);
          reqHeader = Buffer.concat([reqHeader, d.subarray(pos, pos + take)]);
          pos += take;
          if (reqHeader.length === 6) {
            apiKeys.push(reqHeader.readInt16BE(4));
            reqRemaining = reqHeader.readInt32BE(0) - 2;
            reqHeader = Buffer.alloc(0);
          }
        } else {
          const take = Math.min(reqRemaining, d.length - pos);
          reqRemaining -= take;
          pos += take;
        }
      }
      upstream.write(d);
    });
    let header = Buffer.alloc(0);
    let remaining = 0;
    upstream.on('data', (chunk: Buffer) => {
      let pos = 0;
      while (pos < chunk.length) {
        if (remaining === 0) {
          if (header.length === 0) {
            this.responses++;
            const apiKey = apiKeys.shift() ?? -1;
            if (this.rnd.bool(this.dropRate)) {
              this.drops++;
              this.dropsByApi.set(apiKey, (this.dropsByApi.get(apiKey) ?? 0) + 1);
              // Deliver the responses that ended before this one, then hang up.
              hangingUp = true;
              if (pos > 0) client.write(chunk.subarray(0, pos));
              client.end();
              setTimeout(() => client.destroy(), 1000).unref();
              upstream.destroy();
              return;
            }
          }
          const take = Math.min(4 - header.length, chunk.length - pos);
          header = Buffer.concat([header, chunk.subarray(pos, pos + take)]);
          pos += take;
          if (header.length === 4) {
            remaining = header.readInt32BE(0);
            header = Buffer.alloc(0);
          }
        } else {
          const take = Math.min(remaining, chunk.length - pos);
          remaining -= take;
          pos += take;
        }
      }
      client.write(chunk);
    });
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

// ---- kcat ------------------------------------------------------------------------------------------

export interface Consumed {
  partition: number;
  offset: number;
  value: string;
}

/** Reads a whole topic with kcat (librdkafka) to its end at the given isolation level. */
export async function kcatRead(bootstrap: string, topic: string, isolation: 'read_committed' | 'read_uncommitted', timeoutMs = 60_000): Promise<Consumed[]> {
  const r = await run('kcat', ['-C', '-b', bootstrap, '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%p %o %s\\n', '-X', `isolation.level=${isolation}`, '-X', 'fetch.wait.max.ms=10'], { timeoutMs });
  assert.equal(r.code, 0, r.stderr);
  const out: Consumed[] = [];
  for (const line of r.stdout.split('\n')) {
    if (!line) continue;
    const a = line.indexOf(' ');
    const b = line.indexOf(' ', a + 1);
    out.push({ partition: Number(line.slice(0, a)), offset: Number(line.slice(a + 1, b)), value: line.slice(b + 1) });
  }
  return out;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

// ---- A long-running Python client ----------------------------------------------------------------

/** `python3 -u test/transactions/<script> <json>`, printing one JSON event per line. */
export class PyEvents extends PyProcess {
  constructor(name: string, script: string, args: unknown) {
    super(name, script, args, TXN_PY);
  }
}
