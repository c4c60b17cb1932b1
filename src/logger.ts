import { pino, type Logger as PinoLogger } from 'pino';
import type { LogLevel } from './config.js';

/** Structured JSON logger (pino); one per process, children per component. */
export type Logger = PinoLogger;

/** Creates the process logger at `level`. */
export function createLogger(level: LogLevel): Logger {
  return pino({
    level,
    base: { service: 'realtime-graphql' },
    redact: ['req.headers.authorization', 'connectionParams', '*.token'],
  });
}
