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
