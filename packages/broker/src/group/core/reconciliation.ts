import {
  EMPTY_ASSIGNMENT,
  assignmentEquals,
  assignmentFilter,
  assignmentIntersect,
  assignmentMinus,
  assignmentOverlaps,
  assignmentSize,
  assignmentUnion,
  type Assignment,
} from './assignment.js';
import { unreachable } from './assert.js';
import type { MemberAssignment } from './types.js';

// Incremental reconciliation of one member towards its target assignment (KIP-848's
// CurrentAssignmentBuilder). The rule that makes a group safe: a partition reaches its new owner
// only once no other member holds it, and a member stops holding a revoked partition only when its
// own heartbeat no longer lists it as owned (or it is removed from the group). Until then the
// member keeps its epoch, so its commits for the revoked partitions are still accepted — that is
// when a client commits what it processed before letting go.

export interface ReconcileInput {
  current: MemberAssignment;
  target: Assignment;
  targetEpoch: number;
  /** What the member says it owns in this heartbeat. */
  owned: Assignment;
  /** True when no other member holds the partition (assigned or pending revocation). */
  isFree: (topic: string, partition: number) => boolean;
}

export function reconcile(input: ReconcileInput): MemberAssignment {
  const { current, owned } = input;
  switch (current.state) {
    case 'unrevoked_partitions':
      if (assignmentOverlaps(owned, current.pendingRevocation)) return current;
      return towardsTarget({ ...current, pendingRevocation: EMPTY_ASSIGNMENT }, input);
    case 'unreleased_partitions':
      return towardsTarget(current, input);
    case 'stable':
      if (current.memberEpoch === input.targetEpoch) return current;
      return towardsTarget(current, input);
    default:
      return unreachable(current.state);
  }
}

function towardsTarget(current: MemberAssignment, input: ReconcileInput): MemberAssignment {
  const { target, targetEpoch } = input;
  const kept = assignmentIntersect(current.assigned, target);
  const revoke = assignmentMinus(current.assigned, target);
  if (assignmentSize(revoke) > 0) {
    // Revocation happens at the old epoch: the member gets nothing new until it has let go.
    return {
      memberEpoch: current.memberEpoch,
      previousMemberEpoch: current.previousMemberEpoch,
      state: 'unrevoked_partitions',
      assigned: kept,
      pendingRevocation: revoke,
    };
  }
  const wanted = assignmentMinus(target, current.assigned);
  const free = assignmentFilter(wanted, input.isFree);
  const assigned = assignmentUnion(kept, free);
  const epochChanges = current.memberEpoch !== targetEpoch;
  return {
    memberEpoch: targetEpoch,
    previousMemberEpoch: epochChanges ? current.memberEpoch : current.previousMemberEpoch,
    state: assignmentSize(free) === assignmentSize(wanted) ? 'stable' : 'unreleased_partitions',
    assigned,
    pendingRevocation: EMPTY_ASSIGNMENT,
  };
}

export function memberAssignmentEquals(a: MemberAssignment, b: MemberAssignment): boolean {
  return (
    a.memberEpoch === b.memberEpoch &&
    a.previousMemberEpoch === b.previousMemberEpoch &&
    a.state === b.state &&
    assignmentEquals(a.assigned, b.assigned) &&
    assignmentEquals(a.pendingRevocation, b.pendingRevocation)
  );
}
