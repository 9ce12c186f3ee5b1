import { describe, expect, it } from 'vitest';
import { RunnelError } from '@runnel/protocol';
import { backoffMs, resolveRetryOptions, retry } from './retry.js';

const options = resolveRetryOptions({ retries: 4, initialRetryTimeMs: 100, maxRetryTimeMs: 1_000 });

function fakeTime(): { nowMs: () => number; sleep: (ms: number) => Promise<void>; slept: number[] } {
  let now = 0;
  const slept: number[] = [];
  return {
    nowMs: () => now,
    sleep: async (ms) => {
      slept.push(ms);
      now += ms;
    },
    slept,
  };
}

describe('retry', () => {
  it('backs off exponentially up to the cap, jittered within the factor', () => {
    const mid = (attempt: number): number => backoffMs(options, attempt, () => 0.5);
    expect([0, 1, 2, 3, 4].map(mid)).toEqual([100, 200, 400, 800, 1_000]);
    expect(backoffMs(options, 0, () => 0)).toBe(100 * (1 - options.factor));
    expect(backoffMs(options, 0, () => 0.999_999)).toBeLessThanOrEqual(100 * (1 + options.factor));
  });

  it('retries retriable errors and returns the first success', async () => {
    const time = fakeTime();
    let calls = 0;
    const result = await retry(
      async () => {
        calls++;
        if (calls < 3) throw new RunnelError('NOT_LEADER_OR_FOLLOWER', 'moved');
        return 'ok';
      },
      options,
      { random: () => 0.5, sleep: time.sleep, nowMs: time.nowMs },
    );
    expect(result).toBe('ok');
    expect(time.slept).toEqual([100, 200]);
  });

  it('does not retry a non-retriable error', async () => {
    const time = fakeTime();
    let calls = 0;
    const error = await retry(
      async () => {
        calls++;
        throw new RunnelError('TOPIC_AUTHORIZATION_FAILED', 'no');
      },
      options,
      { random: () => 0.5, sleep: time.sleep, nowMs: time.nowMs },
    ).catch((e: unknown) => e);
    expect(calls).toBe(1);
    expect((error as RunnelError).codeName).toBe('TOPIC_AUTHORIZATION_FAILED');
  });

  it('gives up after the retries with the last error', async () => {
    const time = fakeTime();
    let calls = 0;
    const error = await retry(
      async () => {
        calls++;
        throw new RunnelError('NETWORK_EXCEPTION', `down ${calls}`);
      },
      options,
      { random: () => 0.5, sleep: time.sleep, nowMs: time.nowMs },
    ).catch((e: unknown) => e);
    expect(calls).toBe(options.retries + 1);
    expect((error as RunnelError).message).toBe(`down ${options.retries + 1}`);
  });

  it('stops at the time budget with REQUEST_TIMED_OUT carrying the last error', async () => {
    const time = fakeTime();
    const error = await retry(
      async () => {
        throw new RunnelError('NOT_LEADER_OR_FOLLOWER', 'moved');
      },
      options,
      { random: () => 0.5, sleep: time.sleep, nowMs: time.nowMs },
      { budgetMs: 250, operation: 'produce' },
    ).catch((e: unknown) => e);
    expect((error as RunnelError).codeName).toBe('REQUEST_TIMED_OUT');
    expect(((error as RunnelError).cause as RunnelError).codeName).toBe('NOT_LEADER_OR_FOLLOWER');
    expect(time.slept).toEqual([100]);
  });
});
