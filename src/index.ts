/**
 * Embedding Samsa: `const b = await startBroker({ port: 0 })` gives a broker on an ephemeral port,
 * in memory by default, for a test run; `await b.stop()` ends it.
 */
import { Broker, VERSION } from './broker.js';
import { BrokerConfig, type Properties, formatListeners, overrideListener } from './config.js';
import { type Logger, createLogger } from './logger.js';

export { Broker, VERSION } from './broker.js';
export { BrokerConfig, parseProperties } from './config.js';
export type { Storage, PartitionLog, TopicRecord } from './storage/storage.js';

export interface StartBrokerOptions {
  /** 0 (the default, unless config names listeners) picks a free port. */
  port?: number;
  /** Address to bind; default 127.0.0.1 (unless config names listeners). */
  host?: string;
  /** Host and port clients are told to connect to; default the bound address. */
  advertisedListener?: string;
  /** 'memory' (default when embedded, unless dataDir or log.dirs is given) or 'disk'. */
  storage?: 'memory' | 'disk';
  /** The disk engine's directory (giving one chooses the disk engine); default ./data. */
  dataDir?: string;
  nodeId?: number;
  /**
   * Any Kafka broker setting by its server.properties name, e.g. { 'num.partitions': 3 }; one whose
   * value is undefined or null is not set (`{ 'log.dirs': process.env.DATA_DIR }`, say).
   */
  config?: Record<string, string | number | boolean | undefined | null>;
  /**
   * A pino logger, or a level name for a new one writing JSON lines to stderr; default 'warn'
   * (SAMSA_LOG_LEVEL when set), so that a setting misspelt or a codec missing is said. 'silent'
   * logs nothing.
   */
  logger?: Logger | string;
}

export interface RunningBroker {
  /** "host:port", ready for a client's bootstrap servers. */
  bootstrap: string;
  host: string;
  port: number;
  broker: Broker;
  stop(): Promise<void>;
}

/**
 * The properties a set of options stands for: `config` first, then the dedicated options. Without
 * `listeners` in `config`, clients are served on 127.0.0.1 and a free port; host and port change
 * the client listener `config` names. A log directory, in `dataDir` or `config`, chooses the disk engine.
 */
export function propertiesFrom(options: StartBrokerOptions): Properties {
  const props: Properties = {};
  // (String(undefined) made 'log.dirs': undefined a disk broker writing to ./undefined.)
  for (const [k, v] of Object.entries(options.config ?? {})) if (v !== undefined && v !== null) props[k] = String(v);
  if (!('listeners' in props)) props['listeners'] = formatListeners([{ name: 'PLAINTEXT', host: options.host ?? '127.0.0.1', port: options.port ?? 0 }]);
  else if (options.host !== undefined || options.port !== undefined) overrideListener(props, options.host, options.port);
  if (options.advertisedListener) props['advertised.listeners'] = options.advertisedListener;
  if (options.dataDir) props['log.dirs'] = options.dataDir;
  if (options.storage) props['samsa.storage'] = options.storage;
  else if (!('samsa.storage' in props)) props['samsa.storage'] = 'log.dirs' in props || 'log.dir' in props ? 'disk' : 'memory';
  if (options.nodeId !== undefined) props['node.id'] = String(options.nodeId);
  return props;
}

export async function startBroker(options: StartBrokerOptions = {}): Promise<RunningBroker> {
  const config = new BrokerConfig(propertiesFrom(options));
  // null is "not given", as with ?? below (it was taken for a logger, and the first line logged threw).
  const log = typeof options.logger === 'object' && options.logger !== null ? options.logger : createLogger({ level: options.logger ?? (process.env.SAMSA_LOG_LEVEL || 'warn'), pretty: false, stream: 'stderr' });
  const broker = new Broker(config, log);
  await broker.start();
  try {
    // A test's first request after a restart on the same dataDir would otherwise meet a coordinator
    // still loading: kafkajs's admin.fetchOffsets, for one, does not retry COORDINATOR_LOAD_IN_PROGRESS.
    await broker.coordinatorsLoaded();
    const { host, port } = broker.advertised;
    // An IPv6 address in brackets, as Kafka's Utils.formatAddress writes it.
    const bootstrap = `${host.includes(':') ? `[${host}]` : host}:${port}`;
    log.info({ version: VERSION, bootstrap }, 'embedded broker started');
    return { bootstrap, host, port, broker, stop: () => broker.stop() };
  } catch (e) {
    // The caller gets no handle to stop it with: a broker left listening kept the process from exiting.
    await broker.stop().catch(() => {});
    throw e;
  }
}
