import { RunnelError } from '@runnel/protocol';

/**
 * Per-partition log settings. Names are Kafka's topic configs in camelCase (`segment.bytes` ->
 * `segmentBytes`) so a topic's `--config k=v` maps one to one.
 */
export interface LogConfig {
  /** segment.bytes: roll the active segment before it would grow past this size. */
  segmentBytes: number;
  /** segment.ms: roll the active segment once its first batch is this old, even if it is small. */
  segmentMs: number;
  /** retention.ms: delete a segment once its largest timestamp is this old; -1 keeps forever. */
  retentionMs: number;
  /** retention.bytes: delete oldest segments while the log is larger than this; -1 is unlimited. */
  retentionBytes: number;
  /** index.interval.bytes: bytes of log between two sparse offset/time index entries. */
  indexIntervalBytes: number;
  /** max.message.bytes: largest single record batch the log accepts. */
  maxMessageBytes: number;
  /** message.timestamp.type: LogAppendTime makes the broker overwrite each batch's max timestamp. */
  messageTimestampType: 'CreateTime' | 'LogAppendTime';
  /**
   * cleanup.policy: 'delete' expires whole segments by retention.ms/bytes; 'compact' keeps the
   * latest record per key (log-cleaner.ts) and never expires by time or size; 'compact,delete' does both.
   */
  cleanupPolicy: CleanupPolicy;
  /** delete.retention.ms: how long a tombstone (null value) outlives the values it deletes, so consumers see it. */
  deleteRetentionMs: number;
  /** min.cleanable.dirty.ratio: clean once the uncleaned share of the cleanable bytes reaches this. */
  minCleanableDirtyRatio: number;
  /** min.compaction.lag.ms: a segment holding a record younger than this is not cleaned. */
  minCompactionLagMs: number;
}

export type CleanupPolicy = 'delete' | 'compact' | 'compact,delete';
export const CLEANUP_POLICIES: readonly CleanupPolicy[] = ['delete', 'compact', 'compact,delete'];

/** The policy a topic's `cleanup.policy` list names (Kafka accepts either order), or undefined if it is not one. */
export function parseCleanupPolicy(value: string): CleanupPolicy | undefined {
  const parts = new Set(value.split(',').map((part) => part.trim()));
  if (parts.size === 0 || [...parts].some((part) => part !== 'delete' && part !== 'compact')) return undefined;
  if (parts.has('compact')) return parts.has('delete') ? 'compact,delete' : 'compact';
  return 'delete';
}

export function compactionEnabled(config: Pick<LogConfig, 'cleanupPolicy'>): boolean {
  return config.cleanupPolicy !== 'delete';
}

export function deletionEnabled(config: Pick<LogConfig, 'cleanupPolicy'>): boolean {
  return config.cleanupPolicy !== 'compact';
}

const DAY_MS = 24 * 60 * 60 * 1000;
/** Positions in .index entries are int32, so a segment can never address more than this. */
export const SEGMENT_BYTES_MAX = 0x7fffffff;
/** Kafka's lower bound for segment.bytes: a segment must hold at least a minimal log header. */
export const SEGMENT_BYTES_MIN = 14;

export const DEFAULT_LOG_CONFIG: Readonly<LogConfig> = Object.freeze({
  segmentBytes: 1024 * 1024 * 1024,
  segmentMs: 7 * DAY_MS,
  retentionMs: 7 * DAY_MS,
  retentionBytes: -1,
  indexIntervalBytes: 4096,
  maxMessageBytes: 1024 * 1024 + 12,
  messageTimestampType: 'CreateTime',
  cleanupPolicy: 'delete',
  deleteRetentionMs: DAY_MS,
  minCleanableDirtyRatio: 0.5,
  minCompactionLagMs: 0,
});

/** Problems found in a config, one human-readable line each; empty when valid. */
export function logConfigProblems(config: LogConfig): string[] {
  const problems: string[] = [];
  const intIn = (name: keyof LogConfig, value: number, min: number, max: number): void => {
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      problems.push(`${name} must be an integer in [${min}, ${max}], got ${String(value)}`);
    }
  };
  intIn('segmentBytes', config.segmentBytes, SEGMENT_BYTES_MIN, SEGMENT_BYTES_MAX);
  intIn('segmentMs', config.segmentMs, 1, Number.MAX_SAFE_INTEGER);
  intIn('retentionMs', config.retentionMs, -1, Number.MAX_SAFE_INTEGER);
  intIn('retentionBytes', config.retentionBytes, -1, Number.MAX_SAFE_INTEGER);
  intIn('indexIntervalBytes', config.indexIntervalBytes, 0, SEGMENT_BYTES_MAX);
  intIn('maxMessageBytes', config.maxMessageBytes, 0, SEGMENT_BYTES_MAX);
  if (config.messageTimestampType !== 'CreateTime' && config.messageTimestampType !== 'LogAppendTime') {
    problems.push(`messageTimestampType must be CreateTime or LogAppendTime, got ${String(config.messageTimestampType)}`);
  }
  if (!CLEANUP_POLICIES.includes(config.cleanupPolicy)) {
    problems.push(`cleanupPolicy must be one of ${CLEANUP_POLICIES.join(' | ')}, got ${String(config.cleanupPolicy)}`);
  }
  intIn('deleteRetentionMs', config.deleteRetentionMs, 0, Number.MAX_SAFE_INTEGER);
  intIn('minCompactionLagMs', config.minCompactionLagMs, 0, Number.MAX_SAFE_INTEGER);
  if (typeof config.minCleanableDirtyRatio !== 'number' || !(config.minCleanableDirtyRatio >= 0 && config.minCleanableDirtyRatio <= 1)) {
    problems.push(`minCleanableDirtyRatio must be a number in [0, 1], got ${String(config.minCleanableDirtyRatio)}`);
  }
  return problems;
}

/** Defaults overlaid with `overrides`, validated; throws INVALID_CONFIG listing every problem. */
export function resolveLogConfig(overrides: Partial<LogConfig> = {}): LogConfig {
  const config: LogConfig = { ...DEFAULT_LOG_CONFIG, ...overrides };
  const problems = logConfigProblems(config);
  if (problems.length > 0) {
    throw new RunnelError('INVALID_CONFIG', `invalid log config: ${problems.join('; ')}`, { details: { problems } });
  }
  return config;
}
