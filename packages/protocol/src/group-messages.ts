// Hand-written mirrors of proto/runnel/v1/group.proto in the shape PROTO_LOADER_OPTIONS decodes to
// (camelCase, int64 -> number). Keep in step with the .proto.

export interface FindCoordinatorRequest {
  groupIds: string[];
}

export interface Coordinator {
  groupId: string;
  errorCode: number;
  errorMessage: string;
  /** -1 while the coordinator is not known yet. */
  nodeId: number;
  host: string;
  port: number;
}

export interface FindCoordinatorResponse {
  coordinators: Coordinator[];
}

export interface TopicPartitions {
  topic: string;
  partitions: number[];
}

export interface ConsumerGroupHeartbeatRequest {
  groupId: string;
  /** Empty when joining: the coordinator assigns one. */
  memberId: string;
  /** 0: join; -1: leave; otherwise the last epoch received. */
  memberEpoch: number;
  rebalanceTimeoutMs: number;
  sessionTimeoutMs: number;
  subscribedTopicNames: string[];
  /** A JavaScript RegExp source matched against topic names; empty: none. */
  subscribedTopicRegex: string;
  ownedPartitions: TopicPartitions[];
  clientId: string;
  clientHost: string;
}

export interface ConsumerGroupHeartbeatResponse {
  errorCode: number;
  errorMessage: string;
  memberId: string;
  memberEpoch: number;
  heartbeatIntervalMs: number;
  /** False: keep the current assignment. */
  hasAssignment: boolean;
  assignment: TopicPartitions[];
}

export interface OffsetCommitPartition {
  partition: number;
  committedOffset: number;
  committedLeaderEpoch: number;
  metadata: string;
}

export interface OffsetCommitTopic {
  name: string;
  partitions: OffsetCommitPartition[];
}

export interface OffsetCommitRequest {
  groupId: string;
  /** Empty with memberEpoch -1: a commit from outside the group (admin, reset-offsets). */
  memberId: string;
  memberEpoch: number;
  topics: OffsetCommitTopic[];
}

export interface OffsetCommitPartitionResult {
  partition: number;
  errorCode: number;
}

export interface OffsetCommitTopicResult {
  name: string;
  partitions: OffsetCommitPartitionResult[];
}

export interface OffsetCommitResponse {
  errorCode: number;
  errorMessage: string;
  topics: OffsetCommitTopicResult[];
}

export interface OffsetFetchRequest {
  groupId: string;
  /** Empty: every committed partition of the group. */
  topics: TopicPartitions[];
  memberId: string;
  /** -1: not checked. */
  memberEpoch: number;
}

export interface OffsetFetchPartition {
  partition: number;
  /** -1: nothing committed. */
  committedOffset: number;
  committedLeaderEpoch: number;
  metadata: string;
  errorCode: number;
}

export interface OffsetFetchTopic {
  name: string;
  partitions: OffsetFetchPartition[];
}

export interface OffsetFetchResponse {
  errorCode: number;
  errorMessage: string;
  topics: OffsetFetchTopic[];
}

export type ListGroupsRequest = Record<string, never>;

export interface GroupListing {
  groupId: string;
  /** empty | assigning | reconciling | stable | dead */
  state: string;
  members: number;
}

export interface ListGroupsResponse {
  errorCode: number;
  errorMessage: string;
  groups: GroupListing[];
}

export interface DescribeGroupsRequest {
  groupIds: string[];
}

export interface GroupMember {
  memberId: string;
  memberEpoch: number;
  clientId: string;
  clientHost: string;
  subscribedTopicNames: string[];
  subscribedTopicRegex: string;
  /** What the member owns now. */
  assignment: TopicPartitions[];
  /** Where the coordinator is moving it. */
  targetAssignment: TopicPartitions[];
}

export interface GroupPartitionOffset {
  topic: string;
  partition: number;
  /** -1: nothing committed. */
  committedOffset: number;
  /** The high watermark: what a consumer can read. */
  logEndOffset: number;
  /** -1 when unknown. */
  lag: number;
  /** Empty: no owner. */
  ownerMemberId: string;
}

export interface GroupDescription {
  groupId: string;
  errorCode: number;
  errorMessage: string;
  state: string;
  groupEpoch: number;
  assignmentEpoch: number;
  coordinatorId: number;
  members: GroupMember[];
  offsets: GroupPartitionOffset[];
}

export interface DescribeGroupsResponse {
  groups: GroupDescription[];
}

export interface DeleteGroupsRequest {
  groupIds: string[];
}

export interface DeleteGroupResult {
  groupId: string;
  errorCode: number;
  errorMessage: string;
}

export interface DeleteGroupsResponse {
  results: DeleteGroupResult[];
}
