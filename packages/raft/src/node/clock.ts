/** Wall-clock time in milliseconds, injected so tests can control it. */
export interface Clock {
  nowMs(): number;
}

export const SYSTEM_CLOCK: Clock = Object.freeze({ nowMs: () => Date.now() });
