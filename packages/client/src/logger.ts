/**
 * The logging surface the client needs: a subset of pino's Logger, so a pino instance can be
 * passed as is, while the client itself takes no logging dependency.
 */
export interface Logger {
  debug(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

/** A logger that drops everything: the default, because a library must not write to stdout unasked. */
export const SILENT_LOGGER: Logger = Object.freeze({
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
});

/** The time source of the client; injected so tests can control what "now" is. */
export interface Clock {
  nowMs(): number;
}

/** Wall-clock time: the default clock. */
export const SYSTEM_CLOCK: Clock = Object.freeze({ nowMs: () => Date.now() });
