import type { LogConfig } from './config.js';

export interface RetentionView {
  sizeBytes: number;
  largestTimestampMs: number;
  /** Base offset of the next segment; undefined for the active segment. */
  upperBoundOffset: number | undefined;
}

export type RetentionReason = 'retention.ms' | 'retention.bytes';

/**
 * Kafka's deletable-segment rules, oldest first: a prefix of segments past retention.ms (by largest
 * timestamp), then while the log stays at or above retention.bytes without the oldest segment. Never
 * the active segment, and never one holding offsets at or above the high watermark: data not yet
 * replicated is not the log's to expire. Returns one reason per segment to delete, in order.
 */
export function retentionDeletions(
  segments: readonly RetentionView[],
  config: Pick<LogConfig, 'retentionMs' | 'retentionBytes'>,
  nowMs: number,
  highWatermark: number,
): RetentionReason[] {
  const reasons: RetentionReason[] = [];
  const deletable = (segment: RetentionView | undefined): segment is RetentionView =>
    segment !== undefined && segment.upperBoundOffset !== undefined && segment.upperBoundOffset <= highWatermark;
  if (config.retentionMs >= 0) {
    for (let segment = segments[0]; deletable(segment) && nowMs - segment.largestTimestampMs > config.retentionMs; segment = segments[reasons.length]) {
      reasons.push('retention.ms');
    }
  }
  if (config.retentionBytes >= 0) {
    let excessBytes = segments.slice(reasons.length).reduce((sum, segment) => sum + segment.sizeBytes, 0) - config.retentionBytes;
    for (let segment = segments[reasons.length]; deletable(segment) && excessBytes - segment.sizeBytes >= 0; segment = segments[reasons.length]) {
      excessBytes -= segment.sizeBytes;
      reasons.push('retention.bytes');
    }
  }
  return reasons;
}
