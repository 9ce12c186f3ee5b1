import { NO_OFFSET, type CommittedOffset, type GroupDescription, type GroupStateName } from './api.js';
import { EMPTY_ASSIGNMENT, assignmentToList, type Assignment, type TopicPartitions } from './assignment.js';
import type { GroupsState } from './group-state.js';
import { compareIds, sortedKeys } from './ordering.js';
import type { GroupEntry, MemberAssignment, MemberSubscription } from './types.js';

// Read-only views of a shard: group state names, committed offsets, descriptions, and the
// canonical snapshot that replay tests compare.

export function groupState(group: GroupEntry): GroupStateName {
  if (group.members.size === 0) return 'empty';
  const epoch = group.assignmentEpoch ?? 0;
  for (const m of group.members.values()) {
    if (m.current?.state !== 'stable' || m.current.memberEpoch !== epoch) return 'reconciling';
  }
  return 'stable';
}

export function committedOffset(group: GroupEntry | undefined, topic: string, partition: number): CommittedOffset {
  const o = group?.offsets.get(topic)?.get(partition);
  if (o === undefined) return { topic, partition, offset: NO_OFFSET, leaderEpoch: -1, metadata: '', commitTimestampMs: -1 };
  return { topic, partition, ...o };
}

export function allOffsets(group: GroupEntry): CommittedOffset[] {
  const out: CommittedOffset[] = [];
  for (const topic of sortedKeys(group.offsets)) {
    const byPartition = group.offsets.get(topic) as Map<number, unknown>;
    for (const partition of [...byPartition.keys()].sort((a, b) => a - b)) out.push(committedOffset(group, topic, partition));
  }
  return out;
}

export interface ShardSnapshot {
  groups: {
    groupId: string;
    groupEpoch: number | null;
    assignmentEpoch: number | null;
    partitionMetadata: [string, number][] | null;
    members: { memberId: string; subscription: MemberSubscription | null; current: SnapshotMemberAssignment | null }[];
    target: { memberId: string; partitions: TopicPartitions[] }[];
    offsets: CommittedOffset[];
  }[];
}

interface SnapshotMemberAssignment {
  memberEpoch: number;
  previousMemberEpoch: number;
  state: string;
  assigned: TopicPartitions[];
  pendingRevocation: TopicPartitions[];
}

export function snapshotOf(groups: GroupsState): ShardSnapshot {
  return {
    groups: sortedKeys(groups).map((groupId) => {
      const g = groups.get(groupId) as GroupEntry;
      return {
        groupId,
        groupEpoch: g.groupEpoch ?? null,
        assignmentEpoch: g.assignmentEpoch ?? null,
        partitionMetadata: g.partitionMetadata === undefined ? null : [...g.partitionMetadata].sort(([a], [b]) => compareIds(a, b)),
        members: sortedKeys(g.members).map((memberId) => {
          const m = g.members.get(memberId) as { subscription?: MemberSubscription; current?: MemberAssignment };
          return {
            memberId,
            subscription: m.subscription === undefined ? null : { ...m.subscription, subscribedTopics: [...m.subscription.subscribedTopics] },
            current:
              m.current === undefined
                ? null
                : {
                    memberEpoch: m.current.memberEpoch,
                    previousMemberEpoch: m.current.previousMemberEpoch,
                    state: m.current.state,
                    assigned: assignmentToList(m.current.assigned),
                    pendingRevocation: assignmentToList(m.current.pendingRevocation),
                  },
          };
        }),
        target: sortedKeys(g.target).map((memberId) => ({ memberId, partitions: assignmentToList(g.target.get(memberId) as Assignment) })),
        offsets: allOffsets(g),
      };
    }),
  };
}

/** The description of a group (its members must be complete, as after any coordinator call). */
export function describeGroupEntry(group: GroupEntry): GroupDescription {
  return {
    groupId: group.groupId,
    state: groupState(group),
    groupEpoch: group.groupEpoch ?? 0,
    assignmentEpoch: group.assignmentEpoch ?? 0,
    members: sortedKeys(group.members).flatMap((memberId) => {
      const { subscription, current } = group.members.get(memberId) ?? {};
      if (subscription === undefined || current === undefined) return [];
      return [
        {
          memberId,
          memberEpoch: current.memberEpoch,
          state: current.state,
          subscribedTopics: [...subscription.subscribedTopics],
          assignment: assignmentToList(current.assigned),
          pendingRevocation: assignmentToList(current.pendingRevocation),
          targetAssignment: assignmentToList(group.target.get(memberId) ?? EMPTY_ASSIGNMENT),
          sessionTimeoutMs: subscription.sessionTimeoutMs,
          rebalanceTimeoutMs: subscription.rebalanceTimeoutMs,
        },
      ];
    }),
    offsets: allOffsets(group),
  };
}
