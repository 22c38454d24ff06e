/**
 * Real clients' requests, damaged: the request frames kafkajs, librdkafka, kafka-python and
 * @platformatic/kafka sent (the golden fixtures) with bits flipped, bytes changed, lengths and
 * counts set to extremes, cut short or lengthened, several to a connection. Unlike random bytes,
 * most of these get past the header into the codecs and the handlers. Whatever they say, the
 * broker answers or closes that connection; it logs no error (its own failure), and a normal
 * client still works afterwards. FUZZ_CONNECTIONS=n runs longer, FUZZ_SEED=s another sequence.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { type Socket, connect } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import kafkajs from 'kafkajs';
import { pino } from 'pino';
import { type RunningBroker, startBroker } from '../../src/index.js';
import { tempDir } from '../support/processes.js';
import { Random } from '../support/random.js';

const { Kafka, logLevel } = kafkajs;
const CONNECTIONS = Number(process.env.FUZZ_CONNECTIONS ?? 400);
const SEED = Number(process.env.FUZZ_SEED ?? 20261127);
/** The correlation id of the ApiVersions request that ends each connection's frames. */
const MARKER = 0x7ffffff0;
const WAIT_MS = 2_000;
/** Connections at a time: the waiting ones would otherwise hold up the run. */
const PARALLEL = 8;

const fixtures = fileURLToPath(new URL('../../../test/golden/fixtures', import.meta.url));
const frames: Buffer[] = readdirSync(fixtures).flatMap((client) =>
  readdirSync(join(fixtures, client))
    .filter((f) => f.endsWith('.bin'))
    .map((f) => readFileSync(join(fixtures, client, f))),
);

const errors: string[] = [];
const errorLog = new Writable({
  write(chunk: Buffer, _encoding, done) {
    for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') errors.push(line);
    done();
  },
});
const data = tempDir('samsa-fuzz-');
let broker: RunningBroker;

before(async () => {
  broker = await startBroker({ port: 0, storage: 'disk', dataDir: data.path, logger: pino({ level: 'error' }, errorLog) });
});
after(async () => {
  await broker.stop();
  data.remove();
});

/** One to four changes, past the api key and version so that most frames reach their codec. */
function damage(frame: Buffer, rnd: Random): Buffer {
  let out = Buffer.from(frame);
  for (let n = rnd.int(1, 4); n > 0; n--) {
    const at = rnd.int(4, Math.max(4, out.length - 1));
    const room = out.length - at;
    switch (rnd.int(0, 6)) {
      case 0:
        if (room >= 1) out[at] ^= 1 << rnd.int(0, 7);
        break;
      case 1:
        if (room >= 1) out[at] = rnd.int(0, 255);
        break;
      case 2:
        if (room >= 2) out.writeInt16BE([0x7fff, -1, -0x8000, 0, 1][rnd.int(0, 4)]!, at);
        break;
      case 3:
        if (room >= 4) out.writeInt32BE([0x7fffffff, -1, -0x80000000, 0, 1, 0x10000][rnd.int(0, 5)]!, at);
        break;
      case 4:
        if (room >= 8) out.writeBigInt64BE([0x7fffffffffffffffn, -1n, -2n, 0n][rnd.int(0, 3)]!, at);
        break;
      case 5:
        out = out.subarray(0, at);
        break;
      case 6:
        out = Buffer.concat([out.subarray(0, at), rnd.bytes(rnd.int(1, 8)), out.subarray(at)]);
        break;
    }
  }
  return out;
}

function sized(frame: Buffer): Buffer {
  const size = Buffer.alloc(4);
  size.writeInt32BE(frame.length);
  return Buffer.concat([size, frame]);
}

/** ApiVersions v0 with the marker correlation id: its answer, the last, says every frame before it was answered. */
function marker(): Buffer {
  const f = Buffer.alloc(10);
  f.writeInt16BE(18, 0);
  f.writeInt16BE(0, 2);
  f.writeInt32BE(MARKER, 4);
  f.writeInt16BE(-1, 8);
  return sized(f);
}

type Outcome = 'answered' | 'closed' | 'waiting';

/**
 * Sends the frames and the marker: 'answered' when the marker's answer came, 'closed' when the
 * broker closed first, 'waiting' when neither happened within WAIT_MS (a JoinGroup waits for the
 * group's earlier members, a fetch for its MaxWaitMs: as Kafka would).
 */
function exchange(frames: Buffer[]): Promise<Outcome> {
  return new Promise((resolve) => {
    const s: Socket = connect({ port: broker.port, host: '127.0.0.1' });
    let got = Buffer.alloc(0);
    const timer = setTimeout(() => settle('waiting'), WAIT_MS);
    const settle = (how: Outcome) => {
      clearTimeout(timer);
      s.destroy();
      resolve(how);
    };
    s.on('error', () => undefined); // a reset from the broker is one of the expected outcomes
    s.on('close', () => settle('closed'));
    s.on('data', (d: Buffer) => {
      got = Buffer.concat([got, d]);
      while (got.length >= 8) {
        const size = got.readInt32BE(0);
        if (got.length < 4 + size) return;
        if (got.readInt32BE(4) === MARKER) return settle('answered');
        got = got.subarray(4 + size);
      }
    });
    s.write(Buffer.concat([...frames, marker()]));
  });
}

test('damaged requests of real clients are answered or cost their connection; nothing else', async () => {
  assert.ok(frames.length > 100, 'the golden fixtures are there');
  const rnd = new Random(SEED);
  const outcomes = { answered: 0, closed: 0, waiting: 0 };
  let next = 0;
  const worker = async () => {
    while (next < CONNECTIONS) {
      const i = next++;
      const sent = Array.from({ length: rnd.int(1, 4) }, () => {
        const frame = frames[rnd.int(0, frames.length - 1)]!;
        return sized(rnd.bool(0.2) ? frame : damage(frame, rnd));
      });
      outcomes[await exchange(sent)]++;
      assert.deepEqual(errors, [], `connection ${i} (FUZZ_SEED=${SEED}) made the broker log an error`);
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
  // Both ways out were taken: the damage reached the handlers, not only the framing.
  assert.ok(outcomes.answered > CONNECTIONS / 10, `answered ${outcomes.answered} of ${CONNECTIONS}`);
  assert.ok(outcomes.closed > CONNECTIONS / 10, `closed ${outcomes.closed} of ${CONNECTIONS}`);
  assert.ok(outcomes.waiting < CONNECTIONS / 10, `waiting ${outcomes.waiting} of ${CONNECTIONS}`);

  const kafka = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
  const producer = kafka.producer();
  await producer.connect();
  const [sent] = await producer.send({ topic: 'after-fuzz', messages: [{ key: 'k', value: 'still here' }] });
  await producer.disconnect();
  assert.equal(sent!.errorCode, 0);
  const consumer = kafka.consumer({ groupId: 'after-fuzz' });
  await consumer.connect();
  await consumer.subscribe({ topic: 'after-fuzz', fromBeginning: true });
  const value = await new Promise<string>((resolve) => void consumer.run({ eachMessage: async ({ message }) => resolve(String(message.value)) }));
  await consumer.disconnect();
  assert.equal(value, 'still here');
});
