export { PartitionState } from './core/partition-state.js';
export { InvariantViolation } from './core/assert.js';
export {
  DEFAULT_PENDING_PRODUCES_MAX,
  DEFAULT_REPLICA_LAG_TIME_MAX_MS,
  NO_LEADER,
  UNKNOWN_OFFSET,
} from './core/types.js';
export type {
  FetchAdmission,
  FlushPolicy,
  FollowerAssignment,
  FollowerSnapshot,
  IsrChangeRequest,
  IsrChangeStatus,
  LocalLogState,
  PartitionAssignment,
  PartitionReady,
  PartitionSnapshot,
  PartitionStateConfig,
  PendingIsrChangeSnapshot,
  ProduceCompletion,
  ReplicaRole,
  RoleChange,
} from './core/types.js';
// UNDEFINED_EPOCH(_OFFSET), EpochEntry and EpochEndOffset are the same values and shapes as the log's
// exports of those names (log/leader-epoch-cache.ts), so they are not re-exported here.
export {
  assertValidEpochCache,
  endOffsetForEpoch,
  findTruncationOffset,
  latestEpoch,
  truncateEpochCache,
  truncationStep,
} from './core/leader-epoch.js';
export type { EpochCacheView, TruncationStep } from './core/leader-epoch.js';
