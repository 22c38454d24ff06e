/**
 * The capture broker is only a test tool, but its answers must be right on the wire or the real
 * clients would not send what they send against Kafka. Loopback only, a few requests.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { decodeResponse, encodeRequest } from '../../protocol/frames.js';
import { APIS, ApiKey } from '../../protocol/generated/index.js';
import { ZERO_UUID } from '../../protocol/primitives/index.js';
import { buildRecordBatch, decodeRecords, splitBatches } from '../../protocol/records/index.js';
import { CaptureBroker, topicIdFor } from './capture-broker.js';

/** One connection; responses come back in order, read by their size prefix. */
class Conn {
  private buf: Buffer = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      for (const w of this.waiters.splice(0)) w();
    });
  }

  static async open(port: number): Promise<Conn> {
    const s = net.connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => s.once('connect', resolve).once('error', reject));
    return new Conn(s);
  }

  send(apiKey: number, v: number, corr: number, body: unknown): void {
    this.socket.write(encodeRequest(apiKey, v, corr, 'golden-test', body));
  }

  async frame(timeoutMs = 2000): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.buf.length >= 4 && this.buf.length >= 4 + this.buf.readInt32BE(0)) {
        const n = this.buf.readInt32BE(0);
        const f = this.buf.subarray(4, 4 + n);
        this.buf = this.buf.subarray(4 + n);
        return f;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('no response');
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  async call(apiKey: number, v: number, corr: number, body: unknown): Promise<any> {
    this.send(apiKey, v, corr, body);
    const { header, body: res } = decodeResponse(apiKey, v, await this.frame());
    assert.equal(header.correlationId, corr);
    return res;
  }

  close(): void {
    this.socket.destroy();
  }
}

let dir: string;
let broker: CaptureBroker;
let conn: Conn;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'capture-broker-test-'));
  broker = await new CaptureBroker({ outDir: dir }).start();
  conn = await Conn.open(broker.port);
});

