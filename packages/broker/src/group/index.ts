// Consumer groups: the pure coordinator core (no networking yet; the driver that appends records to
// `__consumer_offsets` and serves the RPCs comes next). Design notes: docs/consumer-groups.md.
export * from './core/api.js';
export { assignPartitions } from './core/assignor.js';
export type { AssignorInput, AssignorMember } from './core/assignor.js';
export { assignmentFromList, assignmentToList, EMPTY_ASSIGNMENT } from './core/assignment.js';
export type { Assignment, TopicPartitions } from './core/assignment.js';
export { GroupCoordinator, GROUP_COORDINATOR_DEFAULTS } from './core/group-coordinator.js';
export type { GroupCoordinatorConfig, GroupCoordinatorOptions } from './core/group-coordinator.js';
export { snapshotOf } from './core/group-views.js';
export type { ShardSnapshot } from './core/group-views.js';
export {
  compactGroupRecords,
  decodeGroupRecord,
  encodeGroupRecord,
  encodeGroupRecordKey,
  javaStringHashCode,
  partitionForGroup,
  replay,
  replayGroupRecords,
} from './core/records.js';
export type { CurrentMemberAssignmentValue, EncodedGroupRecord, GroupRecord, GroupRecordType, TopicPartitionCount } from './core/records.js';
export type { MemberState, MemberSubscription, OffsetAndMetadata } from './core/types.js';
