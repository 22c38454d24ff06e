/**
 * A tiny fake Kafka broker for capturing what real clients send (a test tool, not the product broker).
 *
 * It listens on 127.0.0.1, reads size-prefixed frames, saves every request frame (the bytes after the
 * size prefix) as `NNN-<ApiName>-v<version>.bin` in its output directory, and answers just enough,
 * with our own generated codecs, for clients to get through produce / consume-in-a-group / admin
 * flows: one broker (node 1, also the controller and every coordinator), topics with in-memory logs,
 * single-member groups. Requests on one connection are answered strictly in order.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { decodeRequest, encodeResponse, type DecodedRequest } from '../../protocol/frames.js';
import { APIS, ApiKey } from '../../protocol/generated/index.js';

export const NODE_ID = 1;
export const CLUSTER_ID = 'golden-capture-cluster';
export const PRODUCER_ID = 1000n;

/** API keys never advertised: telemetry (71, 72) and the unstable share-group APIs. */
const NOT_ADVERTISED = new Set([71, 72, 76, 77, 78, 79, 83, 84, 85, 86, 87]);

/** How many frames of one api/version to keep; the rest are answered but not saved. */
const DEFAULT_KEEP = 3;
const KEEP_BY_API: Record<number, number> = {
  [ApiKey.Produce]: 40,
  [ApiKey.CreateTopics]: 10,
  [ApiKey.OffsetCommit]: 8,
  [ApiKey.JoinGroup]: 6,
  [ApiKey.SyncGroup]: 6,
  [ApiKey.Metadata]: 6,
  [ApiKey.FindCoordinator]: 4,
};

/** Longest a Fetch waits for data (MaxWaitMs is honoured up to this), to keep capture runs short. */
const MAX_FETCH_WAIT_MS = 100;

export interface CaptureBrokerOptions {
  /** Where frames are saved; created if missing. Without it nothing is saved. */
  outDir?: string;
  host?: string;
  /** 0 (default) = ephemeral. */
  port?: number;
  /** Topics that exist from the start: name -> partition count. */
  topics?: Record<string, number>;
  /** Log every request to stderr. */
  verbose?: boolean;
}

interface StoredBatch {
  baseOffset: bigint;
  /** Offset after the batch's last record. */
  nextOffset: bigint;
  data: Buffer;
}

interface PartitionLog {
  batches: StoredBatch[];
  /** High watermark = number of records appended. */
  end: bigint;
}

interface Topic {
  name: string;
  id: string;
  partitions: PartitionLog[];
}

interface Group {
  generation: number;
  protocolName: string | null;
  leader: string;
  members: Map<string, { groupInstanceId: string | null; metadata: Buffer }>;
  assignments: Map<string, Buffer>;
  /** topic -> partition -> committed offset */
  offsets: Map<string, Map<number, bigint>>;
}

export interface SavedFrame {
  file: string;
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  clientId: string | null;
}

/** A deterministic, non-zero topic id derived from the name, so captures are reproducible. */
export function topicIdFor(name: string): string {
  const b = createHash('sha256').update(`golden-topic:${name}`).digest().subarray(0, 16);
  if (b.every((x) => x === 0)) b[15] = 1;
  return b.toString('base64url');
}

/**
 * Walks the batches of a produced records field and gives each its log offsets. Magic 2 batches
 * carry lastOffsetDelta (byte 23); legacy (magic 0/1) entries are counted as one offset each, which
 * is wrong for compressed wrapper messages but none of the captured clients sends those.
 */
function splitProduced(records: Buffer, start: bigint): StoredBatch[] {
  const out: StoredBatch[] = [];
  let pos = 0;
  let next = start;
  while (pos + 12 <= records.length) {
    const size = 12 + records.readInt32BE(pos + 8);
    if (size < 12 || pos + size > records.length) break;
    const data = Buffer.from(records.subarray(pos, pos + size)); // a copy: we rewrite its base offset
    const magic = size > 16 ? data.readInt8(16) : -1;
    const count = magic === 2 && size >= 61 ? BigInt(data.readInt32BE(23) + 1) : 1n;
    data.writeBigInt64BE(next, 0);
    out.push({ baseOffset: next, nextOffset: next + count, data });
    next += count;
    pos += size;
  }
  return out;
}

