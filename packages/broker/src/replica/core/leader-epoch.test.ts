// Truncation by leader epoch: the KIP-101 scenarios that truncating to the high watermark gets
// wrong, and KIP-279's repeated exchange when the leader does not know the follower's epoch.

import { describe, expect, it } from 'vitest';
import {
  UNDEFINED_EPOCH,
  UNDEFINED_EPOCH_OFFSET,
  endOffsetForEpoch,
  findTruncationOffset,
  truncateEpochCache,
  truncationStep,
} from './leader-epoch.js';
import type { EpochCacheView } from './leader-epoch.js';

function cache(logEndOffset: number, ...epochs: Array<[epoch: number, startOffset: number]>): EpochCacheView {
  return { logEndOffset, epochs: epochs.map(([epoch, startOffset]) => ({ epoch, startOffset })) };
}

function truncationAgainst(leader: EpochCacheView, follower: EpochCacheView, followerHighWatermark = 0): number {
  return findTruncationOffset(follower, (epoch) => endOffsetForEpoch(leader, epoch), followerHighWatermark);
}

describe('endOffsetForEpoch (the leader answering OffsetsForLeaderEpoch)', () => {
  const leader = cache(20, [1, 0], [3, 5], [4, 12]);

  it('answers the log end for the latest epoch', () => {
    expect(endOffsetForEpoch(leader, 4)).toEqual({ epoch: 4, endOffset: 20 });
  });

  it('answers the start of the next epoch for an earlier known epoch', () => {
    expect(endOffsetForEpoch(leader, 3)).toEqual({ epoch: 3, endOffset: 12 });
  });

  it('answers its largest epoch below an unknown one, ending where the next known epoch starts', () => {
    expect(endOffsetForEpoch(leader, 2)).toEqual({ epoch: 1, endOffset: 5 });
  });

  it('answers an epoch older than all it knows with the start of its first epoch', () => {
    expect(endOffsetForEpoch(cache(20, [2, 4], [3, 9]), 1)).toEqual({ epoch: 1, endOffset: 4 });
  });

  it('answers the UNDEFINED sentinels for a newer epoch, an undefined one, or an empty cache', () => {
    const undefinedAnswer = { epoch: UNDEFINED_EPOCH, endOffset: UNDEFINED_EPOCH_OFFSET };
    expect(endOffsetForEpoch(leader, 9)).toEqual(undefinedAnswer);
    expect(endOffsetForEpoch(leader, UNDEFINED_EPOCH)).toEqual(undefinedAnswer);
    expect(endOffsetForEpoch(cache(0), 1)).toEqual(undefinedAnswer);
  });
});

describe('follower truncation', () => {
  it('KIP-101 scenario 1: keeps a committed record that truncating to a lagging high watermark would drop', () => {
    // Both replicas hold offsets 0..1 of epoch 1; the follower's high watermark is still 1.
    const leader = cache(2, [1, 0], [2, 2]);
    const follower = cache(2, [1, 0]);
    expect(truncationAgainst(leader, follower, 1)).toBe(2);
  });

  it('KIP-101 scenario 2: drops records written at the same offsets under an older epoch', () => {
    // The follower wrote offset 1 as leader of epoch 1; the new leader (epoch 2) wrote its own offset 1.
    const leader = cache(2, [1, 0], [2, 1]);
    const follower = cache(2, [1, 0]);
    expect(truncationAgainst(leader, follower, 1)).toBe(1);
  });

  it('truncates to min(leader end offset, local log end) when the leader knows the epoch', () => {
    expect(truncationStep(cache(8, [3, 0]), { epoch: 3, endOffset: 5 }, 0)).toEqual({ kind: 'done', truncateTo: 5 });
    expect(truncationStep(cache(4, [3, 0]), { epoch: 3, endOffset: 5 }, 0)).toEqual({ kind: 'done', truncateTo: 4 });
  });

  it('KIP-279: when the leader answers with a lower epoch the follower lacks, cuts back and asks again', () => {
    // Follower: epochs 1, 2 (its own, never replicated) and 4 (another unreplicated suffix).
    const follower = cache(14, [1, 0], [2, 6], [4, 10]);
    // Leader: epochs 1, 3 and 5; it never saw epochs 2 or 4. It answers epoch 4 with (3, 12): the
    // follower lacks epoch 3, so it drops epoch 4 (from 10) and asks about epoch 2, answered with (1, 4).
    const leader = cache(12, [1, 0], [3, 4], [5, 12]);
    const first = truncationStep(follower, endOffsetForEpoch(leader, 4), 0);
    expect(first).toEqual({ kind: 'ask-again', truncateTo: 10, nextEpochToAsk: 2 });
    const cut = truncateEpochCache(follower, first.truncateTo);
    expect(truncationStep(cut, endOffsetForEpoch(leader, 2), 0)).toEqual({ kind: 'done', truncateTo: 4 });
    expect(truncationAgainst(leader, follower)).toBe(4);
  });

  it('falls back to the high watermark when the leader knows no such epoch', () => {
    expect(truncationStep(cache(9, [2, 0]), { epoch: UNDEFINED_EPOCH, endOffset: UNDEFINED_EPOCH_OFFSET }, 3)).toEqual({ kind: 'done', truncateTo: 3 });
  });

  it('keeps a log that is a prefix of the leader log', () => {
    expect(truncationAgainst(cache(30, [1, 0], [2, 10], [3, 20]), cache(15, [1, 0], [2, 10]))).toBe(15);
  });

  it('an empty follower stays empty', () => {
    expect(truncationAgainst(cache(30, [1, 0]), cache(0))).toBe(0);
  });
});

describe('truncateEpochCache', () => {
  it('drops the epochs that start at or after the truncation offset', () => {
    expect(truncateEpochCache(cache(14, [1, 0], [2, 6], [4, 10]), 10)).toEqual(cache(10, [1, 0], [2, 6]));
  });
});
