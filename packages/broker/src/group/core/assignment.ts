// An assignment is a set of topic-partitions. The canonical in-memory form is a Map from topic name
// to ascending, duplicate-free partition numbers, topics in name order and no empty lists, so two
// equal sets always compare (and encode) the same. `TopicPartitions[]` is the list form used in
// requests, responses and records.

/** Partitions of one topic, in list form (requests, responses, records). */
export interface TopicPartitions {
  topic: string;
  partitions: number[];
}

/** A normalized set of topic-partitions (see the file comment). */
export type Assignment = ReadonlyMap<string, readonly number[]>;

export const EMPTY_ASSIGNMENT: Assignment = new Map();

function build(sets: Map<string, Set<number>>): Assignment {
  const out = new Map<string, readonly number[]>();
  for (const topic of [...sets.keys()].sort()) {
    const partitions = sets.get(topic);
    if (partitions === undefined || partitions.size === 0) continue;
    out.set(topic, [...partitions].sort((a, b) => a - b));
  }
  return out;
}

function toSets(a: Assignment): Map<string, Set<number>> {
  const sets = new Map<string, Set<number>>();
  for (const [topic, partitions] of a) sets.set(topic, new Set(partitions));
  return sets;
}

export function assignmentFromList(list: readonly TopicPartitions[]): Assignment {
  const sets = new Map<string, Set<number>>();
  for (const { topic, partitions } of list) {
    let set = sets.get(topic);
    if (set === undefined) {
      set = new Set();
      sets.set(topic, set);
    }
    for (const p of partitions) set.add(p);
  }
  return build(sets);
}

export function assignmentToList(a: Assignment): TopicPartitions[] {
  return [...a].map(([topic, partitions]) => ({ topic, partitions: [...partitions] }));
}

export function assignmentFromPairs(pairs: Iterable<readonly [string, number]>): Assignment {
  const sets = new Map<string, Set<number>>();
  for (const [topic, p] of pairs) {
    let set = sets.get(topic);
    if (set === undefined) {
      set = new Set();
      sets.set(topic, set);
    }
    set.add(p);
  }
  return build(sets);
}

export function* assignmentPairs(a: Assignment): Generator<[string, number]> {
  for (const [topic, partitions] of a) for (const p of partitions) yield [topic, p];
}

export function assignmentSize(a: Assignment): number {
  let n = 0;
  for (const partitions of a.values()) n += partitions.length;
  return n;
}

export function assignmentHas(a: Assignment, topic: string, partition: number): boolean {
  return a.get(topic)?.includes(partition) ?? false;
}

export function assignmentUnion(a: Assignment, b: Assignment): Assignment {
  const sets = toSets(a);
  for (const [topic, partitions] of b) {
    let set = sets.get(topic);
    if (set === undefined) {
      set = new Set();
      sets.set(topic, set);
    }
    for (const p of partitions) set.add(p);
  }
  return build(sets);
}

/** The partitions of `a` that are not in `b`. */
export function assignmentMinus(a: Assignment, b: Assignment): Assignment {
  const sets = toSets(a);
  for (const [topic, partitions] of b) {
    const set = sets.get(topic);
    if (set !== undefined) for (const p of partitions) set.delete(p);
  }
  return build(sets);
}

export function assignmentIntersect(a: Assignment, b: Assignment): Assignment {
  const sets = new Map<string, Set<number>>();
  for (const [topic, partitions] of a) {
    const other = b.get(topic);
    if (other === undefined) continue;
    const otherSet = new Set(other);
    sets.set(topic, new Set(partitions.filter((p) => otherSet.has(p))));
  }
  return build(sets);
}

export function assignmentOverlaps(a: Assignment, b: Assignment): boolean {
  for (const [topic, partitions] of a) {
    const other = b.get(topic);
    if (other === undefined) continue;
    const otherSet = new Set(other);
    if (partitions.some((p) => otherSet.has(p))) return true;
  }
  return false;
}

export function assignmentIsSubset(a: Assignment, of: Assignment): boolean {
  return assignmentSize(assignmentMinus(a, of)) === 0;
}

export function assignmentEquals(a: Assignment, b: Assignment): boolean {
  if (a.size !== b.size) return false;
  for (const [topic, partitions] of a) {
    const other = b.get(topic);
    if (other === undefined || other.length !== partitions.length) return false;
    for (let i = 0; i < partitions.length; i++) if (partitions[i] !== other[i]) return false;
  }
  return true;
}

/** Keeps only the partitions of `a` whose topic passes `keep`. */
export function assignmentFilter(a: Assignment, keep: (topic: string, partition: number) => boolean): Assignment {
  const sets = new Map<string, Set<number>>();
  for (const [topic, partitions] of a) sets.set(topic, new Set(partitions.filter((p) => keep(topic, p))));
  return build(sets);
}
