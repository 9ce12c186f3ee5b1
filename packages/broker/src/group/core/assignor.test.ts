import { Prng } from '@runnel/protocol/prng';
import { describe, expect, it } from 'vitest';
import { assignPartitions, type AssignorMember } from './assignor.js';
import { assignmentFromList, assignmentPairs, assignmentSize, assignmentToList, type Assignment } from './assignment.js';

const SEEDS = 300;

function topicsOf(prng: Prng): Map<string, number> {
  const counts = new Map<string, number>();
  const n = prng.intBetween(1, 4);
  for (let i = 0; i < n; i++) counts.set(`t${i}`, prng.intBetween(0, 12));
  return counts;
}

function owners(result: Map<string, Assignment>): Map<string, string> {
  const byPartition = new Map<string, string>();
  for (const [memberId, a] of result) {
    for (const [topic, p] of assignmentPairs(a)) {
      const key = `${topic}-${p}`;
      expect(byPartition.has(key), `${key} assigned twice`).toBe(false);
      byPartition.set(key, memberId);
    }
  }
  return byPartition;
}

/** Coverage and the balance property stated in assignor.ts. */
function checkCoverageAndBalance(members: AssignorMember[], counts: Map<string, number>, result: Map<string, Assignment>): void {
  expect([...result.keys()].sort()).toEqual(members.map((m) => m.memberId).sort());
  const byPartition = owners(result);
  const subscribers = new Map(members.map((m) => [m.memberId, new Set(m.subscribedTopics)]));
  for (const [topic, n] of counts) {
    const anySubscriber = members.some((m) => m.subscribedTopics.includes(topic));
    for (let p = 0; p < n; p++) {
      const owner = byPartition.get(`${topic}-${p}`);
      if (anySubscriber) {
        expect(owner, `${topic}-${p} unassigned`).toBeDefined();
        expect(subscribers.get(owner as string)?.has(topic), `${topic}-${p} given to non-subscriber`).toBe(true);
      } else {
        expect(owner, `${topic}-${p} of an unsubscribed topic assigned`).toBeUndefined();
      }
    }
  }
  for (const key of byPartition.keys()) {
    const [topic, p] = [key.slice(0, key.lastIndexOf('-')), Number(key.slice(key.lastIndexOf('-') + 1))];
    expect(p < (counts.get(topic) ?? 0), `${key} does not exist`).toBe(true);
  }
  for (const h of members) {
    const hCount = assignmentSize(result.get(h.memberId) as Assignment);
    for (const l of members) {
      const lCount = assignmentSize(result.get(l.memberId) as Assignment);
      if (hCount < lCount + 2) continue;
      for (const topic of (result.get(h.memberId) as Assignment).keys()) {
        expect(l.subscribedTopics.includes(topic), `${h.memberId} (${hCount}) could give ${topic} to ${l.memberId} (${lCount})`).toBe(false);
      }
    }
  }
}

function randomMembers(prng: Prng, counts: Map<string, number>, homogeneous: boolean): AssignorMember[] {
  const topics = [...counts.keys()];
  const n = prng.intBetween(1, 9);
  const shared = topics.filter(() => prng.chance(0.7));
  return Array.from({ length: n }, (_, i) => {
    const subscribedTopics = homogeneous ? shared : topics.filter(() => prng.chance(0.6));
    // A random (possibly unbalanced, overlapping or stale) previous assignment to be sticky to.
    const previous = assignmentFromList(
      topics.map((topic) => ({
        topic,
        partitions: Array.from({ length: (counts.get(topic) ?? 0) + 2 }, (_, p) => p).filter(() => prng.chance(0.25)),
      })),
    );
    return { memberId: `m${prng.int(1000)}-${i}`, subscribedTopics, assignedPartitions: previous };
  });
}

function moved(before: Map<string, Assignment>, after: Map<string, Assignment>): number {
  const ownerAfter = owners(after);
  let n = 0;
  for (const [memberId, a] of before) {
    for (const [topic, p] of assignmentPairs(a)) if (ownerAfter.get(`${topic}-${p}`) !== memberId) n++;
  }
  return n;
}

