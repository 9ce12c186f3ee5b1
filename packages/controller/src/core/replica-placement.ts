import { RunnelError } from '@runnel/protocol';
import { assert } from './assert.js';
import type { Random } from './random.js';

// Replica assignment for new partitions.
//
// Kafka's AdminUtils round-robin (first replica at (p + start) % n, followers at a shift that moves
// every n partitions) balances only whole rounds of n partitions: 2 partitions of RF 3 on 6 brokers
// put 2 replicas on one broker and none on two others. Runnel keeps Kafka's shape (a random start
// and a random follower shift, so clusters do not all pile their first partitions on broker 0) but
// places leaders round-robin and followers on the brokers with the most unfilled replica quota,
// ties broken by the rotation. Rack awareness comes first when
// racks are set: a follower goes to a rack the partition does not use yet while one is left, and the
// broker order alternates racks as in Kafka's rack-aware assignment.

export interface PlacementBroker {
  brokerId: number;
  rack: string | null;
}

export interface PlacementRequest {
  numPartitions: number;
  replicationFactor: number;
  /** Index of the first new partition (CreatePartitions continues the rotation where the topic ended). */
  startPartition?: number;
}

/** Broker order that alternates racks: r1b1, r2b1, r3b1, r1b2, ... (brokers without a rack form one group). */
export function rackAlternatedOrder(brokers: readonly PlacementBroker[]): PlacementBroker[] {
  const byRack = new Map<string, PlacementBroker[]>();
  for (const broker of [...brokers].sort((a, b) => a.brokerId - b.brokerId)) {
    const key = broker.rack ?? '';
    const group = byRack.get(key) ?? [];
    group.push(broker);
    byRack.set(key, group);
  }
  const groups = [...byRack.keys()].sort().map((key) => byRack.get(key) as PlacementBroker[]);
  const order: PlacementBroker[] = [];
  const depth = Math.max(0, ...groups.map((g) => g.length));
  for (let i = 0; i < depth; i++) {
    for (const group of groups) {
      const broker = group[i];
      if (broker !== undefined) order.push(broker);
    }
  }
  return order;
}

/**
 * Replicas for each new partition, first replica = preferred leader. Brokers must be the usable
 * ones (unfenced, not shutting down); an RF above their count is INVALID_REPLICATION_FACTOR.
 */
