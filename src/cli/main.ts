/** The `samsa` command. `samsa` alone (or `samsa start`) runs a broker on localhost:9092 with data in ./data. */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Broker, VERSION } from '../broker.js';
import { BROKER_DEFAULTS, BrokerConfig, ConfigError, type Properties, clientListener, formatListeners, overrideListener, parseListeners, parseProperties } from '../config.js';
import { LOG_LEVELS, type Logger, createLogger } from '../logger.js';
import { flushStdoutLog } from '../stdout-sink.js';
import { StorageRefusedError } from '../storage/storage.js';
import cli from './yargs.cjs';

interface StartArgs {
  port?: string;
  host?: string;
  'advertised-listener'?: string;
  'data-dir'?: string;
  storage?: string;
  'node-id'?: string;
  config?: string;
  set?: string[];
  'log-level'?: string;
}

/** Config file first, then the dedicated flags, then --set: the most specific wins. */
export function propertiesFromArgs(args: StartArgs): Properties {
  const props: Properties = {};
  // Read as strings: yargs would take "" for 0 and "1e3" for 1000.
  const port = args.port === undefined ? undefined : /^\d{1,5}$/.test(args.port) && Number(args.port) <= 65535 ? Number(args.port) : NaN;
  if (Number.isNaN(port)) throw new ConfigError(`--port expects a port number (0 to 65535), not "${args.port}"`);
  if (args['node-id'] !== undefined && !/^-?\d+$/.test(args['node-id'])) throw new ConfigError(`--node-id expects an integer, not "${args['node-id']}"`);
  if (args.config) Object.assign(props, parseProperties(readConfigFile(args.config)));
  if (args.host !== undefined || port !== undefined) overrideListener(props, args.host, port);
  const advertisedInConfig = props['advertised.listeners'];
  if (args['advertised-listener']) props['advertised.listeners'] = args['advertised-listener'];
  if (args['data-dir']) props['log.dirs'] = args['data-dir'];
  if (args.storage) props['samsa.storage'] = args.storage;
  if (args['node-id'] !== undefined) props['node.id'] = args['node-id'];
  for (const kv of args.set ?? []) {
    const i = kv.indexOf('=');
    if (i <= 0) throw new ConfigError(`--set expects key=value, got "${kv}"`);
    props[kv.slice(0, i).trim()] = kv.slice(i + 1).trim();
  }
  // --advertised-listener host:port names the first client listener's address, whatever that
  // listener is called (known only now: --set may have named the listeners); the config's
  // addresses for the other listeners stay.
  const advertised = args['advertised-listener'];
  if (advertised && props['advertised.listeners'] === advertised && !advertised.includes('://')) {
    const name = clientListener({ ...BROKER_DEFAULTS, ...props }).name;
    const others = advertisedInConfig ? parseListeners(advertisedInConfig).filter((l) => l.name !== name) : [];
    props['advertised.listeners'] = [`${name}://${advertised}`, ...others.map((l) => formatListeners([l]))].join(',');
  }
  return props;
}


/**
 * Under `npm start` or `npx samsa`, npm's signal reaches the shell npm runs the command with, not
 * the broker: the shell dies and the broker, orphaned, would go on holding its port and data
 * directory. So a broker started so stops as if signalled when its parent (that shell, which
 * waits for it) goes. Other npm scripts may start it in the background on purpose (`samsa &`),
 * their shell exiting at once: those are left alone.
 */
function watchNpm(stop: () => void): void {
  const npmStart = process.env.npm_lifecycle_event === 'start' || process.env.npm_command === 'exec';
  if (!npmStart) return;
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    stop();
  }, 500);
  timer.unref();
}

/** A flag given twice takes its last value, as most commands do (--set accumulates). */
const lastValue = (v: unknown): unknown => (Array.isArray(v) ? v[v.length - 1] : v);

function readConfigFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read the config file ${path}: ${(e as Error).message}`);
  }
}

/**
 * What a start-up failure is logged with: the message alone for what the system refused (a port
 * in use, a data directory that is a file …), the stack too for anything else (a bug).
 */
function failure(err: unknown): object {
  const e = err as NodeJS.ErrnoException;
  if (e instanceof StorageRefusedError) return { error: e.message };
  return e instanceof Error && typeof e.code === 'string' && typeof e.syscall === 'string' ? { error: e.message, code: e.code } : { err };
}

async function start(args: StartArgs): Promise<void> {
  const startedAt = performance.now();
  let log: Logger;
  let config: BrokerConfig;
  let broker: Broker;
  try {
    log = createLogger({ level: args['log-level'] });
    config = new BrokerConfig(propertiesFromArgs(args));
    broker = new Broker(config, log);
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(`samsa: ${e.message}`);
      process.exit(2);
    }
    throw e;
  }
  let signals = 0;
  let running = false;
  let stopWhenRunning: string | null = null;
  const stop = (signal: string) => {
    log.info({ signal }, 'shutting down');
    const exit = (code: number) => {
      process.exitCode = code;
      return flushStdoutLog().then(() => process.exit(code));
    };
    broker.stop().then(() => exit(0), (err: unknown) => {
      log.error({ err }, 'shutdown failed');
      return exit(1);
    });
  };
  const shutdown = (signal: string) => {
    if (++signals > 1) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exitCode = 1;
      void flushStdoutLog(100).then(() => process.exit(1));
      return;
    }
    if (running) return stop(signal);
    // Start-up (a recovery after a crash can take a while) finishes first, so the data is left clean.
    log.info({ signal }, 'stopping once start-up is done');
    stopWhenRunning = signal;
  };
  // In place before start-up, and so before "listening" is logged: whoever waits for that line may signal at once.
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  // A closed terminal: stop cleanly, as the JVM's shutdown hooks do for Kafka.
  process.on('SIGHUP', () => shutdown('SIGHUP'));
  // (After Ctrl-C in a terminal npm goes too: that is not a second signal.)
  watchNpm(() => signals === 0 && shutdown('npm exited'));
  try {
    await broker.start();
  } catch (err) {
    log.fatal(failure(err), `broker failed to start: ${(err as Error).message}`);
    // The log may go to a file (npm start > broker.log): the reason goes to the terminal too, as
    // a refused setting does.
    if (!process.stdout.isTTY) console.error(`samsa: broker failed to start: ${(err as Error).message}`);
    process.exitCode = 1;
    await flushStdoutLog();
    process.exit(1);
  }
  running = true;
  const address = (e: { host: string; port: number }) => `${e.host.includes(':') ? `[${e.host}]` : e.host}:${e.port}`;
  const { host, port } = broker.bound;
  // With several client listeners (a Docker setup's PLAINTEXT and PLAINTEXT_HOST, say) each is named with the address its clients are given.
  const several = broker.listening.length > 1 ? broker.listening.map((l) => `${address(l.bound)} (${l.name}, advertised as ${address(l.advertised)})`) : null;
  log.info(
    {
      version: VERSION, listening: `${host}:${port}`, advertised: `${broker.advertised.host}:${broker.advertised.port}`,
      ...(several ? { listeners: several } : {}),
      storage: config.storage, dataDir: config.storage === 'disk' ? resolve(config.dataDir) : undefined,
      nodeId: config.nodeId, startupMs: Math.round(performance.now() - startedAt),
    },
    `Samsa ${VERSION} listening on ${several ? several.join(' and ') : `${host}:${port}`}`,
  );
  if (stopWhenRunning !== null) stop(stopWhenRunning);
}

void cli.yargs(cli.hideBin(process.argv))
  .scriptName('samsa')
  .usage('$0 [start] [options]\n\nA Kafka-compatible message broker. Existing Kafka clients connect to it unchanged.')
  .command(
    ['start', '$0'],
    'Run a broker (the default command)',
    (y) =>
      y
        .option('port', { alias: 'p', type: 'string', requiresArg: true, coerce: lastValue, describe: 'TCP port to listen on (default 9092; 0 picks a free one); of the first listener when the config names several' })
        .option('host', { type: 'string', requiresArg: true, coerce: lastValue, describe: 'Address to bind (default localhost; 0.0.0.0 for every interface); of the first listener when the config names several' })
        .option('advertised-listener', { type: 'string', requiresArg: true, coerce: lastValue, describe: 'host:port clients are told to connect to, when it differs from the bound address (the first listener\'s entry of Kafka advertised.listeners; NAME://host:port,… sets them all)' })
        .option('data-dir', { alias: 'd', type: 'string', requiresArg: true, coerce: lastValue, describe: 'Directory for the log and metadata (Kafka log.dirs; default ./data)' })
        .option('storage', { choices: ['disk', 'memory'], requiresArg: true, coerce: lastValue, describe: 'disk: durable segment files in --data-dir (default); memory: nothing survives a restart' })
        .option('node-id', { type: 'string', requiresArg: true, coerce: lastValue, describe: 'This broker\'s id in Metadata responses (Kafka node.id; default 1)' })
        .option('config', { alias: 'c', type: 'string', requiresArg: true, coerce: lastValue, describe: 'A Kafka server.properties file; its keys are read as Kafka reads them' })
        .option('set', { alias: 's', type: 'string', array: true, requiresArg: true, describe: 'Override any setting by its Kafka name, e.g. --set num.partitions=3 (repeatable)' })
        .option('log-level', { type: 'string', choices: [...LOG_LEVELS], requiresArg: true, coerce: lastValue, describe: 'Log verbosity (default info; or SAMSA_LOG_LEVEL)' })
        .example('$0', 'broker on localhost:9092, data in ./data')
        .example('$0 --port 0 --storage memory', 'throwaway broker on a free port')
        .example('$0 -c server.properties --set log.retention.hours=1', 'Kafka config file with an override'),
    (args) => start(args as StartArgs),
  )
  .version(VERSION)
  // Kebab-case keys only: an unknown --some-flag is then named once, not also as someFlag.
  .parserConfiguration({ 'camel-case-expansion': false })
  // A usage error is one line and exit code 2, as for the settings Kafka would refuse.
  .fail((message: string | undefined, err: Error | undefined) => {
    if (err && err.name !== 'YError') throw err; // not a usage error: a bug, with its stack
    console.error(`samsa: ${message ?? err?.message ?? 'invalid arguments'} (samsa --help lists the options)`);
    process.exit(2);
  })
  .strict()
  .help()
  .parseAsync();
