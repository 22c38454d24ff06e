/**
 * Broker configuration under Kafka's own names (server.properties keys), with Kafka's defaults.
 * Everything user-facing — the CLI, --config files, --set overrides, embedding — ends up here.
 */
import { isIP } from 'node:net';

export type Properties = Record<string, string>;

/** Kafka broker defaults for the keys Samsa reads (values as Kafka documents them). */
export const BROKER_DEFAULTS: Properties = {
  'node.id': '1',
  'listeners': 'PLAINTEXT://localhost:9092',
  'log.dirs': './data',
  'samsa.storage': 'disk',
  'samsa.log.direct.writes': 'true',
  'num.partitions': '1',
  'default.replication.factor': '1',
  'auto.create.topics.enable': 'true',
  'delete.topic.enable': 'true',
  'socket.request.max.bytes': '104857600',
  'connections.max.idle.ms': '600000',
  'message.max.bytes': '1048588',
  'fetch.max.bytes': '57671680',
  'max.incremental.fetch.session.cache.slots': '1000',
  'log.segment.bytes': '1073741824',
  'log.roll.hours': '168',
  'log.retention.hours': '168',
  'log.retention.bytes': '-1',
  'log.retention.check.interval.ms': '300000',
  'log.initial.task.delay.ms': '30000',
  'log.index.interval.bytes': '4096',
  'log.flush.interval.messages': '9223372036854775807',
  'log.flush.scheduler.interval.ms': '9223372036854775807',
  'log.message.timestamp.type': 'CreateTime',
  'log.segment.delete.delay.ms': '60000',
  'log.cleanup.policy': 'delete',
  'compression.type': 'producer',
  'min.insync.replicas': '1',
  'group.min.session.timeout.ms': '6000',
  'group.max.session.timeout.ms': '1800000',
  // Kafka's code default is 3000; the apache/kafka Docker image (the broker Node teams run for
  // development) and the ZooKeeper-era server.properties set 0, so that a group's first join is
  // answered at once instead of after 3 s.
  'group.initial.rebalance.delay.ms': '0',
  'group.max.size': '2147483647',
  'offset.metadata.max.bytes': '4096',
  'offsets.retention.minutes': '10080',
  'offsets.retention.check.interval.ms': '600000',
  'offsets.topic.num.partitions': '50',
  'offsets.topic.segment.bytes': '104857600',
  'transaction.state.log.num.partitions': '50',
  'transaction.state.log.segment.bytes': '104857600',
  'transaction.max.timeout.ms': '900000',
  'transactional.id.expiration.ms': '604800000',
  'transaction.abort.timed.out.transaction.cleanup.interval.ms': '10000',
  'transaction.remove.expired.transaction.cleanup.interval.ms': '3600000',
  'transaction.partition.verification.enable': 'true',
  'producer.id.expiration.ms': '86400000',
  'producer.id.expiration.check.interval.ms': '600000',
  'samsa.producer.snapshot.interval.ms': '30000',
  'log.cleaner.enable': 'true',
  'log.cleaner.backoff.ms': '15000',
  'log.cleaner.delete.retention.ms': '86400000',
  'log.cleaner.min.compaction.lag.ms': '0',
  'log.cleaner.max.compaction.lag.ms': '9223372036854775807',
  'log.cleaner.min.cleanable.ratio': '0.5',
  'quota.window.num': '11',
  'quota.window.size.seconds': '1',
  'max.connections': '2147483647',
  'max.connection.creation.rate': '2147483647',
  'socket.listen.backlog.size': '50',
  'max.connections.per.ip': '2147483647',
  'max.connections.per.ip.overrides': '',
  'controller.quota.window.num': '11',
  'controller.quota.window.size.seconds': '1',
};

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/**
 * Parses Java-properties text as java.util.Properties.load does (Kafka reads server.properties
 * with it): `key=value`, `key: value` or `key value`; `#` and `!` comments; a line ending in an odd
 * number of backslashes continues on the next one (its leading blanks dropped); escapes `\t`,
 * `\n`, `\r`, `\f`, `\uXXXX`, and `\x` for any other x (so `\\` is one backslash, `\=` an equals
 * sign inside a key).
 */
