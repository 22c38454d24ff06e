/**
 * What topic and broker config definitions have in common: Kafka's config types, how a string
 * value is parsed and checked (Kafka's ConfigDef rules and error messages), and how a parsed value
 * is written back as the canonical string DescribeConfigs shows.
 */

export type ConfigType = 'boolean' | 'string' | 'int' | 'short' | 'long' | 'double' | 'list' | 'class' | 'password';

/** DescribeConfigs v3+ ConfigType ids. */
export const CONFIG_TYPE_ID: Readonly<Record<ConfigType, number>> = {
  boolean: 1, string: 2, int: 3, short: 4, long: 5, double: 6, list: 7, class: 8, password: 9,
};

/** DescribeConfigs v1+ ConfigSource ids. */
export enum ConfigSource {
  UNKNOWN = 0,
  TOPIC_CONFIG = 1,
  DYNAMIC_BROKER_CONFIG = 2,
  DYNAMIC_DEFAULT_BROKER_CONFIG = 3,
  STATIC_BROKER_CONFIG = 4,
  DEFAULT_CONFIG = 5,
  DYNAMIC_BROKER_LOGGER_CONFIG = 6,
  CLIENT_METRICS_CONFIG = 7,
}

/** Config resource types (ConfigResource.Type). */
export enum ResourceType {
  UNKNOWN = 0,
  TOPIC = 2,
  BROKER = 4,
  BROKER_LOGGER = 8,
  CLIENT_METRICS = 16,
}

export type Parsed = boolean | string | bigint | number | string[];

/** Checks a parsed value; returns the reason (Kafka's ConfigException message) or null. */
export type Validator = (name: string, value: Parsed) => string | null;

export interface ConfigDefinition {
  name: string;
  type: ConfigType;
  /** The default as Kafka renders it; null when there is none. */
  default: string | null;
  validator?: Validator;
  /** What the setting does, in our words (DescribeConfigs includeDocumentation). */
  doc: string;
}

export const LONG_MAX = 9223372036854775807n;
export const LONG_MAX_STRING = '9223372036854775807';
const LIMITS: Partial<Record<ConfigType, [bigint, bigint]>> = {
  short: [-32768n, 32767n],
  int: [-2147483648n, 2147483647n],
  long: [-LONG_MAX - 1n, LONG_MAX],
};

/** Kafka's ConfigException text. */
export function invalidValue(name: string, value: unknown, message?: string): string {
  return `Invalid value ${display(value)} for configuration ${name}${message === undefined ? '' : `: ${message}`}`;
}

function display(value: unknown): string {
  if (Array.isArray(value)) return `[${value.join(', ')}]`;
  if (typeof value === 'number') return javaDouble(value);
  return String(value);
}

const TYPE_NAMES: Record<ConfigType, string> = {
  boolean: 'BOOLEAN', string: 'STRING', int: 'INT', short: 'SHORT', long: 'LONG', double: 'DOUBLE', list: 'LIST', class: 'CLASS', password: 'PASSWORD',
};

export class ConfigValueError extends Error {
  override readonly name = 'ConfigValueError';
}

