import type { TopicPartitions } from './assignment.js';
import type { MemberState } from './types.js';

// Requests and responses of the group coordinator core. Errors are Kafka error codes in
// `errorCode` (0 = NONE), never exceptions: an exception from the core is a broken invariant.

/** memberEpoch of a heartbeat that joins (or rejoins after being fenced): the member owns nothing. */
export const JOIN_GROUP_MEMBER_EPOCH = 0;
/** memberEpoch of a heartbeat that leaves the group. */
export const LEAVE_GROUP_MEMBER_EPOCH = -1;
/** memberEpoch of a commit that is not made by a member ("simple" / admin commit). */
export const NO_MEMBER_EPOCH = -1;
/** Offset answered for a partition without a committed offset. */
export const NO_OFFSET = -1;

export interface HeartbeatRequest {
  groupId: string;
  /** '' on a first join: the coordinator picks one. A client may also choose its own (KIP-1082). */
  memberId: string;
  /** 0 to join, -1 to leave, otherwise the epoch of the last answer the member applied. */
  memberEpoch: number;
  /** Topic names (a client resolves regular expressions against the topic list itself). */
  subscribedTopics: readonly string[];
  /** What the member processes right now, after applying the last answer it received. */
  ownedPartitions: readonly TopicPartitions[];
  /** How long the member may take to give up revoked partitions; default from the config. */
  rebalanceTimeoutMs?: number;
  sessionTimeoutMs: number;
}

export interface HeartbeatResponse {
  errorCode: number;
  errorMessage: string | null;
  memberId: string;
  /** -1 on errors and after leaving. */
  memberEpoch: number;
  heartbeatIntervalMs: number;
  /** The complete set the member may own now (null on errors). Revoked partitions are absent. */
  assignment: TopicPartitions[] | null;
}

export interface OffsetToCommit {
  topic: string;
  partition: number;
  offset: number;
  /** Leader epoch of the last consumed record, -1 if unknown. */
  leaderEpoch?: number;
  metadata?: string;
}

export interface OffsetCommitRequest {
  groupId: string;
  /** '' with memberEpoch -1 for a simple (non-member) commit, allowed only for a group without members. */
  memberId: string;
  memberEpoch: number;
  offsets: readonly OffsetToCommit[];
}

export interface ErrorResult {
  errorCode: number;
  errorMessage: string | null;
}

export interface OffsetFetchRequest {
  groupId: string;
  /** null or absent: every committed offset of the group. */
  partitions?: readonly TopicPartitions[] | null;
  /** When given (KIP-848 OffsetFetch), the epoch is checked like a commit's. */
  memberId?: string;
  memberEpoch?: number;
}

export interface CommittedOffset {
  topic: string;
  partition: number;
  /** NO_OFFSET (-1) when nothing was committed. */
  offset: number;
  leaderEpoch: number;
  metadata: string;
  /** -1 when nothing was committed. */
  commitTimestampMs: number;
}

export interface OffsetFetchResponse extends ErrorResult {
  offsets: CommittedOffset[];
}

/** KIP-848's consumer group states, minus ASSIGNING (this coordinator computes targets eagerly). */
export type GroupStateName = 'empty' | 'reconciling' | 'stable';

export interface GroupListing {
  groupId: string;
  state: GroupStateName;
  memberCount: number;
}

export interface MemberDescription {
  memberId: string;
  memberEpoch: number;
  state: MemberState;
  subscribedTopics: string[];
  assignment: TopicPartitions[];
  pendingRevocation: TopicPartitions[];
  targetAssignment: TopicPartitions[];
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
}

export interface GroupDescription {
  groupId: string;
  state: GroupStateName;
  groupEpoch: number;
  assignmentEpoch: number;
  members: MemberDescription[];
  /** Committed offsets; the caller adds log end offsets and lag. */
  offsets: CommittedOffset[];
}

export interface DescribeGroupResponse extends ErrorResult {
  group: GroupDescription | null;
}

export interface ResetOffsetsRequest {
  groupId: string;
  /** Offsets already resolved by the caller (earliest, latest, by timestamp, shift by N). */
  offsets: readonly OffsetToCommit[];
}

export type ExpiryReason = 'session_timeout' | 'rebalance_timeout';

export interface ExpiredMember {
  groupId: string;
  memberId: string;
  reason: ExpiryReason;
}