export function parseProperties(text: string): Properties {
  const out: Properties = {};
  const lines = text.split(/\r\n|\r|\n/);
  const continues = (line: string) => /(?:^|[^\\])(?:\\\\)*\\$/.test(line);
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!.replace(/^[ \t\f]+/, '');
    if (line === '' || line.startsWith('#') || line.startsWith('!')) continue;
    // A backslash alone continues an empty line: the next one starts afresh (Properties' LineReader
    // still takes it for a comment, or skips it when blank).
    if (line === '\\') continue;
    while (continues(line) && i + 1 < lines.length) line = line.slice(0, -1) + lines[++i]!.replace(/^[ \t\f]+/, '');
    if (continues(line)) line = line.slice(0, -1);
    // The key ends at the first unescaped separator: '=', ':' or a blank.
    let k = 0;
    while (k < line.length && !'=: \t\f'.includes(line[k]!)) k += line[k] === '\\' ? 2 : 1;
    let v = k;
    while (v < line.length && ' \t\f'.includes(line[v]!)) v++;
    if (v < line.length && '=:'.includes(line[v]!)) v++;
    while (v < line.length && ' \t\f'.includes(line[v]!)) v++;
    out[unescapeProperty(line.slice(0, Math.min(k, line.length)))] = unescapeProperty(line.slice(v)).trim();
  }
  return out;
}

const PROPERTY_ESCAPES: Record<string, string> = { t: '\t', n: '\n', r: '\r', f: '\f' };

function unescapeProperty(s: string): string {
  return s.replace(/\\(u[0-9a-fA-F]{4}|u[\s\S]{0,4}|[\s\S]?)/g, (_, e: string) => {
    if (e[0] === 'u') {
      // Java's Properties.load refuses the file here, and so does Samsa.
      if (!/^u[0-9a-fA-F]{4}$/.test(e)) throw new ConfigError(`Malformed \\uxxxx encoding: \\${e}`);
      return String.fromCharCode(parseInt(e.slice(1), 16));
    }
    return PROPERTY_ESCAPES[e] ?? e;
  });
}

export interface Endpoint {
  host: string;
  port: number;
}

/** One entry of `listeners` / `advertised.listeners`. */
export interface Listener extends Endpoint {
  /** The listener name (PLAINTEXT when the entry is a bare host:port). */
  name: string;
}

/** "NAME://host:port,…" (or bare "host:port" entries, taken as PLAINTEXT) → every listener. */
export function parseListeners(value: string): Listener[] {
  return value.split(',').map((s) => s.trim()).filter((s) => s !== '').map((entry) => {
    const m = /^(?:([A-Za-z0-9_]+):\/\/)?(\[[^\]]*\]|[^:]*):(\d+)$/.exec(entry);
    if (!m) throw new ConfigError(`cannot parse listener "${entry}" (expected PLAINTEXT://host:port or host:port)`);
    const port = Number(m[3]);
    if (port > 65535) throw new ConfigError(`port out of range in "${entry}"`);
    return { name: (m[1] ?? 'PLAINTEXT').toUpperCase(), host: m[2]!.replace(/^\[|\]$/g, ''), port };
  });
}

export function formatListeners(listeners: readonly Listener[]): string {
  return listeners.map((l) => `${l.name}://${l.host.includes(':') ? `[${l.host}]` : l.host}:${l.port}`).join(',');
}

/**
 * A host and port (--host / --port, or startBroker's) change the listener clients are served on,
 * leaving the config's other listeners (a CONTROLLER one, say) as they are. An advertised address
 * that only repeated that listener's port follows the new port: otherwise Kafka's stock
 * server.properties would send clients to 9092.
 */
export function overrideListener(props: Properties, host: string | undefined, port: number | undefined): void {
  const served = props['listeners'] ? clientListener(props) : { name: 'PLAINTEXT', host: 'localhost', port: 9092 };
  const all = props['listeners'] ? parseListeners(props['listeners']) : [served];
  const updated = { name: served.name, host: host ?? served.host, port: port ?? served.port };
  props['listeners'] = formatListeners(all.map((l) => (l.name === served.name ? updated : l)));
  if (port !== undefined && props['advertised.listeners']) {
    const advertised = parseListeners(props['advertised.listeners']);
    props['advertised.listeners'] = formatListeners(advertised.map((l) => (l.name === served.name && l.port === served.port ? { ...l, port } : l)));
  }
}

/** Kafka's default listener.security.protocol.map: each protocol as a listener name of its own. */
const DEFAULT_PROTOCOL_MAP = 'PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL';

/**
 * The first listener clients are served on: the one --host/--port change, and the address an
 * embedded broker's `bootstrap` names.
 */
export function clientListener(props: Properties): Listener {
  return clientListeners(props)[0]!;
}

/**
 * Every listener clients are served on: those of `listeners` that are not controller listeners
 * (controller.listener.names), a Docker setup's PLAINTEXT and PLAINTEXT_HOST say. One whose
 * security protocol (listener.security.protocol.map) is not PLAINTEXT refuses the start: serving
 * it as plaintext would hand out unencrypted, unauthenticated access where TLS or SASL was asked for.
 */
