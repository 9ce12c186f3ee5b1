// Follower truncation by leader epoch (Kafka KIP-101, refined by KIP-279), as pure functions over an
// epoch cache. A follower that starts following a new leader asks it, with OffsetsForLeaderEpoch, where
// the follower's latest epoch ended in the leader's log, and truncates there. Truncating to the high
// watermark instead loses committed records when the follower's watermark lags (KIP-101 scenario 1)
// and keeps divergent ones when two replicas wrote different records at the same offsets in different
// epochs (scenario 2). When the leader does not know the follower's epoch, it answers with its largest
// epoch below it; the follower cuts its log back to that epoch and asks again (KIP-279), so several
// generations of divergent suffixes are all removed.

import { assert, isOffset } from './assert.js';

/** Kafka's sentinels for "no such epoch" in OffsetsForLeaderEpoch. */
export const UNDEFINED_EPOCH = -1;
export const UNDEFINED_EPOCH_OFFSET = -1;

export interface EpochEntry {
  epoch: number;
  /** First offset written in this epoch. */
  startOffset: number;
}

/** A log's leader-epoch cache (Kafka's LeaderEpochFileCache) with the log end it describes. */
export interface EpochCacheView {
  /** Strictly increasing in epoch and non-decreasing in start offset, all below or at logEndOffset. */
  epochs: readonly EpochEntry[];
  logEndOffset: number;
}

/** The answer to OffsetsForLeaderEpoch. */
/** The answer to OffsetsForLeaderEpoch; the same shape as the log's LeaderEpochFileCache.endOffsetFor. */
export interface EpochEndOffset {
  epoch: number;
  endOffset: number;
}

export type TruncationStep =
  /** Truncate to `truncateTo`; the divergence point is found, fetching may start there. */
  | { kind: 'done'; truncateTo: number }
  /** Truncate to `truncateTo`, then ask the leader again about `nextEpochToAsk` (KIP-279). */
  | { kind: 'ask-again'; truncateTo: number; nextEpochToAsk: number };

export function assertValidEpochCache(cache: EpochCacheView): void {
  assert(isOffset(cache.logEndOffset), `log end offset must be a non-negative integer, got ${cache.logEndOffset}`);
  let previous: EpochEntry | undefined;
  for (const entry of cache.epochs) {
    assert(Number.isSafeInteger(entry.epoch) && entry.epoch >= 0 && isOffset(entry.startOffset), `bad epoch entry ${JSON.stringify(entry)}`);
    assert(entry.startOffset <= cache.logEndOffset, `epoch ${entry.epoch} starts at ${entry.startOffset}, beyond the log end ${cache.logEndOffset}`);
    if (previous !== undefined) {
      assert(entry.epoch > previous.epoch && entry.startOffset >= previous.startOffset, `epoch cache not monotonic at epoch ${entry.epoch}`);
    }
    previous = entry;
  }
}

export function latestEpoch(cache: EpochCacheView): number {
  return cache.epochs[cache.epochs.length - 1]?.epoch ?? UNDEFINED_EPOCH;
}

/**
 * The leader's side of OffsetsForLeaderEpoch (Kafka's LeaderEpochFileCache.endOffsetFor): the largest
 * epoch <= `requestedEpoch` this log knows, and the start of the next higher epoch (the log end when
 * `requestedEpoch` is the latest). An epoch older than every known one ended where the first known
 * epoch starts; an unknown newer epoch gets the UNDEFINED sentinels.
 */
export function endOffsetForEpoch(cache: EpochCacheView, requestedEpoch: number): EpochEndOffset {
  const undefinedAnswer = { epoch: UNDEFINED_EPOCH, endOffset: UNDEFINED_EPOCH_OFFSET };
  if (requestedEpoch === UNDEFINED_EPOCH || cache.epochs.length === 0) return undefinedAnswer;
  if (requestedEpoch === latestEpoch(cache)) return { epoch: requestedEpoch, endOffset: cache.logEndOffset };
  const higherIndex = cache.epochs.findIndex((entry) => entry.epoch > requestedEpoch);
  if (higherIndex < 0) return undefinedAnswer;
  const higher = cache.epochs[higherIndex] as EpochEntry;
  if (higherIndex === 0) return { epoch: requestedEpoch, endOffset: higher.startOffset };
  const floor = cache.epochs[higherIndex - 1] as EpochEntry;
  return { epoch: floor.epoch, endOffset: higher.startOffset };
}

