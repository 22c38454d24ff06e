/**
 * Turns Apache Kafka's message schemas (JSON with // comments) into the project's own
 * definitions: the wire facts only, normalised, one file per API (request + response)
 * and one per standalone header/data message.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { type ApiDef, type DefinitionFile, type FieldDef, type MessageDef, type StructDef, PRIMITIVE_TYPES, kebab } from './definitions.js';
import { contains, parseRange } from './versions.js';

/** Removes // comments outside of string literals. */
export function stripComments(text: string): string {
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      out += c;
      if (c === '\\') out += text[++i] ?? '';
      else if (c === '"') inString = false;
    } else if (c === '"') {
      inString = true;
      out += c;
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
      out += '\n';
    } else {
      out += c;
    }
  }
  return out;
}

type Raw = Record<string, unknown>;

function field(raw: Raw, where: string): FieldDef {
  const f: FieldDef = { name: String(raw.name), type: String(raw.type), versions: String(raw.versions) };
  if (raw.nullableVersions !== undefined) f.nullableVersions = String(raw.nullableVersions);
  if (raw.taggedVersions !== undefined) f.taggedVersions = String(raw.taggedVersions);
  if (raw.tag !== undefined) f.tag = Number(raw.tag);
  if (raw.default !== undefined) f.default = String(raw.default);
  if (raw.ignorable === true) f.ignorable = true;
  if (raw.flexibleVersions !== undefined) f.flexibleVersions = String(raw.flexibleVersions);
  if (raw.entityType !== undefined) f.entityType = String(raw.entityType);
  if (Array.isArray(raw.fields)) f.fields = raw.fields.map((x) => field(x as Raw, `${where}.${f.name}`));
  const elem = f.type.startsWith('[]') ? f.type.slice(2) : f.type;
  if (!PRIMITIVE_TYPES.has(elem) && !/^[A-Z]\w*$/.test(elem)) throw new Error(`${where}.${f.name}: unknown type ${f.type}`);
  if ((f.tag === undefined) !== (f.taggedVersions === undefined)) throw new Error(`${where}.${f.name}: tag without taggedVersions`);
  return f;
}

function message(raw: Raw, file: string): MessageDef {
  const m: MessageDef = {
    name: String(raw.name),
    type: raw.type as MessageDef['type'],
    validVersions: String(raw.validVersions),
    flexibleVersions: String(raw.flexibleVersions ?? 'none'),
    fields: [],
  };
  if (raw.apiKey !== undefined) m.apiKey = Number(raw.apiKey);
  if (raw.deprecatedVersions !== undefined) m.deprecatedVersions = String(raw.deprecatedVersions);
  if (raw.latestVersionUnstable === true) m.latestVersionUnstable = true;
  if (Array.isArray(raw.listeners)) m.listeners = raw.listeners.map(String);
  m.fields = (raw.fields as Raw[]).map((f) => field(f, m.name));
  if (Array.isArray(raw.commonStructs)) {
    m.commonStructs = raw.commonStructs.map((s: Raw): StructDef => ({
      name: String(s.name),
      versions: String(s.versions),
      fields: (s.fields as Raw[]).map((f) => field(f, `${m.name}.${String(s.name)}`)),
    }));
  }
  checkTagged(m.fields, m, file);
  for (const s of m.commonStructs ?? []) checkTagged(s.fields, m, file);
  return m;
}

/** Tagged fields only exist in flexible versions; catch a schema we would misread. */
function checkTagged(fields: FieldDef[], m: MessageDef, file: string): void {
  const flex = parseRange(m.flexibleVersions);
  for (const f of fields) {
    if (f.taggedVersions !== undefined) {
      const t = parseRange(f.taggedVersions);
      if (!contains(flex, t.min)) throw new Error(`${file}: ${f.name} tagged outside flexible versions`);
    }
    if (f.fields) checkTagged(f.fields, m, file);
  }
}

/** Reads every schema in `dir` and returns definition files keyed by their file name. */
export function importSchemas(dir: string): Map<string, DefinitionFile> {
  const messages: MessageDef[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (!name.endsWith('.json')) continue;
    const raw = JSON.parse(stripComments(readFileSync(join(dir, name), 'utf8'))) as Raw;
    messages.push(message(raw, name));
  }
  const out = new Map<string, DefinitionFile>();
  const byKey = new Map<number, { request?: MessageDef; response?: MessageDef }>();
  for (const m of messages) {
    if (m.type === 'request' || m.type === 'response') {
      const entry = byKey.get(m.apiKey!) ?? {};
      entry[m.type] = m;
      byKey.set(m.apiKey!, entry);
    } else {
      out.set(`${kebab(m.name)}.json`, { kind: 'message', message: m });
    }
  }
  for (const [apiKey, { request, response }] of [...byKey].sort((a, b) => a[0] - b[0])) {
    if (!request || !response) throw new Error(`api key ${apiKey} lacks a request or a response`);
    const name = request.name.replace(/Request$/, '');
    if (response.name !== `${name}Response`) throw new Error(`api key ${apiKey}: ${request.name} vs ${response.name}`);
    const api: ApiDef = { apiKey, name, request, response };
    out.set(`${kebab(name)}.json`, { kind: 'api', api });
  }
  return out;
}