export function clientListeners(props: Properties): Listener[] {
  const listeners = parseListeners(props['listeners'] ?? '');
  const controllers = new Set((props['controller.listener.names'] ?? '').split(',').map((n) => n.trim().toUpperCase()).filter((n) => n !== ''));
  const protocols = new Map(
    (props['listener.security.protocol.map'] ?? DEFAULT_PROTOCOL_MAP).split(',').map((kv) => kv.split(':').map((x) => x.trim().toUpperCase()) as [string, string]),
  );
  // Kafka's rule: one listener per name, except one IPv4 and one IPv6 address under the same name.
  for (const name of new Set(listeners.map((l) => l.name))) {
    const same = listeners.filter((l) => l.name === name);
    if (same.length > 2 || (same.length === 2 && same[0]!.host.includes(':') === same[1]!.host.includes(':'))) {
      throw new ConfigError(`Each listener must have a different name unless you have exactly one listener on each of IPv4 and IPv6: listeners=${props['listeners']}`);
    }
  }
  // Kafka's rule for ports (port 0, an ephemeral port, excepted): one listener per port, except
  // one IPv4 and one IPv6 address.
  for (const port of new Set(listeners.map((l) => l.port).filter((p) => p !== 0))) {
    const same = listeners.filter((l) => l.port === port);
    if (same.length > 1 && same.map((l) => isIP(l.host)).sort().join() !== '4,6') {
      throw new ConfigError(`Each listener must have a different port unless exactly one listener has an IPv4 address and the other IPv6 address, listeners: ${props['listeners']}, port: ${port}`);
    }
  }
  const served = listeners.filter((l) => !controllers.has(l.name));
  if (served.length === 0) throw new ConfigError(`listeners has no listener for clients: "${props['listeners'] ?? ''}"`);
  for (const l of served) {
    const protocol = protocols.get(l.name);
    if (protocol === undefined) throw new ConfigError(`No security protocol defined for listener ${l.name} (listener.security.protocol.map)`);
    if (protocol !== 'PLAINTEXT') throw new ConfigError(`listener ${l.name} uses ${protocol}, which Samsa does not support yet: only PLAINTEXT listeners can be served`);
  }
  return served;
}

/** The longest delay a Node timer takes. */
export const MAX_TIMER_MS = 0x7fffffff;

export class BrokerConfig {
  /** Defaults with the start-up settings over them. */
  readonly props: Properties;
  /** What was set at start-up (server.properties, --set, embedding options): Kafka's static broker configs. */
  readonly staticProps: Readonly<Properties>;
  /** Dynamic broker configs (AlterConfigs) for this broker and as cluster-wide defaults; both win over `props`. */
  private dynamicBroker: Properties = {};
  private dynamicDefault: Properties = {};
  /** Bumped on every dynamic change, so values derived from the config can tell they are stale. */
  generation = 0;

  constructor(overrides: Properties = {}) {
    this.staticProps = { ...overrides };
    this.props = { ...BROKER_DEFAULTS, ...overrides };
    // Fail at start-up, not at first use.
    const id = this.nodeIdSetting;
    if (id.value < 0) throw new ConfigError(`${id.name} must be 0 or more, not ${id.value}`);
    for (const l of this.listeners) this.advertisedFor(l);
    if (!['disk', 'memory'].includes(this.storage)) throw new ConfigError(`samsa.storage must be disk or memory, not "${this.storage}"`);
    void this.dataDir;
  }

  get(name: string): string | undefined {
    return this.dynamicBroker[name] ?? this.dynamicDefault[name] ?? this.props[name];
  }

  has(name: string): boolean {
    const v = this.get(name);
    return v !== undefined && v !== '';
  }

  /** The dynamic configs in force: this broker's own, and the cluster-wide defaults. */
  get dynamic(): { broker: Readonly<Properties>; clusterDefault: Readonly<Properties> } {
    return { broker: this.dynamicBroker, clusterDefault: this.dynamicDefault };
  }

  /** Replaces the dynamic configs of one level (validated by the caller). */
  setDynamic(level: 'broker' | 'clusterDefault', props: Properties): void {
    if (level === 'broker') this.dynamicBroker = { ...props };
    else this.dynamicDefault = { ...props };
    this.generation++;
  }

  /** This config as it would be with `props` as the dynamic configs of `level` (to validate a change). */
  withDynamic(level: 'broker' | 'clusterDefault', props: Properties): BrokerConfig {
    const c = new BrokerConfig(this.staticProps);
    c.setDynamic('broker', level === 'broker' ? props : this.dynamicBroker);
    c.setDynamic('clusterDefault', level === 'clusterDefault' ? props : this.dynamicDefault);
    return c;
  }

