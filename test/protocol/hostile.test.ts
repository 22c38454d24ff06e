/**
 * Hostile request frames: every malformed input ends in a typed DecodeError (RequestDecodeError for
 * whole frames), quickly, with memory bounded by the frame — never another exception, never a hang.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { buildMessage } from '../../protocol/codegen/model.js';
import { readDefinitions } from '../../protocol/codegen/main.js';
import { RequestDecodeError, decodeRequest, encodeRequest } from '../../protocol/frames.js';
import { APIS, ApiKey } from '../../protocol/generated/index.js';
import { DecodeError, Reader } from '../../protocol/primitives/index.js';
import { Random } from '../support/random.js';
import { ValueMaker } from '../support/values.js';

/** A frame as the server sees it: without the size prefix. */
function frame(apiKey: number, v: number, body: unknown, clientId: string | null = 'hostile'): Buffer {
  return encodeRequest(apiKey, v, 42, clientId, body).subarray(4);
}

function decodeError(f: Buffer): RequestDecodeError {
  try {
    decodeRequest(f);
  } catch (e) {
    assert.ok(e instanceof RequestDecodeError, `expected RequestDecodeError, got ${String(e)}`);
    return e;
  }
  assert.fail('frame decoded although it is malformed');
}

/** One valid random frame per API key and version, built from the definitions. */
function sampleFrames(seed: number): Buffer[] {
  const out: Buffer[] = [];
  const defs = readDefinitions();
  for (const api of APIS) {
    const d = [...defs.values()].find((x) => x.kind === 'api' && x.api.apiKey === api.apiKey);
    assert.ok(d && d.kind === 'api');
    const model = buildMessage(d.api.request);
    for (let v = api.minVersion; v <= api.maxVersion; v++) {
      const body = new ValueMaker(model, new Random(seed + api.apiKey * 100 + v)).message(v);
      out.push(frame(api.apiKey, v, body));
    }
  }
  return out;
}

test('every proper prefix of a valid frame is TRUNCATED (or otherwise refused), never decoded', () => {
  let checked = 0;
  for (const f of sampleFrames(1)) {
    decodeRequest(f); // the whole frame is fine
    for (let n = 0; n < f.length; n += Math.max(1, Math.floor(f.length / 40))) {
      const e = decodeError(f.subarray(0, n));
      assert.ok(['TRUNCATED', 'LENGTH_TOO_LARGE', 'NULL_NOT_ALLOWED'].includes(e.code), `${e.code} for a prefix of ${n}`);
      checked++;
    }
  }
  assert.ok(checked > 1000, `only ${checked} prefixes checked`);
});

test('a negative length or count is null where null is allowed, as in Kafka, and refused elsewhere', () => {
  // Metadata v1: topics is a nullable int32-counted array; -1 (or any negative count) means all topics.
  const all = frame(ApiKey.Metadata, 1, { topics: null });
  assert.equal(decodeRequest(all).body.topics, null);
  const below = Buffer.from(all);
  below.writeInt32BE(-5, below.length - 4);
  assert.equal(decodeRequest(below).body.topics, null);
  // Metadata v0: topics is not nullable.
  const v0 = frame(ApiKey.Metadata, 0, { topics: [] });
  for (const n of [-1, -5]) {
    const nul = Buffer.from(v0);
    nul.writeInt32BE(n, nul.length - 4);
    assert.equal(decodeError(nul).code, 'NULL_NOT_ALLOWED');
  }
  // A string length of -2 in the (nullable) client id.
  const cid = frame(ApiKey.Metadata, 1, { topics: null }, null);
  cid.writeInt16BE(-2, 8);
  assert.equal(decodeRequest(cid).header.clientId, null);
  // A compact count whose unsigned varint is 2^32 - 2 is an int of -2 in Kafka's readers: -3, null.
  const m = frame(ApiKey.Metadata, 12, { topics: [], allowAutoTopicCreation: true });
  const r = new Reader(m);
  r.pos = 8;
  r.str(false); // client id; then the header's tagged fields (one byte), then the topics count
  const wrapped = Buffer.concat([m.subarray(0, r.pos + 1), Buffer.from([0xfe, 0xff, 0xff, 0xff, 0x0f]), m.subarray(r.pos + 2)]);
  assert.equal(decodeRequest(wrapped).body.topics, null);
});

test('huge counts and lengths fail before allocating', () => {
  const f = frame(ApiKey.Metadata, 1, { topics: [] });
  f.writeInt32BE(0x7fffffff, f.length - 4);
  const before = process.memoryUsage().heapUsed;
  const t0 = process.hrtime.bigint();
  assert.equal(decodeError(f).code, 'LENGTH_TOO_LARGE');
  assert.ok(process.hrtime.bigint() - t0 < 50_000_000n, 'took more than 50 ms');
  assert.ok(process.memoryUsage().heapUsed - before < 10 * 1024 * 1024, 'allocated more than 10 MiB');

  // Produce v3 with a records length claiming 2 GiB.
  const p = frame(ApiKey.Produce, 3, { acks: 1, timeoutMs: 1, topicData: [{ name: 't', partitionData: [{ index: 0, records: Buffer.alloc(0) }] }] });
  p.writeInt32BE(0x7ffffff0, p.length - 4);
  assert.equal(decodeError(p).code, 'TRUNCATED');

  // Compact (flexible) array count near 2^31.
  const m = frame(ApiKey.Metadata, 12, { topics: [], allowAutoTopicCreation: true });
  const r = new Reader(m);
  r.pos = 8;
  r.str(false); // client id
  const tagged = r.pos;
  const huge = Buffer.concat([m.subarray(0, tagged + 1), Buffer.from([0xfe, 0xff, 0xff, 0xff, 0x07]), m.subarray(tagged + 2)]);
  assert.equal(decodeError(huge).code, 'LENGTH_TOO_LARGE');
});

