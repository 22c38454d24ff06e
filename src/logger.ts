/** The broker's structured logger: pino, JSON by default, readable when a terminal is attached. */
import { createRequire } from 'node:module';
import { pino, type Logger } from 'pino';
import { ConfigError } from './config.js';
import { stderrSink, stdoutSink } from './stdout-sink.js';

export type { Logger };

export interface LoggerOptions {
  level?: string;
  /** Human-readable lines instead of JSON; defaults to true when stdout is a terminal. */
  pretty?: boolean;
  /** Where JSON lines go (pretty lines always go to stdout); default stdout. */
  stream?: 'stdout' | 'stderr';
}

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? (process.env.SAMSA_LOG_LEVEL || 'info');
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new ConfigError(`log level must be one of ${LOG_LEVELS.join(', ')}, not "${level}"${options.level === undefined ? ' (SAMSA_LOG_LEVEL)' : ''}`);
  }
  const pretty = options.pretty ?? process.stdout.isTTY === true;
  if (pretty) {
    // Loaded only when wanted, and as a plain stream rather than a worker-thread transport:
    // it keeps start-up fast and memory low.
    const prettyStream = createRequire(import.meta.url)('pino-pretty') as (o: object) => NodeJS.WritableStream;
    return pino({ level }, prettyStream({ colorize: true, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname,name', singleLine: true, sync: true }));
  }
  return pino({ level, base: { name: 'samsa' } }, options.stream === 'stderr' ? stderrSink() : stdoutSink());
}

/** A logger that discards everything (tests, and `logger: 'silent'`). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
