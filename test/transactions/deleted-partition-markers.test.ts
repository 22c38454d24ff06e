/**
 * A transaction whose partition's topic was deleted before the markers: Kafka 3.9's
 * TransactionMarkerChannelManager skips such partitions with an info line ("these partitions are
 * likely deleted already and hence can be skipped"), not a warning. A test suite that deletes its
 * topics after killing a transactional producer otherwise fills the log with warnings.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { ApiKey } from '../../protocol/generated/index.js';
import { startBroker } from '../../src/index.js';
import { RawClient } from '../support/raw-client.js';
import { addPartitions, createTopics, describeTransaction, endTxn, initProducer, produceNext } from './support.js';

test('a marker for a deleted partition is skipped with an info line, not a warning', async () => {
  const lines: { level: number; msg: string }[] = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  const broker = await startBroker({ port: 0, logger });
  const client = await RawClient.connect(broker.port);
  try {
    await createTopics(client, [{ name: 'dpm', partitions: 1 }]);
    const p = await initProducer(client, 'dpm-txn');
    assert.deepEqual(await addPartitions(client, 'dpm-txn', p, 'dpm', [0]), [0]);
    await produceNext(client, p, 'dpm', 0, ['a'], 'dpm-txn');
    const deleted = await client.send(ApiKey.DeleteTopics, 4, { topicNames: ['dpm'], timeoutMs: 5000 });
    assert.equal(deleted.responses[0].errorCode, 0);
    assert.equal(await endTxn(client, 'dpm-txn', p, false), 0);
    for (let i = 0; i < 100 && (await describeTransaction(client, 'dpm-txn')).transactionState !== 'CompleteAbort'; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal((await describeTransaction(client, 'dpm-txn')).transactionState, 'CompleteAbort');
    const skipped = lines.filter((l) => l.msg === 'transaction marker not written');
    assert.equal(skipped.length, 1);
    assert.equal(skipped[0]!.level, 30, 'logged at info, as Kafka does');
  } finally {
    client.close();
    await broker.stop();
  }
});