/**
 * The follower's side (Kafka's AbstractFetcherThread.getOffsetTruncationState), given the leader's
 * answer to OffsetsForLeaderEpoch(latestEpoch(follower)):
 * - the leader knows no such epoch (UNDEFINED end offset): fall back to the high watermark, the only
 *   point known to be shared;
 * - the follower has the epoch the leader answered with: truncate to min(leader end, follower end of
 *   that epoch, follower log end);
 * - the follower does not have it (the leader answered with an epoch the follower skipped): truncate
 *   to the end of the follower's largest epoch below it, and ask again with that epoch.
 */
export function truncationStep(follower: EpochCacheView, leaderAnswer: EpochEndOffset, followerHighWatermark: number): TruncationStep {
  const logEnd = follower.logEndOffset;
  if (leaderAnswer.endOffset === UNDEFINED_EPOCH_OFFSET) {
    return { kind: 'done', truncateTo: Math.min(followerHighWatermark, logEnd) };
  }
  assert(isOffset(leaderAnswer.endOffset), `leader end offset must be a non-negative integer, got ${leaderAnswer.endOffset}`);
  if (leaderAnswer.epoch === UNDEFINED_EPOCH) {
    return { kind: 'done', truncateTo: Math.min(leaderAnswer.endOffset, logEnd) };
  }
  const local = endOffsetForEpoch(follower, leaderAnswer.epoch);
  if (local.endOffset === UNDEFINED_EPOCH_OFFSET) {
    // The follower has no epoch at or below the leader's: nothing it holds is known to match beyond
    // the leader's answer (Kafka truncates to the leader's end offset here).
    return { kind: 'done', truncateTo: Math.min(leaderAnswer.endOffset, logEnd) };
  }
  if (local.epoch !== leaderAnswer.epoch) {
    const truncateTo = Math.min(local.endOffset, logEnd);
    return { kind: 'ask-again', truncateTo, nextEpochToAsk: local.epoch };
  }
  return { kind: 'done', truncateTo: Math.min(local.endOffset, leaderAnswer.endOffset, logEnd) };
}

/** The cache after truncating its log to `offset` (Kafka's truncateFromEnd: epochs starting at or after it go). */
export function truncateEpochCache(cache: EpochCacheView, offset: number): EpochCacheView {
  assert(isOffset(offset), `truncation offset must be a non-negative integer, got ${offset}`);
  const logEndOffset = Math.min(cache.logEndOffset, offset);
  return { epochs: cache.epochs.filter((entry) => entry.startOffset < logEndOffset), logEndOffset };
}

/**
 * Runs the whole exchange against a synchronous `askLeader` (tests, or a driver that already has the
 * leader's cache). Bounded: every "ask again" removes at least one epoch from the follower's cache.
 */
export function findTruncationOffset(
  follower: EpochCacheView,
  askLeader: (requestedEpoch: number) => EpochEndOffset,
  followerHighWatermark: number,
): number {
  assertValidEpochCache(follower);
  let cache = follower;
  let epoch = latestEpoch(cache);
  for (let round = 0; round <= follower.epochs.length + 1; round++) {
    const step = truncationStep(cache, askLeader(epoch), followerHighWatermark);
    cache = truncateEpochCache(cache, step.truncateTo);
    if (step.kind === 'done') return cache.logEndOffset;
    assert(step.nextEpochToAsk < epoch, `truncation asked again about epoch ${step.nextEpochToAsk} after ${epoch}`);
    epoch = step.nextEpochToAsk;
  }
  assert(false, `truncation did not converge within ${follower.epochs.length + 2} rounds`);
}
