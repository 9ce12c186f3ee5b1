import { describe, expect, it } from 'vitest';
import { seededRandom } from './random.js';
import { placeReplicas, rackAlternatedOrder, type PlacementBroker } from './replica-placement.js';

const brokersOf = (n: number, rackOf: (i: number) => string | null = () => null): PlacementBroker[] =>
  Array.from({ length: n }, (_, i) => ({ brokerId: i + 1, rack: rackOf(i) }));

function place(brokers: PlacementBroker[], numPartitions: number, replicationFactor: number, seed: number): number[][] {
  const result = placeReplicas(brokers, { numPartitions, replicationFactor }, seededRandom(seed));
  if (!Array.isArray(result)) throw result;
  return result;
}

function spread(counts: Map<number, number>): number {
  return Math.max(...counts.values()) - Math.min(...counts.values());
}

function countsOf(brokers: PlacementBroker[], assignment: number[][], leadersOnly: boolean): Map<number, number> {
  const counts = new Map(brokers.map((b) => [b.brokerId, 0]));
  for (const replicas of assignment) {
    for (const id of leadersOnly ? replicas.slice(0, 1) : replicas) counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

describe('replica placement', () => {
  it('gives every partition RF distinct brokers', () => {
    for (const replicas of place(brokersOf(5), 40, 3, 1)) {
      expect(replicas).toHaveLength(3);
      expect(new Set(replicas).size).toBe(3);
    }
  });

  it('spreads leaders within one of each other and RF-3 replicas within one, on 3..6 brokers and any partition count', () => {
    const failures: string[] = [];
    for (let n = 3; n <= 6; n++) {
      for (let partitions = 1; partitions <= 50; partitions++) {
        for (let seed = 0; seed < 10; seed++) {
          const brokers = brokersOf(n);
          const assignment = place(brokers, partitions, 3, seed);
          const leaderSpread = spread(countsOf(brokers, assignment, true));
          const replicaSpread = spread(countsOf(brokers, assignment, false));
          if (leaderSpread > 1 || replicaSpread > 1) failures.push(`n=${n} p=${partitions} seed=${seed}: ${leaderSpread}/${replicaSpread}`);
        }
      }
    }
    expect(failures).toEqual([]);
  });

  it('keeps totals within one for other replication factors too (1..4 on up to 8 brokers)', () => {
    const failures: string[] = [];
    for (let n = 1; n <= 8; n++) {
      for (let rf = 1; rf <= Math.min(n, 4); rf++) {
        for (let partitions = 1; partitions <= 30; partitions++) {
          const brokers = brokersOf(n);
          const assignment = place(brokers, partitions, rf, n * 100 + partitions);
          if (spread(countsOf(brokers, assignment, false)) > 1) failures.push(`n=${n} rf=${rf} p=${partitions}`);
        }
      }
    }
    expect(failures).toEqual([]);
  });

  it('is deterministic for a seed and varies the start with the seed', () => {
    const brokers = brokersOf(5);
    expect(place(brokers, 12, 3, 42)).toEqual(place(brokers, 12, 3, 42));
    const firstLeaders = new Set(Array.from({ length: 20 }, (_, seed) => place(brokers, 1, 3, seed)[0]?.[0]));
    expect(firstLeaders.size).toBeGreaterThan(1);
  });

  it('varies the followers of a broker, so its loss spreads over several survivors', () => {
    const brokers = brokersOf(6);
    const followersOfLeader1 = new Set<number>();
    for (const replicas of place(brokers, 60, 2, 3)) if (replicas[0] === 1) followersOfLeader1.add(replicas[1] as number);
    expect(followersOfLeader1.size).toBeGreaterThan(1);
  });

  it('puts the replicas of a partition on distinct racks when there are enough racks', () => {
    const brokers = brokersOf(6, (i) => `rack-${i % 3}`);
    for (const replicas of place(brokers, 30, 3, 5)) {
      const racks = replicas.map((id) => brokers.find((b) => b.brokerId === id)?.rack);
      expect(new Set(racks).size).toBe(3);
    }
  });

  it('uses as many racks as exist when RF exceeds the rack count', () => {
    const brokers = brokersOf(4, (i) => (i < 2 ? 'a' : 'b'));
    for (const replicas of place(brokers, 10, 3, 9)) {
      const racks = new Set(replicas.map((id) => brokers.find((b) => b.brokerId === id)?.rack));
      expect(racks.size).toBe(2);
    }
  });

  it('orders brokers alternating racks, like Kafka', () => {
    const brokers = [
      { brokerId: 1, rack: 'a' },
      { brokerId: 2, rack: 'a' },
      { brokerId: 3, rack: 'b' },
      { brokerId: 4, rack: 'c' },
      { brokerId: 5, rack: 'b' },
    ];
    expect(rackAlternatedOrder(brokers).map((b) => b.brokerId)).toEqual([1, 3, 4, 2, 5]);
  });

  it('refuses a replication factor above the broker count', () => {
    const result = placeReplicas(brokersOf(2), { numPartitions: 1, replicationFactor: 3 }, seededRandom(1));
    expect(Array.isArray(result)).toBe(false);
    expect((result as { codeName: string }).codeName).toBe('INVALID_REPLICATION_FACTOR');
  });
});