export function placeReplicas(brokers: readonly PlacementBroker[], request: PlacementRequest, random: Random): number[][] | RunnelError {
  const { numPartitions, replicationFactor } = request;
  const startPartition = request.startPartition ?? 0;
  const n = brokers.length;
  if (!Number.isInteger(replicationFactor) || replicationFactor <= 0 || replicationFactor > n) {
    return new RunnelError('INVALID_REPLICATION_FACTOR', `replication factor ${replicationFactor} is larger than the number of live brokers (${n})`);
  }
  assert(Number.isInteger(numPartitions) && numPartitions >= 0, `placement of ${numPartitions} partitions`);
  assert(new Set(brokers.map((b) => b.brokerId)).size === n, 'placement brokers must be distinct');

  const order = rackAlternatedOrder(brokers);
  const rackAware = order.some((b) => b.rack !== null);
  const start = random.int(n);
  const followerShift = n > 1 ? random.int(n - 1) : 0;
  // Leaders go round-robin from the random start, so leader counts differ by at most one. Each
  // broker then gets a quota of replicas (total / n, the remainder going to brokers that lead more),
  // and followers go where the most quota is left: filling the largest remaining demand first is
  // what keeps per-broker totals within one for every partition count, not only whole rounds.
  const leaders = Array.from({ length: numPartitions }, (_, i) => (start + startPartition + i) % n);
  const leaderCounts = new Array<number>(n).fill(0);
  for (const leader of leaders) leaderCounts[leader] = (leaderCounts[leader] as number) + 1;
  const distance = (index: number, pivot: number): number => (((index - pivot) % n) + n) % n;
  const totalReplicas = numPartitions * replicationFactor;
  const quotas = new Array<number>(n).fill(Math.floor(totalReplicas / n));
  const byLoad = Array.from({ length: n }, (_, idx) => idx).sort(
    (a, b) => (leaderCounts[b] as number) - (leaderCounts[a] as number) || distance(a, start) - distance(b, start),
  );
  for (const idx of byLoad.slice(0, totalReplicas % n)) quotas[idx] = (quotas[idx] as number) + 1;
  const remaining = quotas.map((quota, idx) => quota - (leaderCounts[idx] as number));

  const assignments: number[][] = [];
  for (let i = 0; i < numPartitions; i++) {
    const p = startPartition + i;
    const leader = leaders[i] as number;
    const chosen = [leader];
    const racksUsed = new Set([order[leader]?.rack]);
    // The follower pivot moves once per round of n partitions, so a broker's followers differ
    // from round to round and a broker loss spreads its leadership over many survivors.
    const followerPivot = (leader + 1 + ((followerShift + Math.floor(p / n)) % Math.max(1, n - 1))) % n;
    for (let j = 1; j < replicationFactor; j++) {
      const next = pickBest(n, (idx) => {
        if (chosen.includes(idx)) return null;
        const rackPenalty = rackAware && racksUsed.has(order[idx]?.rack) ? 1 : 0;
        return [rackPenalty, -(remaining[idx] as number), distance(idx, followerPivot)];
      });
      chosen.push(next);
      racksUsed.add(order[next]?.rack);
      remaining[next] = (remaining[next] as number) - 1;
    }
    assignments.push(chosen);
  }
  rebalanceFollowers(assignments, n, (idx) => order[idx]?.rack ?? null, rackAware);
  return assignments.map((chosen) => chosen.map((idx) => (order[idx] as PlacementBroker).brokerId));
}

/**
 * Greedy filling can strand quota when the brokers left are excluded as a partition's own leader;
 * moving one follower slot from a most-loaded to a least-loaded broker repairs that. Leaders never
 * move, replicas stay distinct, racks are not doubled up, and the loop is bounded by the slot count.
 */
function rebalanceFollowers(assignments: number[][], n: number, rackOf: (idx: number) => string | null, rackAware: boolean): void {
  const counts = new Array<number>(n).fill(0);
  for (const chosen of assignments) for (const idx of chosen) counts[idx] = (counts[idx] as number) + 1;
  const movesMax = assignments.length * n;
  for (let move = 0; move < movesMax; move++) {
    const low = counts.indexOf(Math.min(...counts));
    const highest = Math.max(...counts);
    if (highest - (counts[low] as number) <= 1) return;
    let moved = false;
    for (let high = 0; high < n && !moved; high++) {
      if (counts[high] !== highest) continue;
      for (const chosen of assignments) {
        const slot = chosen.indexOf(high);
        if (slot <= 0 || chosen.includes(low)) continue;
        const racks = chosen.filter((_, i) => i !== slot).map(rackOf);
        if (rackAware && racks.includes(rackOf(low)) && !racks.includes(rackOf(high))) continue;
        chosen[slot] = low;
        counts[high] = (counts[high] as number) - 1;
        counts[low] = (counts[low] as number) + 1;
        moved = true;
        break;
      }
    }
    if (!moved) return;
  }
}

/** Index with the lexicographically smallest key; null keys are excluded. */
function pickBest(n: number, keyOf: (index: number) => number[] | null): number {
  let best = -1;
  let bestKey: number[] | null = null;
  for (let idx = 0; idx < n; idx++) {
    const key = keyOf(idx);
    if (key === null) continue;
    if (bestKey === null || compareKeys(key, bestKey) < 0) {
      best = idx;
      bestKey = key;
    }
  }
  assert(best >= 0, 'no broker left to place a replica on');
  return best;
}

function compareKeys(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < a.length; i++) {
    const diff = (a[i] as number) - (b[i] as number);
    if (diff !== 0) return diff;
  }
  return 0;
}
