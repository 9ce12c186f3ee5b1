import type { Assignment } from './assignment.js';

// The data model of one coordinator shard (the groups of one `__consumer_offsets` partition), as
// rebuilt from records. Field-for-field what the records carry; timers are not here (see
// group-coordinator.ts).

/**
 * Reconciliation state of a member (KIP-848's MemberState):
 * - `stable`: it owns everything its target gives it, at the target's epoch.
 * - `unrevoked_partitions`: it must give partitions up; it keeps its epoch until it heartbeats
 *   without them.
 * - `unreleased_partitions`: it is at the target epoch but waits for partitions another member has
 *   not released yet.
 */
export type MemberState = 'stable' | 'unrevoked_partitions' | 'unreleased_partitions';

export const MEMBER_STATES: readonly MemberState[] = ['stable', 'unrevoked_partitions', 'unreleased_partitions'];

export interface MemberSubscription {
  subscribedTopics: readonly string[];
  rebalanceTimeoutMs: number;
  sessionTimeoutMs: number;
}

export interface MemberAssignment {
  memberEpoch: number;
  previousMemberEpoch: number;
  state: MemberState;
  /** What the member is told it owns (and may process). */
  assigned: Assignment;
  /** Taken from the member, but not yet released by it: nobody else may get these yet. */
  pendingRevocation: Assignment;
}

export interface OffsetAndMetadata {
  offset: number;
  leaderEpoch: number;
  metadata: string;
  commitTimestampMs: number;
}

export interface MemberEntry {
  subscription?: MemberSubscription;
  current?: MemberAssignment;
}

export interface GroupEntry {
  groupId: string;
  groupEpoch?: number;
  /** Partition counts of the subscribed topics the last target assignment was computed from. */
  partitionMetadata?: ReadonlyMap<string, number>;
  assignmentEpoch?: number;
  members: Map<string, MemberEntry>;
  target: Map<string, Assignment>;
  offsets: Map<string, Map<number, OffsetAndMetadata>>;
  /** Derived index: which member holds each partition (assigned or pending revocation). */
  owners: Map<string, Map<number, string>>;
}
