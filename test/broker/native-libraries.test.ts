/**
 * A broker whose native libraries could not be installed (scripts skipped, no prebuilt binary and
 * no compiler) still serves: the codec it lacks is refused with UNSUPPORTED_COMPRESSION_TYPE and
 * named in an error log line, CRC-32C falls back to JavaScript, and everything else works.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ErrorCode } from '../../protocol/error-codes.js';
import { ApiKey } from '../../protocol/generated/index.js';
import { buildRecordBatch, CompressionCodec } from '../../protocol/records/index.js';
import { startBrokerProcess, tempDir } from '../support/processes.js';
import { RawClient } from '../support/raw-client.js';

test('without zstd-napi and @node-rs/crc32: zstd batches get UNSUPPORTED_COMPRESSION_TYPE, the rest is stored, the log says why', async (t) => {
  const dir = tempDir();
  t.after(() => dir.remove());
  // Makes the two libraries fail to load, as an install without their native part does.
  const preload = join(dir.path, 'no-native.cjs');
  writeFileSync(preload, `
    const Module = require('node:module');
    const load = Module._load;
    Module._load = function (request, ...rest) {
      if (request === 'zstd-napi' || request === 'zstd-napi/binding.js' || request === '@node-rs/crc32') throw new Error('Cannot find module ' + request);
      return load.call(this, request, ...rest);
    };
  `);
  const broker = await startBrokerProcess(['--port', '0', '--storage', 'memory'], { nodeArgs: ['--require', preload] });
  t.after(() => broker.stop());
  const client = await RawClient.connect(broker.port);
  t.after(() => client.close());
  const created = await client.send(ApiKey.CreateTopics, 7, { topics: [{ name: 'native', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 5000, validateOnly: false });
  assert.equal(created.topics[0].errorCode, ErrorCode.NONE);
  const produce = async (compression: CompressionCodec) => {
    const records = buildRecordBatch({ compression, records: [{ key: Buffer.from('k'), value: Buffer.alloc(2000, 'v'), headers: [], timestamp: BigInt(Date.now()) }] });
    const r = await client.send(ApiKey.Produce, 9, { transactionalId: null, acks: -1, timeoutMs: 5000, topicData: [{ name: 'native', partitionData: [{ index: 0, records }] }] });
    return r.responses[0].partitionResponses[0];
  };
  assert.equal((await produce(CompressionCodec.Zstd)).errorCode, ErrorCode.UNSUPPORTED_COMPRESSION_TYPE);
  // A batch over 256 bytes has its CRC checked by the JavaScript implementation instead.
  const plain = await produce(CompressionCodec.None);
  assert.deepEqual([plain.errorCode, plain.baseOffset], [ErrorCode.NONE, 0n]);
  const gzip = await produce(CompressionCodec.Gzip);
  assert.deepEqual([gzip.errorCode, gzip.baseOffset], [ErrorCode.NONE, 1n]);
  const errors = broker.logs.filter((l) => l.includes('could not be loaded')).map((l) => JSON.parse(l) as { level: number; library: string; msg: string });
  assert.deepEqual(errors.map((e) => [e.level, e.library]).sort(), [[50, '@node-rs/crc32'], [50, 'zstd-napi']]);
  assert.match(errors.find((e) => e.library === 'zstd-napi')!.msg, /UNSUPPORTED_COMPRESSION_TYPE.*npm rebuild zstd-napi/);
});
