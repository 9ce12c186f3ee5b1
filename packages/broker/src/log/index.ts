export { PartitionLog, RECOVERY_POINT_CHECKPOINT, HIGH_WATERMARK_CHECKPOINT } from './partition-log.js';
export { PRODUCER_ID_EXPIRATION_MS_DEFAULT, partitionDirName, systemClock } from './log-types.js';
export type {
  AppendInfo,
  AppendResult,
  Clock,
  LogReadResult,
  PartitionLogOptions,
  ReadOptions,
  RetentionResult,
  SegmentInfo,
} from './log-types.js';
export {
  CLEANUP_POLICIES,
  DEFAULT_LOG_CONFIG,
  SEGMENT_BYTES_MAX,
  SEGMENT_BYTES_MIN,
  compactionEnabled,
  deletionEnabled,
  logConfigProblems,
  parseCleanupPolicy,
  resolveLogConfig,
} from './config.js';
export type { CleanupPolicy, LogConfig } from './config.js';
export { CLEANER_OFFSET_CHECKPOINT, CLEAN_SLICE_BYTES_DEFAULT, OFFSET_MAP_BYTES_MAX_DEFAULT } from './log-cleaner.js';
export type { CleanOptions, CleanResult, CleanableRange, SwapStep } from './log-cleaner.js';
export { LeaderEpochFileCache, LEADER_EPOCH_CHECKPOINT, UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET } from './leader-epoch-cache.js';
export type { EpochEndOffset, EpochEntry } from './leader-epoch-cache.js';
export { LogSegment, segmentFileName, LOG_FILE_SUFFIX, INDEX_FILE_SUFFIX, TIME_INDEX_FILE_SUFFIX } from './log-segment.js';
export { OffsetIndex, TimeIndex } from './sparse-index.js';
export type { OffsetPosition, TimestampOffset } from './sparse-index.js';
export { GroupCommit } from './group-commit.js';
export { CheckpointFile } from './checkpoint-file.js';
export { nodeFileOps } from './file-ops.js';
export type { FileOps } from './file-ops.js';
export { retentionDeletions } from './log-retention.js';
export type { RetentionReason, RetentionView } from './log-retention.js';
export { PRODUCER_BATCHES_RETAINED, ProducerStateManager, checkBatch, incrementSequence } from './producer-state.js';
export type { BatchMetadata, ProducerBatch, ProducerEntry, SequenceVerdict } from './producer-state.js';
export { PRODUCER_SNAPSHOT } from './producer-snapshot.js';