describe('uniform assignor', () => {
  it('assigns every subscribed partition exactly once, to a subscriber, balanced (random inputs)', () => {
    for (let seed = 1; seed <= SEEDS; seed++) {
      const prng = new Prng(seed);
      const counts = topicsOf(prng);
      const members = randomMembers(prng, counts, prng.chance(0.5));
      checkCoverageAndBalance(members, counts, assignPartitions({ members, partitionCounts: counts }));
    }
  });

  it('gives members with the same subscription counts that differ by at most one', () => {
    for (let seed = 1; seed <= SEEDS; seed++) {
      const prng = new Prng(seed);
      const counts = topicsOf(prng);
      const members = randomMembers(prng, counts, true);
      const result = assignPartitions({ members, partitionCounts: counts });
      const sizes = [...result.values()].map(assignmentSize);
      expect(Math.max(...sizes) - Math.min(...sizes), `seed ${seed}`).toBeLessThanOrEqual(1);
    }
  });

  it('moves the minimum number of partitions from a random previous assignment (same subscriptions)', () => {
    for (let seed = 1; seed <= SEEDS; seed++) {
      const prng = new Prng(seed);
      const counts = topicsOf(prng);
      const members = randomMembers(prng, counts, true);
      const subscribed = new Set(members[0]?.subscribedTopics ?? []);
      // What each member can keep: valid partitions of its previous assignment, first claimant wins.
      const claimed = new Set<string>();
      const kept = new Map<string, Assignment>();
      for (const m of [...members].sort((a, b) => (a.memberId < b.memberId ? -1 : 1))) {
        const pairs = [...assignmentPairs(m.assignedPartitions)].filter(([t, p]) => subscribed.has(t) && p < (counts.get(t) ?? 0) && !claimed.has(`${t}-${p}`));
        for (const [t, p] of pairs) claimed.add(`${t}-${p}`);
        kept.set(m.memberId, assignmentFromList(pairs.map(([topic, p]) => ({ topic, partitions: [p] }))));
      }
      let total = 0;
      for (const t of subscribed) total += counts.get(t) ?? 0;
      const quotaFloor = Math.floor(total / members.length);
      const ceilSlots = total % members.length;
      const keptDesc = [...kept.values()].map(assignmentSize).sort((a, b) => b - a);
      const minimumMoves = keptDesc.reduce((sum, k, i) => sum + Math.max(0, k - (quotaFloor + (i < ceilSlots ? 1 : 0))), 0);
      const result = assignPartitions({ members, partitionCounts: counts });
      expect(moved(kept, result), `seed ${seed}`).toBe(minimumMoves);
    }
  });

  it('is stable: feeding its output back in changes nothing', () => {
    for (let seed = 1; seed <= SEEDS; seed++) {
      const prng = new Prng(seed);
      const counts = topicsOf(prng);
      const members = randomMembers(prng, counts, prng.chance(0.5));
      const first = assignPartitions({ members, partitionCounts: counts });
      const again = assignPartitions({
        members: members.map((m) => ({ ...m, assignedPartitions: first.get(m.memberId) as Assignment })),
        partitionCounts: counts,
      });
      expect(again, `seed ${seed}`).toEqual(first);
    }
  });

  it('when a member joins, only partitions it receives move, and it receives its fair share', () => {
    for (let seed = 1; seed <= SEEDS; seed++) {
      const prng = new Prng(seed);
      const counts = topicsOf(prng);
      const members = randomMembers(prng, counts, true);
      const settled = assignPartitions({ members, partitionCounts: counts });
      const joiner: AssignorMember = { memberId: 'joiner', subscribedTopics: members[0]?.subscribedTopics ?? [], assignedPartitions: new Map() };
      const next = assignPartitions({
        members: [...members.map((m) => ({ ...m, assignedPartitions: settled.get(m.memberId) as Assignment })), joiner],
        partitionCounts: counts,
      });
      const received = assignmentSize(next.get('joiner') as Assignment);
      expect(moved(settled, next), `seed ${seed}`).toBe(received);
      let total = 0;
      for (const t of joiner.subscribedTopics) total += counts.get(t) ?? 0;
      expect(received).toBe(Math.floor(total / (members.length + 1)));
      for (const [memberId, a] of settled) {
        const after = next.get(memberId) as Assignment;
        for (const [topic, p] of assignmentPairs(after)) expect(a.get(topic)?.includes(p), `${memberId} gained ${topic}-${p}`).toBe(true);
      }
    }
  });

  it('when a member leaves, the others keep everything they had and split its partitions', () => {
    for (let seed = 1; seed <= SEEDS; seed++) {
      const prng = new Prng(seed);
      const counts = topicsOf(prng);
      const members = randomMembers(prng, counts, prng.chance(0.5));
      if (members.length < 2) continue;
      const settled = assignPartitions({ members, partitionCounts: counts });
      const leaver = prng.pick(members).memberId;
      const rest = members.filter((m) => m.memberId !== leaver).map((m) => ({ ...m, assignedPartitions: settled.get(m.memberId) as Assignment }));
      const next = assignPartitions({ members: rest, partitionCounts: counts });
      checkCoverageAndBalance(rest, counts, next);
      const homogeneous = members.every((m) => m.subscribedTopics.join() === members[0]?.subscribedTopics.join());
      if (!homogeneous) continue;
      for (const m of rest) {
        for (const [topic, p] of assignmentPairs(m.assignedPartitions)) {
          expect(next.get(m.memberId)?.get(topic)?.includes(p), `seed ${seed}: ${m.memberId} lost ${topic}-${p}`).toBe(true);
        }
      }
    }
  });

  it('is deterministic: member order, id spelling of maps and topic insertion order do not matter', () => {
    for (let seed = 1; seed <= SEEDS; seed++) {
      const prng = new Prng(seed);
      const counts = topicsOf(prng);
      const members = randomMembers(prng, counts, prng.chance(0.5));
      const first = assignPartitions({ members, partitionCounts: counts });
      const shuffledCounts = new Map(prng.shuffle([...counts]));
      const shuffledMembers = prng.shuffle(
        members.map((m) => ({
          memberId: m.memberId,
          subscribedTopics: prng.shuffle([...m.subscribedTopics]),
          assignedPartitions: new Map(prng.shuffle(assignmentToList(m.assignedPartitions).map((tp) => [tp.topic, tp.partitions] as const))),
        })),
      );
      const second = assignPartitions({ members: shuffledMembers, partitionCounts: shuffledCounts });
      expect(assignmentsAsLists(second), `seed ${seed}`).toEqual(assignmentsAsLists(first));
    }
  });

  it('leaves members beyond the partition count with nothing', () => {
    const counts = new Map([['orders', 3]]);
    const members = ['a', 'b', 'c', 'd', 'e'].map((memberId) => ({ memberId, subscribedTopics: ['orders'], assignedPartitions: new Map() }));
    const result = assignPartitions({ members, partitionCounts: counts });
    expect([...result.values()].map(assignmentSize)).toEqual([1, 1, 1, 0, 0]);
  });

  it('splits six partitions 2/2/2 and keeps a member\'s partitions when a fourth member joins', () => {
    const counts = new Map([['orders', 6]]);
    const three = ['a', 'b', 'c'].map((memberId) => ({ memberId, subscribedTopics: ['orders'], assignedPartitions: new Map() as Assignment }));
    const first = assignPartitions({ members: three, partitionCounts: counts });
    expect(assignmentsAsLists(first)).toEqual({
      a: [{ topic: 'orders', partitions: [0, 3] }],
      b: [{ topic: 'orders', partitions: [1, 4] }],
      c: [{ topic: 'orders', partitions: [2, 5] }],
    });
    const four = [...three.map((m) => ({ ...m, assignedPartitions: first.get(m.memberId) as Assignment })), { memberId: 'd', subscribedTopics: ['orders'], assignedPartitions: new Map() as Assignment }];
    const second = assignPartitions({ members: four, partitionCounts: counts });
    expect(assignmentsAsLists(second)).toEqual({
      a: [{ topic: 'orders', partitions: [0] }],
      b: [{ topic: 'orders', partitions: [1, 4] }],
      c: [{ topic: 'orders', partitions: [2, 5] }],
      d: [{ topic: 'orders', partitions: [3] }],
    });
  });
});

function assignmentsAsLists(result: Map<string, Assignment>): Record<string, ReturnType<typeof assignmentToList>> {
  return Object.fromEntries([...result].sort(([a], [b]) => (a < b ? -1 : 1)).map(([id, a]) => [id, assignmentToList(a)]));
}
