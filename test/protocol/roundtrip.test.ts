/**
 * Every message (88 API keys' requests and responses, both headers, the data messages) in every
 * valid version: a value populating every field of that version, tagged and unknown-tagged fields
 * included, survives encode → decode unchanged and re-encodes to the same bytes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { MessageCodec } from '../../protocol/codec.js';
import { buildMessage } from '../../protocol/codegen/model.js';
import { readDefinitions } from '../../protocol/codegen/main.js';
import type { MessageDef } from '../../protocol/codegen/definitions.js';
import * as generated from '../../protocol/generated/index.js';
import { Random } from '../support/random.js';
import { ValueMaker } from '../support/values.js';

const codecs = generated as unknown as Record<string, MessageCodec<unknown>>;
const messages: MessageDef[] = [];
for (const d of readDefinitions().values()) {
  if (d.kind === 'api') messages.push(d.api.request, d.api.response);
  else messages.push(d.message);
}

test('the definitions hold 88 API keys with requests and responses, and both headers', () => {
  assert.equal(generated.APIS.length, 88);
  generated.APIS.forEach((api, i) => assert.equal(api.apiKey, i));
  assert.equal(messages.filter((m) => m.type === 'request').length, 88);
  assert.equal(messages.filter((m) => m.type === 'response').length, 88);
  assert.ok(messages.some((m) => m.name === 'RequestHeader'));
  assert.ok(messages.some((m) => m.name === 'ResponseHeader'));
});

const SAMPLES = 4;
let combinations = 0;

for (const def of messages) {
  test(`${def.name}: round trip in every version`, () => {
    const model = buildMessage(def);
    const codec = codecs[def.name];
    assert.ok(codec, `no codec exported for ${def.name}`);
    assert.equal(codec.minVersion, model.valid.min);
    assert.equal(codec.maxVersion, model.valid.max);
    for (let v = model.valid.min; v <= model.valid.max; v++) {
      combinations++;
      for (let s = 0; s < SAMPLES; s++) {
        const rnd = new Random(v * 1000 + s + def.name.length * 7919);
        const value = new ValueMaker(model, rnd).message(v);
        const where = `${def.name} v${v} sample ${s}`;
        const bytes = codec.encode(v, value as never);
        const decoded = codec.decode(v, bytes);
        assert.deepStrictEqual(decoded, value, where);
        assert.ok(codec.encode(v, decoded as never).equals(bytes), `${where}: re-encoding differs`);
      }
    }
  });
}

test('every API key x version x direction was exercised', () => {
  const expected = generated.APIS.reduce((n, a) => n + 2 * (a.maxVersion - a.minVersion + 1), 0);
  assert.ok(combinations >= expected, `${combinations} < ${expected}`);
});
