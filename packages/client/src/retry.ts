// The one retry helper of the client: exponential backoff with jitter, bounded in attempts and in
// time. Producer, consumer, admin and metadata all retry through it so that one setting governs them.

import { RunnelError } from '@runnel/protocol';

/** How often and how patiently a failed request is retried. */
export interface RetryOptions {
  /** Retries after the first attempt. Default 10. */
  retries?: number;
  /** Backoff before the first retry. Default 100 ms. */
  initialRetryTimeMs?: number;
  /** Cap on one backoff. Default 500 ms. */
  maxRetryTimeMs?: number;
  /** Backoff growth per retry. Default 2. */
  multiplier?: number;
  /** Jitter as a fraction of the backoff, applied both ways. Default 0.2. */
  factor?: number;
}

/** RetryOptions with every default filled in. */
export type ResolvedRetryOptions = Required<RetryOptions>;

/**
 * Defaults: 100 ms growing by 2x, capped at 500 ms, +-20 % jitter, ten retries. The cap is what keeps
 * a failover short: a request to a dead leader fails at once, and the client only learns the new
 * leader from the metadata refresh of a later failure, so it waits up to about two backoffs after the
 * new leader is elected. KafkaJS's 30 s cap would turn that into many seconds; Kafka caps at 1 s
 * (retry.backoff.max.ms); 500 ms costs a few more requests per second to a dead broker and takes
 * about a second off the pause. Ten retries still span a broker session timeout.
 */
export const DEFAULT_RETRY: Readonly<ResolvedRetryOptions> = Object.freeze({
  retries: 10,
  initialRetryTimeMs: 100,
  maxRetryTimeMs: 500,
  multiplier: 2,
  factor: 0.2,
});

/** Fills defaults and rejects settings that would make retry loops unbounded. */
export function resolveRetryOptions(options: RetryOptions = {}): ResolvedRetryOptions {
  const resolved = { ...DEFAULT_RETRY, ...stripUndefined(options) };
  if (!Number.isInteger(resolved.retries) || resolved.retries < 0) throw new RangeError(`retry.retries must be a non-negative integer, got ${resolved.retries}`);
  if (!(resolved.initialRetryTimeMs > 0)) throw new RangeError(`retry.initialRetryTimeMs must be positive, got ${resolved.initialRetryTimeMs}`);
  if (!(resolved.maxRetryTimeMs >= resolved.initialRetryTimeMs)) throw new RangeError('retry.maxRetryTimeMs must be at least initialRetryTimeMs');
  if (!(resolved.multiplier >= 1)) throw new RangeError(`retry.multiplier must be at least 1, got ${resolved.multiplier}`);
  if (!(resolved.factor >= 0 && resolved.factor < 1)) throw new RangeError(`retry.factor must be in [0, 1), got ${resolved.factor}`);
  return resolved;
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * Backoff before retry number `attempt` (0-based): initial * multiplier^attempt, capped, then moved
 * by up to +-factor at random so that clients failing together do not retry in lockstep.
 * `random` returns a number in [0, 1).
 */
export function backoffMs(options: ResolvedRetryOptions, attempt: number, random: () => number): number {
  const base = Math.min(options.initialRetryTimeMs * options.multiplier ** attempt, options.maxRetryTimeMs);
  const jitter = base * options.factor * (random() * 2 - 1);
  return Math.max(0, Math.min(Math.round(base + jitter), options.maxRetryTimeMs));
}

/** Sleeps for `ms`; injectable so tests can run backoffs without waiting. */
export type Sleep = (ms: number) => Promise<void>;

/** Real timers: the default Sleep. */
export const realSleep: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** What a retry loop needs besides its options. */
export interface RetryContext {
  random: () => number;
  sleep: Sleep;
  nowMs: () => number;
}

/** Per-call knobs of {@link retry}. */
export interface RetryCallOptions {
  /** Give up once this much time has passed since the first attempt (the delivery timeout). */
  budgetMs?: number;
  /** Called before each backoff with the error that caused it, e.g. to refresh metadata. */
  onRetry?: (error: RunnelError, attempt: number) => void | Promise<void>;
  /** What is being retried, for the final error's message. */
  operation?: string;
}

/** Normalises anything thrown into a RunnelError so that the retry decision reads flags only. */
export function asRunnelError(error: unknown): RunnelError {
  if (error instanceof RunnelError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new RunnelError('UNKNOWN_SERVER_ERROR', message, { cause: error });
}

/**
 * Runs `fn` until it succeeds, a non-retriable error occurs, the retries are used up, or the
 * budget is spent. Only RunnelErrors flagged `retriable` are retried; the caller sees the last
 * error itself, or REQUEST_TIMED_OUT (with the last error as `cause`) when the budget ran out.
 */
export async function retry<T>(
  fn: (attempt: number) => Promise<T>,
  options: ResolvedRetryOptions,
  context: RetryContext,
  call: RetryCallOptions = {},
): Promise<T> {
  const startedMs = context.nowMs();
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (thrown) {
      const error = asRunnelError(thrown);
      if (!error.retriable || attempt >= options.retries) throw error;
      const waitMs = backoffMs(options, attempt, context.random);
      if (call.budgetMs !== undefined && context.nowMs() + waitMs - startedMs >= call.budgetMs) {
        throw new RunnelError(
          'REQUEST_TIMED_OUT',
          `${call.operation ?? 'request'} gave up after ${attempt + 1} attempts within ${call.budgetMs} ms; last error ${error.codeName}: ${error.message}`,
          { cause: error, details: { attempts: attempt + 1, lastErrorCode: error.codeName } },
        );
      }
      await call.onRetry?.(error, attempt);
      await context.sleep(waitMs);
    }
  }
}
