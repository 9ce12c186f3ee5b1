import { assert, unreachable } from './assert.js';
import { assignmentFromList, assignmentOverlaps, assignmentPairs, type Assignment } from './assignment.js';
import type { GroupRecord } from './records.js';
import type { GroupEntry, MemberEntry } from './types.js';

// The state of one coordinator shard as a function of its records. The coordinator changes state
// only by applying records through `applyGroupRecord` (as Kafka's GroupMetadataManager replays its
// own records), so the live state and the state rebuilt from the log cannot drift apart.
//
// The state depends only on the latest record of each key: an entity (group, member) exists while
// any of its keys has a value and disappears when the last one is deleted. Replaying a compacted
// log (latest per key, in log order) therefore rebuilds the same state as the full log.

export type GroupsState = Map<string, GroupEntry>;

function emptyGroup(groupId: string): GroupEntry {
  return { groupId, members: new Map(), target: new Map(), offsets: new Map(), owners: new Map() };
}

function groupIsEmpty(g: GroupEntry): boolean {
  return (
    g.groupEpoch === undefined &&
    g.partitionMetadata === undefined &&
    g.assignmentEpoch === undefined &&
    g.members.size === 0 &&
    g.target.size === 0 &&
    g.offsets.size === 0
  );
}

function memberEntry(g: GroupEntry, memberId: string): MemberEntry {
  let m = g.members.get(memberId);
  if (m === undefined) {
    m = {};
    g.members.set(memberId, m);
  }
  return m;
}

function dropMemberIfEmpty(g: GroupEntry, memberId: string): void {
  const m = g.members.get(memberId);
  if (m !== undefined && m.subscription === undefined && m.current === undefined) g.members.delete(memberId);
}

function releaseOwnership(g: GroupEntry, memberId: string, held: Assignment): void {
  for (const [topic, p] of assignmentPairs(held)) {
    const byPartition = g.owners.get(topic);
    assert(byPartition?.get(p) === memberId, `group ${g.groupId}: ${topic}-${p} is not held by ${memberId}`);
    byPartition.delete(p);
    if (byPartition.size === 0) g.owners.delete(topic);
  }
}

function takeOwnership(g: GroupEntry, memberId: string, held: Assignment): void {
  for (const [topic, p] of assignmentPairs(held)) {
    let byPartition = g.owners.get(topic);
    if (byPartition === undefined) {
      byPartition = new Map();
      g.owners.set(topic, byPartition);
    }
    const holder = byPartition.get(p);
    // The safety rule of incremental reconciliation: a partition is held by at most one member.
    assert(holder === undefined || holder === memberId, `group ${g.groupId}: ${topic}-${p} given to ${memberId} while ${holder} holds it`);
    byPartition.set(p, memberId);
  }
}

export function applyGroupRecord(groups: GroupsState, record: GroupRecord): void {
  let g = groups.get(record.groupId);
  if (g === undefined) {
    if (record.value === null) return;
    g = emptyGroup(record.groupId);
    groups.set(record.groupId, g);
  }
  switch (record.type) {
    case 'OffsetCommit': {
      let byPartition = g.offsets.get(record.topic);
      if (record.value === null) {
        byPartition?.delete(record.partition);
        if (byPartition?.size === 0) g.offsets.delete(record.topic);
      } else {
        if (byPartition === undefined) {
          byPartition = new Map();
          g.offsets.set(record.topic, byPartition);
        }
        byPartition.set(record.partition, { ...record.value });
      }
      break;
    }
    case 'GroupMetadata':
      g.groupEpoch = record.value?.groupEpoch;
      break;
    case 'GroupPartitionMetadata':
      g.partitionMetadata = record.value === null ? undefined : new Map(record.value.topics.map((t) => [t.topic, t.numPartitions]));
      break;
    case 'MemberSubscription':
      if (record.value === null) {
        const m = g.members.get(record.memberId);
        if (m !== undefined) m.subscription = undefined;
        dropMemberIfEmpty(g, record.memberId);
      } else {
        memberEntry(g, record.memberId).subscription = { ...record.value, subscribedTopics: [...record.value.subscribedTopics] };
      }
      break;
    case 'TargetAssignmentMetadata':
      g.assignmentEpoch = record.value?.assignmentEpoch;
      break;
    case 'TargetAssignmentMember':
      if (record.value === null) g.target.delete(record.memberId);
      else g.target.set(record.memberId, assignmentFromList(record.value.partitions));
      break;
    case 'CurrentMemberAssignment': {
      const previous = g.members.get(record.memberId)?.current;
      if (previous !== undefined) {
        releaseOwnership(g, record.memberId, previous.assigned);
        releaseOwnership(g, record.memberId, previous.pendingRevocation);
      }
      if (record.value === null) {
        const m = g.members.get(record.memberId);
        if (m !== undefined) m.current = undefined;
        dropMemberIfEmpty(g, record.memberId);
      } else {
        const v = record.value;
        const current = {
          memberEpoch: v.memberEpoch,
          previousMemberEpoch: v.previousMemberEpoch,
          state: v.state,
          assigned: assignmentFromList(v.assigned),
          pendingRevocation: assignmentFromList(v.pendingRevocation),
        };
        assert(!assignmentOverlaps(current.assigned, current.pendingRevocation), `group ${g.groupId}: ${record.memberId} both holds and revokes a partition`);
        takeOwnership(g, record.memberId, current.assigned);
        takeOwnership(g, record.memberId, current.pendingRevocation);
        memberEntry(g, record.memberId).current = current;
      }
      break;
    }
    default:
      unreachable(record);
  }
  if (groupIsEmpty(g)) groups.delete(record.groupId);
}
