import { describe, expect, it } from 'vitest';
import type { Message } from '../core/types.js';
import { PERFECT_NETWORK, SimNetwork } from './network.js';
import { Prng } from './prng.js';

function timeoutNow(from: number, to: number, term: number): Message {
  return { type: 'timeout-now', from, to, term };
}

function drain(network: SimNetwork, steps: number): Message[][] {
  return Array.from({ length: steps }, () => network.advance());
}

describe('SimNetwork', () => {
  it('delivers after the configured delay, in send order on a perfect network', () => {
    const network = new SimNetwork(new Prng(1));
    network.send(timeoutNow(1, 2, 1));
    network.send(timeoutNow(1, 2, 2));
    const [first] = drain(network, 1);
    expect(first!.map((m) => m.term)).toEqual([1, 2]);
    expect(network.stats.delivered).toBe(2);
  });

  it('drops messages across partition groups, including ones already in flight, until healed', () => {
    const network = new SimNetwork(new Prng(1));
    network.setFaults({ ...PERFECT_NETWORK, minDelaySteps: 2, maxDelaySteps: 2 });
    network.send(timeoutNow(1, 3, 1));
    network.partition([[1, 2], [3]]);
    network.send(timeoutNow(1, 3, 2));
    network.send(timeoutNow(1, 2, 3));
    const delivered = drain(network, 2).flat();
    expect(delivered.map((m) => m.term)).toEqual([3]);
    expect(network.stats.droppedPartition).toBe(2);
    network.heal();
    network.send(timeoutNow(1, 3, 4));
    expect(drain(network, 2).flat().map((m) => m.term)).toEqual([4]);
  });

  it('drops, duplicates and reorders deterministically for a given seed', () => {
    const run = (seed: number) => {
      const network = new SimNetwork(new Prng(seed));
      network.setFaults({ dropProbability: 0.2, duplicateProbability: 0.2, minDelaySteps: 1, maxDelaySteps: 5 });
      for (let term = 1; term <= 200; term++) network.send(timeoutNow(1, 2, term));
      return { order: drain(network, 6).flat().map((m) => m.term), stats: { ...network.stats } };
    };
    const a = run(3);
    expect(run(3)).toEqual(a);
    expect(a.stats.droppedRandom).toBeGreaterThan(0);
    expect(a.stats.duplicated).toBeGreaterThan(0);
    const sorted = [...a.order].sort((x, y) => x - y);
    expect(a.order).not.toEqual(sorted);
  });

  it('bounds the in-flight queue by evicting the oldest messages and counting them', () => {
    const network = new SimNetwork(new Prng(1), 10);
    for (let term = 1; term <= 25; term++) network.send(timeoutNow(1, 2, term));
    expect(network.inFlightCount).toBe(10);
    expect(network.stats.droppedOverflow).toBe(15);
    expect(drain(network, 1).flat().map((m) => m.term)).toEqual([16, 17, 18, 19, 20, 21, 22, 23, 24, 25]);
  });
});
