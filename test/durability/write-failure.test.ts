/**
 * A write that fails (a full disk, say) takes its partition offline: that is logged once, as Kafka
 * reports a failed log directory once, and every produce to it afterwards is answered
 * KAFKA_STORAGE_ERROR without another error line (a retrying client otherwise filled the log with a
 * stack trace per request); the other partitions go on.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import { pino } from 'pino';
import { ErrorCode } from '../../protocol/error-codes.js';
import { ApiKey } from '../../protocol/generated/index.js';
import { buildRecordBatch } from '../../protocol/records/index.js';
import { type RunningBroker, startBroker } from '../../src/index.js';
import { tempDir } from '../support/processes.js';
import { RawClient } from '../support/raw-client.js';

const errors: { msg: string }[] = [];
const errorLog = new Writable({
  write(chunk: Buffer, _encoding, done) {
    for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') errors.push(JSON.parse(line) as { msg: string });
    done();
  },
});
const data = tempDir('samsa-write-failure-');
let broker: RunningBroker;
let raw: RawClient;

before(async () => {
  broker = await startBroker({ port: 0, dataDir: data.path, logger: pino({ level: 'error' }, errorLog) });
  raw = await RawClient.connect(broker.port);
});
after(async () => {
  raw.close();
  await broker.stop();
  data.remove();
});

async function produce(partition: number): Promise<number> {
  const records = buildRecordBatch({ baseOffset: 0n, records: [{ key: null, value: Buffer.from('v'), headers: [] }] });
  const r = await raw.send(ApiKey.Produce, 9, { transactionalId: null, acks: -1, timeoutMs: 5000, topicData: [{ name: 'wf', partitionData: [{ index: partition, records }] }] });
  return r.responses[0].partitionResponses[0].errorCode;
}

test('a partition whose write failed answers KAFKA_STORAGE_ERROR from then on, logged once; the others are served', async () => {
  const created = await raw.send(ApiKey.CreateTopics, 5, { topics: [{ name: 'wf', numPartitions: 2, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 5000, validateOnly: false });
  assert.equal(created.topics[0].errorCode, ErrorCode.NONE);
  assert.equal(await produce(0), ErrorCode.NONE);

  // The disk fills up under partition 0's active segment.
  const log = broker.broker.topics.get('wf')!.partitions[0]!;
  const segments = (log as unknown as { segments: { logFh: { write: unknown; writev: unknown } }[] }).segments;
  const fh = segments[segments.length - 1]!.logFh;
  const enospc = () => Promise.reject(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }));
  fh.write = enospc;
  fh.writev = enospc;

  const answers = [];
  for (let i = 0; i < 5; i++) answers.push(await produce(0));
  assert.deepEqual(answers, Array(5).fill(ErrorCode.KAFKA_STORAGE_ERROR));
  assert.equal(await produce(1), ErrorCode.NONE, 'the other partition is served');
  assert.deepEqual(errors.map((e) => e.msg), ['log write failed; partition refuses further appends'], 'one error line for the failure, none per refused produce');
});