test('an unsigned varint longer than 5 bytes is VARINT_TOO_LONG', () => {
  const m = frame(ApiKey.Metadata, 12, { topics: [] });
  const r = new Reader(m);
  r.pos = 8;
  r.str(false);
  const at = r.pos; // header tagged-field count
  const bad = Buffer.concat([m.subarray(0, at), Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x01]), m.subarray(at + 1)]);
  assert.equal(decodeError(bad).code, 'VARINT_TOO_LONG');
});

test('bytes that are not UTF-8 decode as U+FFFD, as Kafka\'s Java readers decode them', () => {
  const f = frame(ApiKey.Metadata, 1, { topics: [{ name: 'abcd' }] });
  const at = f.indexOf('abcd');
  f[at + 1] = 0xc3; // a lead byte followed by an ASCII byte
  assert.equal(decodeRequest(f).body.topics[0].name, 'a\ufffdcd');
  const h = frame(ApiKey.Metadata, 1, { topics: null }, 'ab');
  h[10] = 0xff;
  assert.equal(decodeRequest(h).header.clientId, '\ufffdb');
  // Well-formed multi-byte text is fine.
  assert.equal(decodeRequest(frame(ApiKey.Metadata, 1, { topics: [{ name: 'größe-日本' }] })).body.topics[0].name, 'größe-日本');
});

test('unknown API keys and versions are typed errors that keep the correlation id', () => {
  const f = frame(ApiKey.Metadata, 1, { topics: null });
  f.writeInt16BE(999, 0);
  const e = decodeError(f);
  assert.equal(e.code, 'UNKNOWN_API_KEY');
  assert.equal(e.correlationId, 42);
  const g = frame(ApiKey.Produce, 3, { acks: 1, timeoutMs: 1, topicData: [] });
  g.writeInt16BE(99, 2);
  const e2 = decodeError(g);
  assert.equal(e2.code, 'UNSUPPORTED_VERSION');
  assert.equal(e2.apiKey, 0);
  assert.equal(e2.apiVersion, 99);
  assert.equal(e2.correlationId, 42);
  assert.equal(decodeError(Buffer.from([0, 3, 0])).code, 'TRUNCATED');
});

test('an ApiVersions request in an unknown version still yields its header (KIP-511)', () => {
  const f = frame(ApiKey.ApiVersions, 3, { clientSoftwareName: 'x', clientSoftwareVersion: '1' });
  f.writeInt16BE(9, 2); // version 9 does not exist; the body is not parsed
  const d = decodeRequest(f);
  assert.equal(d.body, null);
  assert.equal(d.header.correlationId, 42);
  assert.equal(d.header.requestApiVersion, 9);
  assert.equal(d.header.clientId, 'hostile');
});

/** Golden fixtures from real clients, when they have been captured. */
function goldenFrames(): Buffer[] {
  const dir = fileURLToPath(new URL('../../../test/golden/fixtures', import.meta.url));
  if (!existsSync(dir)) return [];
  const out: Buffer[] = [];
  const walk = (d: string): void => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else if (n.endsWith('.bin')) out.push(readFileSync(p));
    }
  };
  walk(dir);
  return out;
}

test('random mutations of valid frames decode or fail with a DecodeError, quickly', () => {
  const frames = [...goldenFrames(), ...sampleFrames(7)];
  const rnd = new Random(20261125);
  let decoded = 0;
  let refused = 0;
  const t0 = Date.now();
  for (let i = 0; i < 20000; i++) {
    const f = Buffer.from(rnd.pick(frames));
    const edits = rnd.int(1, 4);
    let g = f;
    for (let k = 0; k < edits; k++) {
      const at = rnd.int(0, Math.max(0, g.length - 1));
      switch (rnd.int(0, 3)) {
        case 0: g[at] = rnd.int(0, 255); break;
        case 1: g[at] = rnd.pick([0x00, 0x7f, 0x80, 0xff]); break;
        case 2: g = g.subarray(0, at); break;
        default: g = Buffer.concat([g.subarray(0, at), rnd.bytes(rnd.int(1, 8)), g.subarray(at)]);
      }
    }
    try {
      decodeRequest(g);
      decoded++;
    } catch (e) {
      if (!(e instanceof DecodeError)) throw new Error(`mutation ${i} raised ${String(e)}`);
      refused++;
    }
  }
  assert.ok(refused > 1000 && decoded > 100, `refused ${refused}, decoded ${decoded}`);
  assert.ok(Date.now() - t0 < 30000, 'mutation run took over 30 s');
});
