import { assert } from './assert.js';
import { assignmentFromPairs, type Assignment } from './assignment.js';
import { compareIds } from './ordering.js';

// Server-side uniform assignor, in the spirit of KIP-848's UniformAssignor.
//
// 1. Stickiness: every member keeps the partitions of its previous target assignment that still
//    exist and that it still subscribes to (a partition claimed twice goes to the first claimant in
//    member-id order; the coordinator never produces that, but the assignor must not trust it).
// 2. Partitions nobody kept go, one by one in (topic, partition) order, to the subscribed member
//    with the fewest partitions.
// 3. Balancing: while some member h has at least two partitions more than a member l that
//    subscribes to one of the topics h holds, move one such partition from h to l. Each move lowers
//    the sum of squared counts, so the loop ends; at the end no single move can improve balance,
//    which makes members with the same subscription differ by at most one partition.
//
// Heaviest donors give to the lightest receivers first, so with identical subscriptions a member
// never both gives and receives: the number of moved partitions is the minimum that any balanced
// assignment needs. Every choice is ordered by member id, topic name and partition number, so the
// result depends only on the input's contents, never on Map insertion or array order.

export interface AssignorMember {
  memberId: string;
  subscribedTopics: readonly string[];
  /** The member's previous target assignment: what stickiness tries to keep. */
  assignedPartitions: Assignment;
}

export interface AssignorInput {
  members: Iterable<AssignorMember>;
  /** Partition count of every existing topic; a subscribed topic that is absent is ignored. */
  partitionCounts: ReadonlyMap<string, number>;
}

interface Working {
  memberId: string;
  subscribed: Set<string>;
  previous: Assignment;
  /** Topic -> partitions held, ascending. */
  owned: Map<string, number[]>;
  count: number;
}

