import { pino } from 'pino';
import type { Logger } from 'pino';
import pretty from 'pino-pretty';
import type { LogLevel } from './config.js';

export interface LoggerOptions {
  readonly level: LogLevel;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly stdoutIsTty?: boolean;
}

/**
 * JSON logs by default, so files and collectors can parse them; pretty output only when a human is
 * watching a terminal or asks for it with RUNNEL_LOG_PRETTY=1. Synchronous writes: a daemon that
 * exits on a fatal start-up error must not lose the line that says why.
 */
export function createLogger(options: LoggerOptions): Logger {
  const env = options.env ?? process.env;
  const wantsPretty = env['RUNNEL_LOG_PRETTY'] === '1' || (env['RUNNEL_LOG_PRETTY'] !== '0' && (options.stdoutIsTty ?? process.stdout.isTTY === true));
  const base = { level: options.level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime };
  if (wantsPretty) {
    return pino(base, pretty({ sync: true, colorize: options.stdoutIsTty ?? process.stdout.isTTY === true, translateTime: 'SYS:HH:MM:ss.l' }));
  }
  return pino(base, pino.destination({ dest: 1, sync: true }));
}
