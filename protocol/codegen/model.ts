/**
 * The generator's view of a message: definitions resolved into structs and typed fields,
 * version ranges parsed and clipped to the message's valid versions.
 */
import { type FieldDef, type MessageDef, PRIMITIVE_TYPES } from './definitions.js';
import { type VersionRange, NO_VERSIONS, intersect, isEmpty, parseRange } from './versions.js';

export type TypeModel =
  | { kind: 'prim'; prim: string }
  | { kind: 'struct'; struct: StructModel }
  | { kind: 'array'; elem: TypeModel };

export interface FieldModel {
  def: FieldDef;
  prop: string;
  type: TypeModel;
  versions: VersionRange;
  nullable: VersionRange;
  tagged: boolean;
  tag: number;
  ignorable: boolean;
  /** Set only for a per-field flexibleVersions override. */
  flexOverride?: VersionRange;
}

export interface StructModel {
  /** Name in the schema (struct type name). */
  schemaName: string;
  /** TypeScript interface name, unique in the file. */
  ts: string;
  fields: FieldModel[];
  taggedFields: FieldModel[];
}

export interface MessageModel {
  def: MessageDef;
  valid: VersionRange;
  flexible: VersionRange;
  root: StructModel;
  /** Every struct, root first, each after the structs it contains are known. */
  structs: StructModel[];
}

export function camel(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

function structTsName(message: string, struct: string): string {
  return struct.startsWith(message) ? struct : message + struct;
}

export function buildMessage(def: MessageDef): MessageModel {
  const valid = parseRange(def.validVersions);
  const flexible = intersect(parseRange(def.flexibleVersions), valid);
  const structs: StructModel[] = [];
  const byName = new Map<string, StructModel>();
  const common = new Map((def.commonStructs ?? []).map((s) => [s.name, s]));

  function structFor(schemaName: string, fields: FieldDef[] | undefined): StructModel {
    const known = byName.get(schemaName);
    if (known) {
      if (fields) throw new Error(`${def.name}: struct ${schemaName} defined twice`);
      return known;
    }
    const source = fields ?? common.get(schemaName)?.fields;
    if (!source) throw new Error(`${def.name}: unknown struct ${schemaName}`);
    const s: StructModel = { schemaName, ts: structTsName(def.name, schemaName), fields: [], taggedFields: [] };
    byName.set(schemaName, s);
    structs.push(s);
    s.fields = source.map(fieldModel);
    s.taggedFields = s.fields.filter((f) => f.tagged).sort((a, b) => a.tag - b.tag);
    return s;
  }

  function typeModel(type: string, fields: FieldDef[] | undefined): TypeModel {
    if (type.startsWith('[]')) return { kind: 'array', elem: typeModel(type.slice(2), fields) };
    if (PRIMITIVE_TYPES.has(type)) return { kind: 'prim', prim: type };
    return { kind: 'struct', struct: structFor(type, fields) };
  }

  function fieldModel(f: FieldDef): FieldModel {
    const versions = intersect(parseRange(f.versions), valid);
    return {
      def: f,
      prop: camel(f.name),
      type: typeModel(f.type, f.fields),
      versions,
      nullable: f.nullableVersions ? intersect(parseRange(f.nullableVersions), versions) : NO_VERSIONS,
      tagged: f.taggedVersions !== undefined,
      tag: f.tag ?? -1,
      ignorable: f.ignorable === true,
      flexOverride: f.flexibleVersions !== undefined ? intersect(parseRange(f.flexibleVersions), valid) : undefined,
    };
  }

  const root: StructModel = { schemaName: def.name, ts: def.name, fields: [], taggedFields: [] };
  byName.set(def.name, root);
  structs.push(root);
  root.fields = def.fields.map(fieldModel);
  root.taggedFields = root.fields.filter((f) => f.tagged).sort((a, b) => a.tag - b.tag);
  // Common structs nobody references are still part of the message's vocabulary.
  for (const c of def.commonStructs ?? []) if (!byName.has(c.name)) structFor(c.name, undefined);
  return { def, valid, flexible, root, structs };
}

export function hasFlexible(m: MessageModel): boolean {
  return !isEmpty(m.flexible);
}