/** Java's String.split(","): trailing empty strings are dropped. */
export function javaSplit(s: string, sep = ','): string[] {
  const parts = s.split(sep);
  while (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
  return parts;
}

/** Parses a value as ConfigDef.parseType does; throws ConfigValueError with Kafka's message. */
export function parseValue(def: Pick<ConfigDefinition, 'name' | 'type'>, value: string): Parsed {
  const trimmed = value.trim();
  switch (def.type) {
    case 'boolean': {
      const l = trimmed.toLowerCase();
      if (l === 'true') return true;
      if (l === 'false') return false;
      throw new ConfigValueError(invalidValue(def.name, value, 'Expected value to be either true or false'));
    }
    case 'string':
    case 'password':
    case 'class':
      return trimmed;
    case 'short':
    case 'int':
    case 'long': {
      const [min, max] = LIMITS[def.type]!;
      if (!/^[+-]?\d+$/.test(trimmed)) throw new ConfigValueError(invalidValue(def.name, value, `Not a number of type ${TYPE_NAMES[def.type]}`));
      const n = BigInt(trimmed);
      if (n < min || n > max) throw new ConfigValueError(invalidValue(def.name, value, `Not a number of type ${TYPE_NAMES[def.type]}`));
      return n;
    }
    case 'double': {
      const t = trimmed.replace(/[dDfF]$/, '');
      if (!/^[+-]?(NaN|Infinity|(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)$/.test(t)) {
        throw new ConfigValueError(invalidValue(def.name, value, 'Not a number of type DOUBLE'));
      }
      return Number(t);
    }
    case 'list':
      return trimmed === '' ? [] : trimmed.split(/\s*,\s*/);
  }
}

/** Parses and validates; returns the reason the value is refused, or null. */
export function checkValue(def: ConfigDefinition, value: string): string | null {
  try {
    const parsed = parseValue(def, value);
    return def.validator ? def.validator(def.name, parsed) : null;
  } catch (e) {
    if (e instanceof ConfigValueError) return e.message;
    throw e;
  }
}

/** Java's Double.toString for the values configs use. */
export function javaDouble(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (!Number.isFinite(n)) return n > 0 ? 'Infinity' : '-Infinity';
  const abs = Math.abs(n);
  if (abs === 0 || (abs >= 1e-3 && abs < 1e7)) return Number.isInteger(n) ? `${n}.0` : String(n);
  const [mantissa, exponent] = n.toExponential().split('e');
  return `${mantissa.includes('.') ? mantissa : `${mantissa}.0`}E${Number(exponent)}`;
}

/** The string Kafka shows for a parsed value (ConfigDef.convertToString). */
export function canonical(def: Pick<ConfigDefinition, 'name' | 'type'>, value: string): string {
  let parsed: Parsed;
  try {
    parsed = parseValue(def, value);
  } catch {
    return value;
  }
  if (Array.isArray(parsed)) return parsed.join(',');
  if (typeof parsed === 'number') return javaDouble(parsed);
  return String(parsed);
}

// --- validators (Kafka's Range, ValidString, ValidList) ---

export const atLeast = (min: number | bigint): Validator => (name, v) =>
  (typeof v === 'bigint' || typeof v === 'number') && Number(v) < Number(min) ? invalidValue(name, v, `Value must be at least ${min}`) : null;

export const between = (min: number | bigint, max: number | bigint): Validator => (name, v) => {
  if (typeof v !== 'bigint' && typeof v !== 'number') return null;
  if (Number(v) < Number(min)) return invalidValue(name, v, `Value must be at least ${min}`);
  if (Number(v) > Number(max)) return invalidValue(name, v, `Value must be no more than ${max}`);
  return null;
};

export const oneOf = (...values: string[]): Validator => (name, v) =>
  typeof v === 'string' && !values.includes(v) ? invalidValue(name, v, `String must be one of: ${values.join(', ')}`) : null;

export const listOf = (...values: string[]): Validator => (name, v) => {
  if (!Array.isArray(v)) return null;
  const bad = v.find((item) => !values.includes(item));
  return bad === undefined ? null : invalidValue(name, bad, `String must be one of: ${values.join(', ')}`);
};

// --- validators of particular configs, shared by the topic and broker tables ---

/**
 * Kafka's Csv.parseCsvMap of `host:count` pairs (max.connections.per.ip.overrides), each split at
 * its last colon, the count read as Java's Integer.parseInt reads it; why not, when it cannot be read.
 */
export function parseHostCounts(text: string): Map<string, number> | string {
  const map = new Map<string, number>();
  if (text.trim() === '') return map;
  const pairs = text.split(/\s*,\s*/);
  // Java's String.split drops trailing empty strings.
  while (pairs.length > 0 && pairs[pairs.length - 1] === '') pairs.pop();
  for (const pair of pairs) {
    const colon = pair.lastIndexOf(':');
    const count = pair.slice(colon + 1).trim();
    if (colon <= 0 || !/^[+-]?\d+$/.test(count) || Math.abs(Number(count)) > 2 ** 31) return `"${pair}" is not host:count`;
    map.set(pair.slice(0, colon).trim(), Number(count));
  }
  return map;
}
export const HOST_COUNTS: Validator = (name, v) => {
  if (typeof v !== 'string') return null;
  const parsed = parseHostCounts(v);
  return typeof parsed === 'string' ? invalidValue(name, v, parsed) : null;
};

export const COMPRESSION_TYPES = ['uncompressed', 'zstd', 'lz4', 'snappy', 'gzip', 'producer'] as const;
export const GZIP_LEVEL: Validator = (name, v) =>
  typeof v === 'bigint' && (v > 9n || (v < 1n && v !== -1n)) ? invalidValue(name, v, 'Value must be between 1 and 9 or equal to -1') : null;
export const LZ4_LEVEL = between(1, 17);
export const ZSTD_LEVEL = between(-131072, 22);
/** Kafka's ThrottledReplicaListValidator: '*' or partition:broker pairs. */
export const THROTTLED_REPLICAS: Validator = (name, v) => {
  if (!Array.isArray(v)) return null;
  const items = v.map((s) => s.trim());
  if (items.every((s) => /^(\d+:\d+)?$/.test(s)) || items.join('') === '*') return null;
  return invalidValue(name, v, `${name} must be the literal '*' or a list of replicas in the following format: [partitionId]:[brokerId],[partitionId]:[brokerId],...`);
};
/** Kafka 3.9's MetadataVersion values: each release and how many IV sub-versions it has (0: none; the 4.0 ones are not production). */
const METADATA_RELEASES: readonly (readonly [string, number])[] = [
  ['0.8.0', 0], ['0.8.1', 0], ['0.8.2', 0], ['0.9.0', 0], ['0.10.0', 2], ['0.10.1', 3], ['0.10.2', 1], ['0.11.0', 3],
  ['1.0', 1], ['1.1', 1], ['2.0', 2], ['2.1', 3], ['2.2', 2], ['2.3', 2], ['2.4', 2], ['2.5', 1], ['2.6', 1], ['2.7', 3], ['2.8', 2],
  ['3.0', 2], ['3.1', 1], ['3.2', 1], ['3.3', 4], ['3.4', 1], ['3.5', 3], ['3.6', 3], ['3.7', 5], ['3.8', 1], ['3.9', 1], ['4.0', 2],
];
/** The strings MetadataVersion.fromVersionString knows: every `release-IVn`, and each production release alone. */
const METADATA_VERSIONS = new Set(
  METADATA_RELEASES.flatMap(([release, ivs]) => [
    ...(release === '4.0' ? [] : [release]),
    ...Array.from({ length: ivs }, (_, i) => `${release}-IV${i}`),
  ]),
);
/** Kafka's MetadataVersionValidator: past its release (three parts for 0.x, two after), a version string is cut (2.8.1 is 2.8). */
export const METADATA_VERSION: Validator = (name, v) => {
  if (typeof v !== 'string') return null;
  const parts = v.split('.');
  const kept = v.startsWith('0.') ? 3 : 2;
  const key = parts.length <= kept ? v : parts.slice(0, kept).join('.');
  return METADATA_VERSIONS.has(key) ? null : invalidValue(name, v, `Version ${v} is not a valid version`);
};

