/**
 * A handler that fails unexpectedly (a bug, an unforeseen storage error) gets the client Kafka's
 * error response for its API (AbstractRequest.getErrorResponse): UNKNOWN_SERVER_ERROR on every
 * entity the request named, or at the top where the response has no entities, on a connection
 * that stays up. An acks=0 produce has no response to carry it: its connection closes, as in Kafka.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import { pino } from 'pino';
import { ErrorCode } from '../../protocol/error-codes.js';
import { ApiKey } from '../../protocol/generated/index.js';
import { type StructModel, buildMessage } from '../../protocol/codegen/model.js';
import { contains } from '../../protocol/codegen/versions.js';
import { readDefinitions } from '../../protocol/codegen/main.js';
import type { ApiHandler } from '../../src/api/context.js';
import { type RunningBroker, startBroker } from '../../src/index.js';
import { Random } from '../support/random.js';
import { RawClient } from '../support/raw-client.js';
import { ValueMaker } from '../support/values.js';

const errors: { msg: string }[] = [];
const errorLog = new Writable({
  write(chunk: Buffer, _encoding, done) {
    for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') errors.push(JSON.parse(line) as { msg: string });
    done();
  },
});
let broker: RunningBroker;
let handlers: ApiHandler[];

before(async () => {
  broker = await startBroker({ port: 0, logger: pino({ level: 'error' }, errorLog) });
  const table = (broker.broker as unknown as { server: { dispatcher: { table: (ApiHandler | undefined)[] } } }).server.dispatcher.table;
  handlers = table.filter((h): h is ApiHandler => h !== undefined && h.apiKey !== ApiKey.ApiVersions);
  // Half fail as they are called, half after waiting: both are the handler's failure.
  for (const h of handlers) {
    h.handle = h.apiKey % 2 === 0 ? () => { throw new Error('injected failure'); } : () => Promise.reject(new Error('injected failure'));
  }
});
after(() => broker.stop());

/** Every error code a decoded response carries in version v (decoding gives absent fields their defaults). */
function errorCodes(s: StructModel, value: Record<string, unknown>, v: number, out: number[] = []): number[] {
  for (const f of s.fields) {
    if (!contains(f.versions, v)) continue;
    const x = value[f.prop];
    if (f.def.name === 'ErrorCode' || f.def.name === 'PartitionErrorCode') out.push(x as number);
    const t = f.type.kind === 'array' ? f.type.elem : f.type;
    if (t.kind !== 'struct' || x === null) continue;
    for (const item of f.type.kind === 'array' ? (x as Record<string, unknown>[]) : [x as Record<string, unknown>]) errorCodes(t.struct, item, v, out);
  }
  return out;
}

test('every advertised API in every version answers a failed handler with UNKNOWN_SERVER_ERROR and keeps the connection', async () => {
  const apis = new Map([...readDefinitions().values()].flatMap((d) => (d.kind === 'api' ? [[d.api.apiKey, { request: buildMessage(d.api.request), response: buildMessage(d.api.response) }] as const] : [])));
  const raw = await RawClient.connect(broker.port);
  const rnd = new Random(20261127);
  let answered = 0;
  try {
    for (const h of handlers) {
      const codes: number[] = [];
      for (let v = h.minVersion; v <= h.maxVersion; v++) {
        for (let sample = 0; sample < 3; sample++) {
          const { request, response } = apis.get(h.apiKey)!;
          const body = new ValueMaker(request, rnd).message(v);
          if (h.apiKey === ApiKey.Produce) body.acks = -1;
          const r = await raw.send(h.apiKey, v, body);
          const found = errorCodes(response.root, r, v);
          assert.ok(found.every((c) => c === ErrorCode.UNKNOWN_SERVER_ERROR), `API ${h.apiKey} v${v}: ${JSON.stringify(found)}`);
          codes.push(...found);
          answered++;
        }
      }
      assert.ok(codes.length > 0, `API ${h.apiKey}: the error code was given somewhere`);
    }
  } finally {
    raw.close();
  }
  assert.equal(errors.filter((e) => / failed: answered UNKNOWN_SERVER_ERROR$/.test(e.msg)).length, answered, 'each failure logged');
});

test('an acks=0 produce whose handler fails closes its connection, having no response to carry the error', async () => {
  const raw = await RawClient.connect(broker.port);
  raw.sendNoResponse(ApiKey.Produce, 9, { transactionalId: null, acks: 0, timeoutMs: 1000, topicData: [{ name: 't', partitionData: [{ index: 0, records: null }] }] });
  assert.equal(await raw.waitClosed(5000), true);
});