after(async () => {
  conn.close();
  await broker.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('ApiVersions advertises the broker APIs with full schema ranges, minus telemetry and share groups', async () => {
  const res = await conn.call(ApiKey.ApiVersions, 3, 1, { clientSoftwareName: 't', clientSoftwareVersion: '1' });
  assert.equal(res.errorCode, 0);
  const keys = res.apiKeys.map((k: { apiKey: number }) => k.apiKey);
  for (const k of [71, 72, 76, 77, 78, 79, 83, 84, 85, 86, 87]) assert.ok(!keys.includes(k), `key ${k} advertised`);
  for (const k of [0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 18, 19, 22, 36, 60, 68, 75]) assert.ok(keys.includes(k), `key ${k} missing`);
  assert.ok(!keys.includes(ApiKey.LeaderAndIsr));
  for (const k of res.apiKeys) {
    assert.equal(k.minVersion, APIS[k.apiKey]!.minVersion);
    assert.equal(k.maxVersion, APIS[k.apiKey]!.maxVersion);
  }
});

test('ApiVersions in an unknown version: UNSUPPORTED_VERSION with a v0 body listing ApiVersions only', async () => {
  // v99 cannot be encoded by our codecs; a v99 header with an arbitrary body is what a newer client sends.
  const frame = Buffer.alloc(4 + 2 + 2 + 4 + 2 + 1 + 1);
  let o = frame.writeInt32BE(frame.length - 4, 0);
  o = frame.writeInt16BE(ApiKey.ApiVersions, o);
  o = frame.writeInt16BE(99, o);
  o = frame.writeInt32BE(7, o);
  o = frame.writeInt16BE(0, o); // client id ""
  frame[o++] = 0; // header tags
  frame[o++] = 0;
  (conn as any).socket.write(frame);
  const { header, body } = decodeResponse(ApiKey.ApiVersions, 0, await conn.frame());
  assert.equal(header.correlationId, 7);
  assert.equal(body.errorCode, 35);
  assert.deepEqual(body.apiKeys.map((k: any) => [k.apiKey, k.minVersion, k.maxVersion]), [[18, 0, 4]]);
});

test('Metadata: the broker itself, controller 1, requested topics with one partition and a non-zero id', async () => {
  const res = await conn.call(ApiKey.Metadata, 12, 2, { topics: [{ name: 'meta-topic' }], allowAutoTopicCreation: false });
  assert.deepEqual(res.brokers.map((b: any) => [b.nodeId, b.host, b.port]), [[1, '127.0.0.1', broker.port]]);
  assert.equal(res.controllerId, 1);
  assert.equal(res.topics.length, 1);
  const [t] = res.topics;
  assert.equal(t.name, 'meta-topic');
  assert.notEqual(t.topicId, ZERO_UUID);
  assert.equal(t.topicId, topicIdFor('meta-topic'));
  assert.deepEqual(t.partitions.map((p: any) => [p.partitionIndex, p.leaderId, p.errorCode]), [[0, 1, 0]]);
});

test('Produce assigns offsets, acks=0 gets no response, Fetch returns the records and honours a short wait', async () => {
  const batch = (n: number) => buildRecordBatch({ records: Array.from({ length: n }, (_, i) => ({ key: `k${i}`, value: `v${i}`, timestamp: 1000 + i })) });
  const produce = (acks: number, n: number) => ({ acks, timeoutMs: 1000, topicData: [{ name: 'p-topic', partitionData: [{ index: 0, records: batch(n) }] }] });
  const first = await conn.call(ApiKey.Produce, 9, 10, produce(-1, 2));
  assert.equal(first.responses[0].partitionResponses[0].baseOffset, 0n);
  conn.send(ApiKey.Produce, 7, 11, produce(0, 3)); // no response
  const third = await conn.call(ApiKey.Produce, 7, 12, produce(1, 1));
  assert.equal(third.responses[0].partitionResponses[0].baseOffset, 5n);

  const fetch = (offset: bigint, maxWaitMs: number) => ({
    maxWaitMs,
    minBytes: 1,
    maxBytes: 1 << 20,
    topics: [{ topic: 'p-topic', partitions: [{ partition: 0, fetchOffset: offset, partitionMaxBytes: 1 << 20 }] }],
  });
  const res = await conn.call(ApiKey.Fetch, 11, 13, fetch(2n, 0));
  const p = res.responses[0].partitions[0];
  assert.equal(p.highWatermark, 6n);
  const batches = splitBatches(p.records).batches;
  assert.deepEqual(batches.map((b) => b.baseOffset), [2n, 5n]);
  assert.deepEqual(decodeRecords(batches[0]!.buf).map((r) => [r.offset, r.value?.toString()]), [[2n, 'v0'], [3n, 'v1'], [4n, 'v2']]);

  const started = Date.now();
  const empty = await conn.call(ApiKey.Fetch, 11, 14, fetch(6n, 5000));
  const waited = Date.now() - started;
  assert.equal(empty.responses[0].partitions[0].records.length, 0);
  assert.ok(waited >= 90 && waited < 1000, `waited ${waited} ms`);
});

test('groups: MEMBER_ID_REQUIRED, leader join, sync, commit and fetch offsets (v8 batched)', async () => {
  const join = (memberId: string) => ({
    groupId: 'g',
    sessionTimeoutMs: 10000,
    rebalanceTimeoutMs: 10000,
    memberId,
    protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: Buffer.from([0, 0]) }],
  });
  const first = await conn.call(ApiKey.JoinGroup, 5, 20, join(''));
  assert.equal(first.errorCode, 79);
  assert.match(first.memberId, /^golden-test-golden-\d+$/);
  const second = await conn.call(ApiKey.JoinGroup, 5, 21, join(first.memberId));
  assert.equal(second.errorCode, 0);
  assert.equal(second.leader, first.memberId);
  assert.equal(second.protocolName, 'range');
  const sync = await conn.call(ApiKey.SyncGroup, 3, 22, {
    groupId: 'g',
    generationId: second.generationId,
    memberId: first.memberId,
    assignments: [{ memberId: first.memberId, assignment: Buffer.from('abc') }],
  });
  assert.equal(sync.assignment.toString(), 'abc');
  await conn.call(ApiKey.OffsetCommit, 8, 23, { groupId: 'g', topics: [{ name: 'p-topic', partitions: [{ partitionIndex: 0, committedOffset: 4n }] }] });
  const fetched = await conn.call(ApiKey.OffsetFetch, 8, 24, { groups: [{ groupId: 'g', topics: [{ name: 'p-topic', partitionIndexes: [0, 1] }] }] });
  assert.deepEqual(
    fetched.groups[0].topics[0].partitions.map((p: any) => [p.partitionIndex, p.committedOffset]),
    [[0, 4n], [1, -1n]],
  );
  const coord = await conn.call(ApiKey.FindCoordinator, 4, 25, { keyType: 0, coordinatorKeys: ['g', 'h'] });
  assert.deepEqual(coord.coordinators.map((c: any) => [c.key, c.nodeId, c.port]), [['g', 1, broker.port], ['h', 1, broker.port]]);
});

test('every request frame was saved under NNN-<ApiName>-v<version>.bin', () => {
  const files = fs.readdirSync(dir).sort();
  assert.equal(files.length, broker.saved.length);
  assert.ok(files.length >= 12);
  assert.equal(files[0], '000-ApiVersions-v3.bin');
  assert.ok(files.includes('001-ApiVersions-v99.bin'));
  assert.ok(files.some((f) => /^\d{3}-Produce-v7\.bin$/.test(f)));
  assert.deepEqual(broker.errors, []);
});
