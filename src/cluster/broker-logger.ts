/**
 * The BROKER_LOGGER config resource (KIP-412): log levels by logger name. Samsa has one logger,
 * "root", whose level maps onto pino's; changes last until the broker stops, as in Kafka.
 */
import { ErrorCode } from '../../protocol/error-codes.js';
import type { Logger } from '../logger.js';
import { AlterOp, type AlterableConfig, type ApiError } from './config-changes.js';

export const ROOT_LOGGER = 'root';
const LEVELS = ['DEBUG', 'ERROR', 'FATAL', 'INFO', 'TRACE', 'WARN'];

/** The log4j name of the logger's current level. */
export function loggerLevel(log: Logger): string {
  return log.level === 'silent' ? 'OFF' : log.level.toUpperCase();
}

/** Kafka's RuntimeLoggerManager checks; null when every operation is acceptable. */
export function loggerChangeError(ops: readonly AlterableConfig[]): ApiError | null {
  const invalidConfig = (m: string): ApiError => ({ errorCode: ErrorCode.INVALID_CONFIG, errorMessage: m });
  const invalidRequest = (m: string): ApiError => ({ errorCode: ErrorCode.INVALID_REQUEST, errorMessage: m });
  for (const op of ops) {
    switch (op.configOperation) {
      case AlterOp.SET:
        if (op.name !== ROOT_LOGGER) return invalidConfig(`Logger ${op.name} does not exist!`);
        if (!LEVELS.includes(op.value ?? '')) {
          return invalidConfig(`Cannot set the log level of ${op.name} to ${op.value} as it is not a supported log level. Valid log levels are ${LEVELS.join(', ')}`);
        }
        break;
      case AlterOp.DELETE:
        if (op.name !== ROOT_LOGGER) return invalidConfig(`Logger ${op.name} does not exist!`);
        return invalidRequest(`Removing the log level of the ${ROOT_LOGGER} logger is not allowed`);
      case AlterOp.APPEND:
      case AlterOp.SUBTRACT:
        return invalidRequest(`${op.configOperation === AlterOp.APPEND ? 'APPEND' : 'SUBTRACT'} operation is not allowed for the BROKER_LOGGER resource`);
      default:
        return invalidRequest(`Unknown operation type ${op.configOperation} is not allowed for the BROKER_LOGGER resource`);
    }
  }
  return null;
}

export function applyLoggerChanges(log: Logger, ops: readonly AlterableConfig[]): void {
  for (const op of ops) {
    if (op.configOperation === AlterOp.SET && op.name === ROOT_LOGGER) {
      log.level = op.value === 'FATAL' ? 'fatal' : op.value!.toLowerCase();
      log.warn({ logger: op.name, logLevel: op.value }, 'log level changed');
    }
  }
}