export class CaptureBroker {
  readonly host: string;
  port: number;
  readonly outDir: string | undefined;
  readonly saved: SavedFrame[] = [];
  /** Frames received but not saved because enough of that api/version were kept already. */
  skipped = 0;
  /** Requests that failed to decode or to be answered; each is a finding. */
  readonly errors: string[] = [];
  /** API keys that were answered with an empty default body. */
  readonly defaulted = new Set<string>();
  readonly topics = new Map<string, Topic>();
  readonly groups = new Map<string, Group>();

  private server: net.Server | undefined;
  private sockets = new Set<net.Socket>();
  private keptCount = new Map<string, number>();
  private memberSeq = 0;
  private readonly verbose: boolean;

  constructor(options: CaptureBrokerOptions = {}) {
    this.host = options.host ?? '127.0.0.1';
    this.port = options.port ?? 0;
    this.outDir = options.outDir;
    this.verbose = options.verbose ?? false;
    for (const [name, n] of Object.entries(options.topics ?? {})) this.ensureTopic(name, n);
    if (this.outDir) fs.mkdirSync(this.outDir, { recursive: true });
  }

  get address(): string {
    return `${this.host}:${this.port}`;
  }

  async start(): Promise<this> {
    const server = net.createServer((socket) => this.onConnection(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, this.host, () => resolve());
    });
    this.port = (server.address() as net.AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  ensureTopic(name: string, partitions = 1): Topic {
    let t = this.topics.get(name);
    if (!t) {
      t = { name, id: topicIdFor(name), partitions: [] };
      this.topics.set(name, t);
    }
    while (t.partitions.length < Math.max(1, partitions)) t.partitions.push({ batches: [], end: 0n });
    return t;
  }

  private topicById(id: string): Topic | undefined {
    for (const t of this.topics.values()) if (t.id === id) return t;
    return undefined;
  }

  private group(id: string): Group {
    let g = this.groups.get(id);
    if (!g) {
      g = { generation: 0, protocolName: null, leader: '', members: new Map(), assignments: new Map(), offsets: new Map() };
      this.groups.set(id, g);
    }
    return g;
  }

  private log(msg: string): void {
    if (this.verbose) process.stderr.write(`[capture ${this.port}] ${msg}\n`);
  }

  private onConnection(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.setNoDelay(true);
    let pending: Buffer = Buffer.alloc(0);
    let chain: Promise<void> = Promise.resolve();
    socket.on('data', (chunk: Buffer) => {
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      while (pending.length >= 4) {
        const size = pending.readInt32BE(0);
        if (size < 0 || size > 100 * 1024 * 1024) {
          this.errors.push(`bad frame size ${size}`);
          socket.destroy();
          return;
        }
        if (pending.length < 4 + size) break;
        const frame = Buffer.from(pending.subarray(4, 4 + size));
        pending = pending.subarray(4 + size);
        this.save(frame);
        chain = chain.then(() => this.answer(socket, frame));
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => this.sockets.delete(socket));
  }

  private save(frame: Buffer): void {
    if (frame.length < 8) return;
    const apiKey = frame.readInt16BE(0);
    const apiVersion = frame.readInt16BE(2);
    const correlationId = frame.readInt32BE(4);
    const name = APIS[apiKey]?.name ?? `Unknown${apiKey}`;
    const k = `${apiKey}/${apiVersion}`;
    const n = this.keptCount.get(k) ?? 0;
    if (n >= (KEEP_BY_API[apiKey] ?? DEFAULT_KEEP)) {
      this.skipped++;
      return;
    }
    this.keptCount.set(k, n + 1);
    let clientId: string | null = null;
    if (frame.length >= 10) {
      const len = frame.readInt16BE(8);
      clientId = len < 0 ? null : frame.toString('utf8', 10, 10 + len);
    }
    const file = `${String(this.saved.length).padStart(3, '0')}-${name}-v${apiVersion}.bin`;
    if (this.outDir) fs.writeFileSync(path.join(this.outDir, file), frame);
    this.saved.push({ file, apiKey, apiVersion, correlationId, clientId });
  }

  private async answer(socket: net.Socket, frame: Buffer): Promise<void> {
    if (socket.destroyed) return;
    let req: DecodedRequest;
    try {
      req = decodeRequest(frame);
    } catch (e) {
      this.errors.push(`decode ${frame.readInt16BE(0)}/${frame.readInt16BE(2)}: ${(e as Error).message}`);
      socket.destroy();
      return;
    }
    const { header, api } = req;
    const v = header.requestApiVersion;
    this.log(`${api.name} v${v} corr=${header.correlationId} client=${header.clientId}`);
    try {
      if (api.apiKey === ApiKey.ApiVersions && req.body === null) {
        // Unknown ApiVersions version: v0 body, UNSUPPORTED_VERSION, listing only ApiVersions itself.
        const ours = APIS[ApiKey.ApiVersions]!;
        const chunks = encodeResponse(api.apiKey, v, header.correlationId, {
          errorCode: 35,
          apiKeys: [{ apiKey: ApiKey.ApiVersions, minVersion: ours.minVersion, maxVersion: ours.maxVersion }],
        }, 0);
        socket.write(Buffer.concat(chunks));
        return;
      }
      const body = await this.handle(req, v, header.clientId);
      if (body === null) return; // acks=0 produce
      if (socket.destroyed) return;
      socket.write(Buffer.concat(encodeResponse(api.apiKey, v, header.correlationId, body)));
    } catch (e) {
      this.errors.push(`answer ${api.name} v${v}: ${(e as Error).stack ?? e}`);
      socket.destroy();
    }
  }

  /** Returns the response body at the request's version, or null for "no response". */
  private async handle(req: DecodedRequest, v: number, clientId: string | null): Promise<unknown> {
    const b = req.body;
    switch (req.api.apiKey) {
      case ApiKey.ApiVersions:
        return {
          errorCode: 0,
          apiKeys: APIS.filter((a) => a.listeners.includes('broker') && !NOT_ADVERTISED.has(a.apiKey)).map((a) => ({
            apiKey: a.apiKey,
            minVersion: a.minVersion,
            maxVersion: a.maxVersion,
          })),
        };
      case ApiKey.Metadata:
        return this.metadata(b, v);
      case ApiKey.CreateTopics:
        return this.createTopics(b, v);
      case ApiKey.Produce:
        return this.produce(b, v);
      case ApiKey.Fetch:
        return this.fetch(b, v);
      case ApiKey.ListOffsets:
        return this.listOffsets(b, v);
      case ApiKey.FindCoordinator:
        return this.findCoordinator(b, v);
      case ApiKey.JoinGroup:
        return this.joinGroup(b, v, clientId);
      case ApiKey.SyncGroup: {
        const g = this.group(b.groupId);
        for (const a of b.assignments as { memberId: string; assignment: Buffer }[]) g.assignments.set(a.memberId, a.assignment);
        return {
          errorCode: 0,
          protocolType: v >= 5 ? 'consumer' : undefined,
          protocolName: v >= 5 ? g.protocolName : undefined,
          assignment: g.assignments.get(b.memberId) ?? Buffer.alloc(0),
        };
      }
      case ApiKey.Heartbeat:
        return { errorCode: 0 };
      case ApiKey.OffsetCommit:
        return this.offsetCommit(b);
      case ApiKey.OffsetFetch:
        return this.offsetFetch(b, v);
      case ApiKey.LeaveGroup:
        if (v < 3) return { errorCode: 0 };
        return {
          errorCode: 0,
          members: (b.members as { memberId: string; groupInstanceId: string | null }[]).map((m) => ({
            memberId: m.memberId,
            groupInstanceId: m.groupInstanceId,
            errorCode: 0,
          })),
        };
      case ApiKey.InitProducerId:
        return { errorCode: 0, producerId: PRODUCER_ID, producerEpoch: 0 };
      default:
        this.defaulted.add(`${req.api.name} v${v}`);
        return {};
    }
  }

  private metadataTopic(t: Topic, v: number): unknown {
    return {
      errorCode: 0,
      name: t.name,
      topicId: v >= 10 ? t.id : undefined,
      isInternal: false,
      partitions: t.partitions.map((_, i) => ({
        errorCode: 0,
        partitionIndex: i,
        leaderId: NODE_ID,
        leaderEpoch: v >= 7 ? 0 : undefined,
        replicaNodes: [NODE_ID],
        isrNodes: [NODE_ID],
        offlineReplicas: [],
      })),
    };
  }

  private metadata(b: { topics: { topicId: string; name: string | null }[] | null }, v: number): unknown {
    let topics: Topic[];
    if (b.topics === null || (v === 0 && b.topics.length === 0)) {
      topics = [...this.topics.values()];
    } else {
      topics = [];
      for (const t of b.topics) {
        const found = t.name !== null ? this.ensureTopic(t.name) : this.topicById(t.topicId);
        if (found) topics.push(found);
      }
    }
    return {
      brokers: [{ nodeId: NODE_ID, host: this.host, port: this.port, rack: null }],
      clusterId: v >= 2 ? CLUSTER_ID : undefined,
      controllerId: v >= 1 ? NODE_ID : undefined,
      topics: topics.map((t) => this.metadataTopic(t, v)),
    };
  }

  private createTopics(b: { topics: { name: string; numPartitions: number; replicationFactor: number; assignments: unknown[] }[] }, v: number): unknown {
    return {
      topics: b.topics.map((t) => {
        const n = t.numPartitions > 0 ? t.numPartitions : Math.max(1, t.assignments.length);
        const topic = this.ensureTopic(t.name, n);
        return {
          name: t.name,
          topicId: v >= 7 ? topic.id : undefined,
          errorCode: 0,
          errorMessage: null,
          numPartitions: v >= 5 ? topic.partitions.length : undefined,
          replicationFactor: v >= 5 ? 1 : undefined,
          configs: v >= 5 ? [] : undefined,
        };
      }),
    };
  }

  private produce(b: { acks: number; topicData: { name: string; partitionData: { index: number; records: Buffer | null }[] }[] }, v: number): unknown {
    const responses = b.topicData.map((td) => {
      const maxIndex = Math.max(0, ...td.partitionData.map((p) => p.index));
      const topic = this.ensureTopic(td.name, maxIndex + 1);
      return {
        name: td.name,
        partitionResponses: td.partitionData.map((pd) => {
          const log = topic.partitions[pd.index]!;
          const baseOffset = log.end;
          for (const batch of splitProduced(pd.records ?? Buffer.alloc(0), log.end)) {
            log.batches.push(batch);
            log.end = batch.nextOffset;
          }
          return {
            index: pd.index,
            errorCode: 0,
            baseOffset,
            logAppendTimeMs: v >= 2 ? -1n : undefined,
            logStartOffset: v >= 5 ? 0n : undefined,
          };
        }),
      };
    });
    if (b.acks === 0) return null;
    return { responses };
  }

  private fetchOnce(b: any, v: number): { body: unknown; bytes: number } {
    let bytes = 0;
    const responses = (b.topics as any[]).map((ft) => {
      const topic = v >= 13 ? this.topicById(ft.topicId) : this.topics.get(ft.topic);
      return {
        topic: v < 13 ? ft.topic : undefined,
        topicId: v >= 13 ? ft.topicId : undefined,
        partitions: (ft.partitions as any[]).map((fp) => {
          const log = topic?.partitions[fp.partition];
          if (!log) {
            return { partitionIndex: fp.partition, errorCode: topic ? 3 : v >= 13 ? 100 : 3, highWatermark: -1n, lastStableOffset: v >= 4 ? -1n : undefined, records: Buffer.alloc(0) };
          }
          const fetchOffset = fp.fetchOffset as bigint;
          if (fetchOffset > log.end) {
            return { partitionIndex: fp.partition, errorCode: 1, highWatermark: log.end, lastStableOffset: v >= 4 ? log.end : undefined, logStartOffset: v >= 5 ? 0n : undefined, records: Buffer.alloc(0) };
          }
          const chosen: Buffer[] = [];
          let size = 0;
          for (const batch of log.batches) {
            if (batch.nextOffset <= fetchOffset) continue;
            if (chosen.length > 0 && size + batch.data.length > fp.partitionMaxBytes) break;
            chosen.push(batch.data);
            size += batch.data.length;
          }
          bytes += size;
          return {
            partitionIndex: fp.partition,
            errorCode: 0,
            highWatermark: log.end,
            lastStableOffset: v >= 4 ? log.end : undefined,
            logStartOffset: v >= 5 ? 0n : undefined,
            abortedTransactions: v >= 4 ? [] : undefined,
            preferredReadReplica: -1,
            records: Buffer.concat(chosen),
          };
        }),
      };
    });
    return { body: { errorCode: 0, sessionId: 0, responses }, bytes };
  }

  private async fetch(b: any, v: number): Promise<unknown> {
    const first = this.fetchOnce(b, v);
    if (first.bytes > 0 || b.maxWaitMs <= 0) return first.body;
    await new Promise((r) => setTimeout(r, Math.min(b.maxWaitMs, MAX_FETCH_WAIT_MS)));
    return this.fetchOnce(b, v).body;
  }

  private listOffsets(b: any, v: number): unknown {
    return {
      topics: (b.topics as any[]).map((t) => {
        const topic = this.topics.get(t.name);
        return {
          name: t.name,
          partitions: (t.partitions as any[]).map((p) => {
            const log = topic?.partitions[p.partitionIndex];
            if (!log) return { partitionIndex: p.partitionIndex, errorCode: 3, timestamp: v >= 1 ? -1n : undefined, offset: v >= 1 ? -1n : undefined };
            const ts = p.timestamp as bigint;
            const offset = ts === -1n ? log.end : ts === -3n ? (log.end > 0n ? log.end - 1n : 0n) : 0n;
            return v === 0
              ? { partitionIndex: p.partitionIndex, errorCode: 0, oldStyleOffsets: [offset] }
              : { partitionIndex: p.partitionIndex, errorCode: 0, timestamp: -1n, offset, leaderEpoch: v >= 4 ? 0 : undefined };
          }),
        };
      }),
    };
  }

  private findCoordinator(b: { key: string; coordinatorKeys: string[] }, v: number): unknown {
    if (v < 4) return { errorCode: 0, errorMessage: null, nodeId: NODE_ID, host: this.host, port: this.port };
    return {
      coordinators: b.coordinatorKeys.map((key) => ({ key, nodeId: NODE_ID, host: this.host, port: this.port, errorCode: 0, errorMessage: null })),
    };
  }

  private joinGroup(b: any, v: number, clientId: string | null): unknown {
    const g = this.group(b.groupId);
    let memberId: string = b.memberId;
    if (memberId === '') {
      memberId = `${clientId ?? 'member'}-golden-${++this.memberSeq}`;
      if (v >= 4) {
        // KIP-394: the first join without a member id is told to come back with this one.
        return { errorCode: 79, generationId: -1, protocolName: v >= 7 ? null : '', leader: '', memberId, members: [] };
      }
    }
    // Single-member groups: every join starts a new generation led by the joiner.
    g.generation++;
    g.members = new Map([[memberId, { groupInstanceId: v >= 5 ? b.groupInstanceId : null, metadata: b.protocols[0]?.metadata ?? Buffer.alloc(0) }]]);
    g.assignments = new Map();
    g.leader = memberId;
    g.protocolName = b.protocols[0]?.name ?? null;
    return {
      errorCode: 0,
      generationId: g.generation,
      protocolType: v >= 7 ? b.protocolType : undefined,
      protocolName: g.protocolName,
      leader: memberId,
      memberId,
      members: [...g.members].map(([id, m]) => ({ memberId: id, groupInstanceId: v >= 5 ? m.groupInstanceId : undefined, metadata: m.metadata })),
    };
  }

  private offsetCommit(b: any): unknown {
    const g = this.group(b.groupId);
    return {
      topics: (b.topics as any[]).map((t) => {
        let m = g.offsets.get(t.name);
        if (!m) g.offsets.set(t.name, (m = new Map()));
        return {
          name: t.name,
          partitions: (t.partitions as any[]).map((p) => {
            m!.set(p.partitionIndex, p.committedOffset);
            return { partitionIndex: p.partitionIndex, errorCode: 0 };
          }),
        };
      }),
    };
  }

  private committed(groupId: string, topics: { name: string; partitionIndexes: number[] }[] | null, v: number): unknown[] {
    const g = this.group(groupId);
    const wanted = topics ?? [...g.offsets].map(([name, m]) => ({ name, partitionIndexes: [...m.keys()] }));
    return wanted.map((t) => ({
      name: t.name,
      partitions: t.partitionIndexes.map((p) => ({
        partitionIndex: p,
        committedOffset: g.offsets.get(t.name)?.get(p) ?? -1n,
        committedLeaderEpoch: v >= 5 ? -1 : undefined,
        metadata: '',
        errorCode: 0,
      })),
    }));
  }

  private offsetFetch(b: any, v: number): unknown {
    if (v < 8) return { errorCode: 0, topics: this.committed(b.groupId, b.topics, v) };
    return {
      groups: (b.groups as any[]).map((g) => ({ groupId: g.groupId, errorCode: 0, topics: this.committed(g.groupId, g.topics, v) })),
    };
  }
}
