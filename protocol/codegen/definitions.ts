/**
 * The project's own message definitions: the facts from Apache Kafka's JSON schemas
 * (names, types, versions, tags, defaults, nullability) without their prose.
 * `import.ts` writes them to protocol/definitions/, `generate.ts` reads them.
 */
export interface FieldDef {
  name: string;
  /** int8 … float64, string, bytes, records, uuid, a struct name, or []T of any of these. */
  type: string;
  versions: string;
  nullableVersions?: string;
  taggedVersions?: string;
  tag?: number;
  default?: string;
  ignorable?: boolean;
  /** Per-field override of the message's flexible versions (RequestHeader.ClientId only). */
  flexibleVersions?: string;
  entityType?: string;
  /** Inline struct definition for struct and []struct types. */
  fields?: FieldDef[];
}

export interface StructDef {
  name: string;
  versions: string;
  fields: FieldDef[];
}

export interface MessageDef {
  name: string;
  type: 'request' | 'response' | 'header' | 'data';
  apiKey?: number;
  validVersions: string;
  flexibleVersions: string;
  deprecatedVersions?: string;
  latestVersionUnstable?: boolean;
  listeners?: string[];
  fields: FieldDef[];
  commonStructs?: StructDef[];
}

/** One file of protocol/definitions: an API's request and response, or a standalone message. */
export interface ApiDef {
  apiKey: number;
  name: string;
  request: MessageDef;
  response: MessageDef;
}

export type DefinitionFile = { kind: 'api'; api: ApiDef } | { kind: 'message'; message: MessageDef };

export const PRIMITIVE_TYPES = new Set([
  'bool', 'int8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'float64',
  'string', 'bytes', 'records', 'uuid',
]);

export function kebab(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1-$2').replace(/([A-Z])([A-Z][a-z])/g, '$1-$2').toLowerCase();
}
