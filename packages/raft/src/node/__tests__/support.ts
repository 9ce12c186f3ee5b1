// Helpers shared by the node driver's tests (kept out of dist by the tsconfig's __tests__ exclude).

import { setTimeout as sleep } from 'node:timers/promises';
import type { Entry } from '../../core/types.js';
import type { StateMachine } from '../state-machine.js';

/** A state machine that records every applied payload as text, in order. */
export class RecordingStateMachine implements StateMachine {
  values: string[] = [];
  restores = 0;

  apply(entry: Entry): void {
    this.values.push(new TextDecoder().decode(entry.data));
  }

  snapshot(): Uint8Array {
    return new TextEncoder().encode(JSON.stringify(this.values));
  }

  restore(data: Uint8Array): void {
    this.restores++;
    this.values = JSON.parse(new TextDecoder().decode(data)) as string[];
  }
}

export const text = (value: string): Uint8Array => new TextEncoder().encode(value);

/** Polls `probe` until it returns a value other than undefined; fails with `what` after `timeoutMs`. */
export async function waitFor<T>(what: string, timeoutMs: number, probe: () => T | undefined): Promise<T> {
  const pollMs = 10;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    await sleep(pollMs);
  }
  const detail = lastError instanceof Error ? `: ${lastError.message}` : '';
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`);
}
