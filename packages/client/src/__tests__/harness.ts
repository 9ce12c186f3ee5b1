// Shared setup of the client tests: a fake cluster, a Runnel pointed at it with short, seeded
// backoffs, and a bounded wait helper.

import { Runnel } from '../runnel.js';
import type { RunnelConfig } from '../runnel.js';
import { FakeCluster } from './fake-broker.js';
import { Prng } from '@runnel/protocol/prng';

/** A seeded float source, so jitter and sticky partition choices repeat run to run. */
export function seededRandom(seed: number): () => number {
  const prng = new Prng(seed);
  return () => prng.float();
}

export interface Harness {
  fake: FakeCluster;
  runnel: Runnel;
  close(): Promise<void>;
}

/** Starts a fake cluster and a client with fast retries; always close() it. */
export async function startHarness(options: { brokerCount?: number; seed?: number; config?: Partial<RunnelConfig> } = {}): Promise<Harness> {
  const fake = await FakeCluster.start({ brokerCount: options.brokerCount ?? 1 });
  const runnel = new Runnel({
    brokers: fake.bootstrap,
    clientId: 'client-test',
    retry: { retries: 10, initialRetryTimeMs: 10, maxRetryTimeMs: 100 },
    requestTimeoutMs: 5_000,
    random: seededRandom(options.seed ?? 1),
    ...options.config,
  });
  return {
    fake,
    runnel,
    async close() {
      runnel.close();
      await fake.stop();
    },
  };
}

/** Polls `condition` every few ms; throws after `timeoutMs` so no test waits forever. */
export async function waitFor(condition: () => boolean, timeoutMs = 5_000, what = 'condition'): Promise<void> {
  const stepMs = 5;
  for (let waitedMs = 0; waitedMs <= timeoutMs; waitedMs += stepMs) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, stepMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
