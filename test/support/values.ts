/**
 * Builds a message value for one version from the generator's own model: every field on the wire in
 * that version gets a random (usually non-default) value, every other field its default — exactly
 * what decoding must give back.
 */
import { type FieldModel, type MessageModel, type StructModel, type TypeModel } from '../../protocol/codegen/model.js';
import { contains, isEmpty } from '../../protocol/codegen/versions.js';
import type { Random } from './random.js';

const TEXT = ['', 'a', 'topic-1', 'ümlaut', '日本語', 'emoji 🎉', 'x'.repeat(40)];

export function defaultFor(f: FieldModel): unknown {
  const d = f.def.default;
  if (d === 'null') return null;
  const t = f.type;
  if (t.kind === 'array') return [];
  if (t.kind === 'struct') return defaultStruct(t.struct);
  switch (t.prim) {
    case 'bool': return d === 'true';
    case 'int64': return d === undefined ? 0n : BigInt(d);
    case 'string': return d ?? '';
    case 'uuid': return 'AAAAAAAAAAAAAAAAAAAAAA';
    case 'bytes': return Buffer.alloc(0);
    case 'records': return isEmpty(f.nullable) ? Buffer.alloc(0) : null;
    default: return d === undefined ? 0 : Number(d);
  }
}

function defaultStruct(s: StructModel): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const f of s.fields) o[f.prop] = defaultFor(f);
  return o;
}

function prim(rnd: Random, p: string): unknown {
  switch (p) {
    case 'bool': return rnd.bool();
    case 'int8': return rnd.int(-128, 127);
    case 'int16': return rnd.int(-32768, 32767);
    case 'uint16': return rnd.int(0, 65535);
    case 'int32': return rnd.int(-2147483648, 2147483647);
    case 'uint32': return rnd.int(0, 4294967295);
    case 'int64': return BigInt.asIntN(64, (BigInt(rnd.int(0, 0xffffffff)) << 32n) | BigInt(rnd.int(0, 0xffffffff)));
    case 'float64': return (rnd.next() - 0.5) * 1e12;
    case 'string': return rnd.pick(TEXT);
    case 'uuid': return rnd.bytes(16).toString('base64url');
    case 'bytes': case 'records': return rnd.bytes(rnd.int(0, 40));
    default: throw new Error(`no generator for ${p}`);
  }
}

export class ValueMaker {
  constructor(readonly m: MessageModel, readonly rnd: Random) {}

  private flexible(v: number): boolean {
    return contains(this.m.flexible, v);
  }

  value(t: TypeModel, v: number, depth: number): unknown {
    if (t.kind === 'prim') return prim(this.rnd, t.prim);
    if (t.kind === 'struct') return this.struct(t.struct, v, depth + 1);
    const n = depth > 3 ? this.rnd.int(0, 1) : this.rnd.int(1, 3);
    return Array.from({ length: n }, () => this.value(t.elem, v, depth));
  }

  field(f: FieldModel, v: number, depth: number): unknown {
    if (!contains(f.versions, v)) return defaultFor(f);
    if (contains(f.nullable, v) && this.rnd.bool(0.25)) return null;
    return this.value(f.type, v, depth);
  }

  struct(s: StructModel, v: number, depth = 0): Record<string, unknown> {
    const o: Record<string, unknown> = {};
    for (const f of s.fields) o[f.prop] = this.field(f, v, depth);
    // Tags far above any schema's, so the decoder must keep them as unknown and the encoder re-emit them.
    if (this.flexible(v) && this.rnd.bool(0.3)) o._unknownTaggedFields = [{ tag: 90 + this.rnd.int(0, 9), data: this.rnd.bytes(this.rnd.int(0, 5)) }];
    return o;
  }

  message(v: number): Record<string, unknown> {
    return this.struct(this.m.root, v);
  }
}