/** Index of the first element >= value in an ascending array. */
function lowerBound(sorted: readonly number[], value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((sorted[mid] as number) < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function give(member: Working, topic: string, partition: number): void {
  let held = member.owned.get(topic);
  if (held === undefined) {
    held = [];
    member.owned.set(topic, held);
  }
  held.splice(lowerBound(held, partition), 0, partition);
  member.count++;
}

function take(member: Working, topic: string, partition: number): void {
  const held = member.owned.get(topic);
  const at = held === undefined ? -1 : lowerBound(held, partition);
  assert(held !== undefined && held[at] === partition, `assignor: ${member.memberId} does not hold ${topic}-${partition}`);
  held.splice(at, 1);
  if (held.length === 0) member.owned.delete(topic);
  member.count--;
}

const heavierFirst = (a: Working, b: Working): number => b.count - a.count || compareIds(a.memberId, b.memberId);
const lighterFirst = (a: Working, b: Working): number => a.count - b.count || compareIds(a.memberId, b.memberId);

/**
 * Members kept sorted under a total order while counts change by one: re-sorting everything after
 * each move made balancing 1,000 members over 10,000 partitions take seconds.
 */
class SortedMembers {
  readonly list: Working[];

  constructor(
    members: readonly Working[],
    private readonly order: (a: Working, b: Working) => number,
  ) {
    this.list = [...members].sort(order);
  }

  reposition(member: Working): void {
    const list = this.list;
    let i = list.indexOf(member);
    assert(i >= 0, `assignor: ${member.memberId} missing from its order`);
    while (i > 0 && this.order(list[i - 1] as Working, member) > 0) {
      list[i] = list[i - 1] as Working;
      list[--i] = member;
    }
    while (i < list.length - 1 && this.order(member, list[i + 1] as Working) > 0) {
      list[i] = list[i + 1] as Working;
      list[++i] = member;
    }
  }
}

/** Computes the target assignment of every member (an empty one for members that get nothing). */
export function assignPartitions(input: AssignorInput): Map<string, Assignment> {
  const members: Working[] = [...input.members]
    .map((m) => ({
      memberId: m.memberId,
      subscribed: new Set(m.subscribedTopics.filter((t) => (input.partitionCounts.get(t) ?? 0) > 0)),
      previous: m.assignedPartitions,
      owned: new Map<string, number[]>(),
      count: 0,
    }))
    .sort((a, b) => compareIds(a.memberId, b.memberId));
  for (let i = 1; i < members.length; i++) {
    assert(members[i - 1]?.memberId !== members[i]?.memberId, `assignor: duplicate member ${members[i]?.memberId}`);
  }
  const topics = [...input.partitionCounts.keys()].sort(compareIds);
  const owner = new Map<string, (Working | undefined)[]>();
  for (const topic of topics) owner.set(topic, new Array<Working | undefined>(input.partitionCounts.get(topic) ?? 0).fill(undefined));

  for (const member of members) {
    for (const [topic, partitions] of member.previous) {
      if (!member.subscribed.has(topic)) continue;
      const owners = owner.get(topic);
      if (owners === undefined) continue;
      for (const p of partitions) {
        if (p < 0 || p >= owners.length || owners[p] !== undefined) continue;
        owners[p] = member;
        give(member, topic, p);
      }
    }
  }

  for (const topic of topics) {
    const subscribers = members.filter((m) => m.subscribed.has(topic));
    if (subscribers.length === 0) continue;
    const owners = owner.get(topic) ?? [];
    for (let p = 0; p < owners.length; p++) {
      if (owners[p] !== undefined) continue;
      let lightest = subscribers[0] as Working;
      for (const m of subscribers) if (m.count < lightest.count) lightest = m;
      owners[p] = lightest;
      give(lightest, topic, p);
    }
  }

  balance(members, owner);

  const result = new Map<string, Assignment>();
  for (const m of members) {
    const pairs: [string, number][] = [];
    for (const [topic, held] of m.owned) for (const p of held) pairs.push([topic, p]);
    result.set(m.memberId, assignmentFromPairs(pairs));
  }
  return result;
}

function balance(members: Working[], owner: Map<string, (Working | undefined)[]>): void {
  let totalPartitions = 0;
  for (const m of members) totalPartitions += m.count;
  const heavy = new SortedMembers(members, heavierFirst);
  const light = new SortedMembers(members, lighterFirst);
  // Each move lowers the sum of squares by at least 2, and that sum is at most totalPartitions^2.
  const movesMax = totalPartitions * totalPartitions + 1;
  for (let moves = 0; ; moves++) {
    assert(moves <= movesMax, 'assignor: balancing did not converge');
    const move = findMove(heavy.list, light.list);
    if (move === undefined) return;
    const { from, to, topic, partition } = move;
    take(from, topic, partition);
    give(to, topic, partition);
    for (const order of [heavy, light]) {
      order.reposition(from);
      order.reposition(to);
    }
    const owners = owner.get(topic);
    assert(owners !== undefined && owners[partition] === from, 'assignor: owner index out of sync');
    owners[partition] = to;
  }
}

interface Move {
  from: Working;
  to: Working;
  topic: string;
  partition: number;
}

function findMove(heaviestFirst: readonly Working[], lightestFirst: readonly Working[]): Move | undefined {
  for (const from of heaviestFirst) {
    for (const to of lightestFirst) {
      if (to.count > from.count - 2) break;
      const topic = topicToMove(from, to);
      if (topic === undefined) continue;
      const held = from.owned.get(topic) as number[];
      // The highest-numbered partition moves: the lowest ones stay put, which keeps repeated
      // rebalances of growing topics from shuffling the same early partitions around.
      return { from, to, topic, partition: held[held.length - 1] as number };
    }
  }
  return undefined;
}

/** The topic `to` subscribes to in which `from` holds the most partitions (ties by name). */
function topicToMove(from: Working, to: Working): string | undefined {
  let best: string | undefined;
  let bestCount = 0;
  for (const [topic, held] of from.owned) {
    if (!to.subscribed.has(topic)) continue;
    if (held.length > bestCount || (held.length === bestCount && best !== undefined && compareIds(topic, best) < 0)) {
      best = topic;
      bestCount = held.length;
    }
  }
  return best;
}
