/** The logging the disk engine needs: pino's (obj, msg) calling convention, nothing more. */
export interface StorageLogger {
  debug?(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

const noop = (): void => undefined;
export const silentLogger: StorageLogger = { info: noop, warn: noop, error: noop };