  /** An integer property (Kafka int or long; longs beyond 2^53 are clamped to MAX_SAFE_INTEGER). */
  number(name: string): number {
    const raw = this.get(name);
    if (raw === undefined) throw new ConfigError(`missing config ${name}`);
    const n = Number(raw.trim());
    if (!Number.isFinite(n) || !Number.isInteger(n)) throw new ConfigError(`${name} must be an integer, not "${raw}"`);
    return Math.min(n, Number.MAX_SAFE_INTEGER);
  }

  /**
   * A duration config as a Node timer delay. Node fires a delay above 2^31-1 ms after 1 ms, so
   * longer ones (Kafka takes any long) wait the longest Node can, about 24.8 days.
   */
  delayMs(name: string): number {
    return Math.min(Math.max(this.number(name), 1), MAX_TIMER_MS);
  }

  bool(name: string): boolean {
    const raw = (this.get(name) ?? '').trim().toLowerCase();
    if (raw !== 'true' && raw !== 'false') throw new ConfigError(`${name} must be true or false, not "${this.get(name)}"`);
    return raw === 'true';
  }

  get nodeId(): number {
    return this.nodeIdSetting.value;
  }

  /** The node id and the setting it comes from. */
  private get nodeIdSetting(): { name: 'node.id' | 'broker.id'; value: number } {
    // broker.id is the older name: it counts when it is set and node.id is not.
    const fromBrokerId = !this.has('node.id') || (!('node.id' in this.staticProps) && 'broker.id' in this.staticProps);
    if (!fromBrokerId) return { name: 'node.id', value: this.number('node.id') };
    const id = this.number('broker.id');
    // A ZooKeeper-mode server.properties asks for a generated id with broker.id=-1
    // (broker.id.generation.enable): a single broker takes the default one.
    return { name: 'broker.id', value: id === -1 ? Number(BROKER_DEFAULTS['node.id']) : id };
  }

  /** The first client listener (see clientListener). */
  get listener(): Listener {
    return clientListener(this.props);
  }

  /** Every client listener (see clientListeners). */
  get listeners(): Listener[] {
    return clientListeners(this.props);
  }

  /** Where clients of the first listener are told to connect (see advertisedFor). */
  get advertised(): Endpoint {
    return this.advertisedFor(this.listener);
  }

  /**
   * Where clients that came in on `listener` are told to connect, as Kafka answers each request
   * with the endpoints of the listener it arrived on: the advertised.listeners entry of its name
   * (a bare host:port counts as PLAINTEXT), else the listener's own address.
   */
  advertisedFor(listener: Listener): Endpoint {
    const advertised = this.has('advertised.listeners') ? parseListeners(this.props['advertised.listeners']) : [];
    // Kafka's checks on advertised.listeners.
    const names = new Set(parseListeners(this.props['listeners']).map((l) => l.name));
    const unknown = advertised.filter((l) => !names.has(l.name)).map((l) => l.name);
    if (unknown.length > 0) {
      throw new ConfigError(`advertised.listeners listener names must be equal to or a subset of the ones defined in listeners. Found ${unknown.join(',')}. The valid options based on the current configuration are ${[...names].join(',')}`);
    }
    if (advertised.some((l) => l.host === '0.0.0.0')) throw new ConfigError('advertised.listeners cannot use the nonroutable meta-address 0.0.0.0. Use a routable IP address.');
    const named = advertised.find((l) => l.name === listener.name);
    const ep = named ?? listener;
    // A wildcard bind address is no use to a client.
    if (ep.host === '' || ep.host === '0.0.0.0' || ep.host === '::') return { host: 'localhost', port: ep.port };
    return { host: ep.host, port: ep.port };
  }

  /**
   * The log directories, as Kafka lists them: log.dirs, else log.dir (Samsa's default, ./data,
   * only when neither is set), split at commas with blanks around them and empty entries dropped.
   */
  get logDirs(): string[] {
    const value = this.staticProps['log.dirs'] ?? this.staticProps['log.dir'] ?? this.props['log.dirs'];
    return value.split(',').map((d) => d.trim()).filter((d) => d !== '');
  }

  /** The directory Samsa keeps everything in: the first log directory. */
  get dataDir(): string {
    const [first] = this.logDirs;
    // Kafka's own check; an empty path would otherwise mean the working directory, or no directory at all.
    if (first === undefined) throw new ConfigError('At least one log directory must be defined via log.dirs or log.dir.');
    return first;
  }

  get storage(): string {
    return this.props['samsa.storage'];
  }

  /** A time given by Kafka as .ms/.minutes/.hours variants, in ms (the most precise one set wins). */
  duration(base: string): number {
    if (this.has(`${base}.ms`)) return this.number(`${base}.ms`);
    if (this.has(`${base}.minutes`)) return this.number(`${base}.minutes`) * 60_000;
    return this.number(`${base}.hours`) * 3_600_000;
  }
}
