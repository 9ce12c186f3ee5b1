// One rule per test, in the order of partition-state.ts: high watermark, fencing, ISR shrink and
// expand through the controller, acks=all completion, role changes.

import { describe, expect, it } from 'vitest';
import { InvariantViolation } from './assert.js';
import { ISR_CHANGE_RETRY_BACKOFF_MS, PartitionState } from './partition-state.js';
import type { FlushPolicy, PartitionAssignment } from './types.js';

const LAG_MS = 1_000;

function assignment(overrides: Partial<PartitionAssignment> = {}): PartitionAssignment {
  return { leaderEpoch: 1, partitionEpoch: 1, replicas: [1, 2, 3], isr: [1, 2, 3], ...overrides };
}

/** Broker 1 leading epoch 1 with `logEndOffset` records, all flushed, high watermark 0. */
function leader(options: { flushPolicy?: FlushPolicy; isr?: number[]; logEndOffset?: number; pendingProducesMax?: number } = {}): PartitionState {
  const logEndOffset = options.logEndOffset ?? 10;
  const state = new PartitionState(
    { localBrokerId: 1, flushPolicy: options.flushPolicy ?? 'durable', replicaLagTimeMaxMs: LAG_MS, pendingProducesMax: options.pendingProducesMax ?? 100 },
    { logEndOffset, flushedOffset: logEndOffset, highWatermark: 0 },
  );
  state.becomeLeader(assignment({ isr: options.isr ?? [1, 2, 3] }), logEndOffset, 0);
  state.ready();
  return state;
}

function fetch(state: PartitionState, followerId: number, fetchOffset: number, flushedOffset = fetchOffset, nowMs = 0) {
  return state.onFollowerFetch(followerId, fetchOffset, flushedOffset, state.leaderEpoch, nowMs);
}

function errorOf(admission: ReturnType<PartitionState['onFollowerFetch']>): string | undefined {
  return admission.ok ? undefined : admission.error.codeName;
}

describe('high watermark', () => {
  it('durable: is the minimum flushed offset over the ISR, the leader own flushed offset included', () => {
    const state = leader({ logEndOffset: 10 });
    fetch(state, 2, 10, 6);
    fetch(state, 3, 9, 8);
    expect(state.highWatermark).toBe(6);
    state.onLocalAppend(12);
    fetch(state, 2, 12, 12);
    fetch(state, 3, 12, 12);
    expect(state.highWatermark).toBe(10); // the leader has flushed only 10 of its 12
    state.onLocalFlush(12);
    expect(state.highWatermark).toBe(12);
    expect(state.ready().highWatermark).toBe(12);
  });

  it('lazy: is the minimum log end offset over the ISR, ignoring flushes', () => {
    const state = leader({ flushPolicy: 'lazy', logEndOffset: 10 });
    fetch(state, 2, 10, 0);
    fetch(state, 3, 7, 0);
    expect(state.highWatermark).toBe(7);
  });

  it('waits for an ISR member that has not fetched in this leader epoch', () => {
    const state = leader({ logEndOffset: 10 });
    fetch(state, 2, 10);
    expect(state.highWatermark).toBe(0);
  });

  it('never moves back when a follower reports a lower offset', () => {
    const state = leader({ logEndOffset: 10 });
    fetch(state, 2, 10);
    fetch(state, 3, 10);
    expect(state.highWatermark).toBe(10);
    fetch(state, 3, 4);
    expect(state.highWatermark).toBe(10);
  });

  it('with the leader alone in the ISR, follows the leader flushed offset and never passes its log end', () => {
    const state = leader({ isr: [1], logEndOffset: 10 });
    expect(state.highWatermark).toBe(10);
    state.onLocalAppend(15);
    expect(state.highWatermark).toBe(10);
    state.onLocalFlush(15);
    expect(state.highWatermark).toBe(15);
  });
});

describe('fetch fencing', () => {
  it('answers FENCED_LEADER_EPOCH to an older epoch and UNKNOWN_LEADER_EPOCH to a newer one', () => {
    const state = leader();
    expect(errorOf(state.onFollowerFetch(2, 5, 5, 0, 0))).toBe('FENCED_LEADER_EPOCH');
    expect(errorOf(state.onFollowerFetch(2, 5, 5, 2, 0))).toBe('UNKNOWN_LEADER_EPOCH');
  });

  it('answers NOT_LEADER_OR_FOLLOWER to a broker that is not a replica, and on a follower', () => {
    const state = leader();
    expect(errorOf(fetch(state, 7, 5))).toBe('NOT_LEADER_OR_FOLLOWER');
    const follower = new PartitionState({ localBrokerId: 2 }, { logEndOffset: 0, flushedOffset: 0, highWatermark: 0 });
    follower.becomeFollower({ ...assignment(), leaderId: 1 });
    expect(errorOf(follower.onFollowerFetch(3, 0, 0, 1, 0))).toBe('NOT_LEADER_OR_FOLLOWER');
  });

  it('answers OFFSET_OUT_OF_RANGE to a fetch beyond the leader log end and leaves its state alone', () => {
    const state = leader({ logEndOffset: 10 });
    expect(errorOf(fetch(state, 2, 11))).toBe('OFFSET_OUT_OF_RANGE');
    expect(state.snapshot().followers.find((f) => f.brokerId === 2)?.logEndOffset).toBe(-1);
  });

  it('answers INVALID_REQUEST when the follower claims to have flushed more than it has', () => {
    expect(errorOf(fetch(leader(), 2, 5, 6))).toBe('INVALID_REQUEST');
  });
});

describe('ISR shrink', () => {
  it('proposes removing a follower not caught up for longer than replica.lag.time.max.ms', () => {
    const state = leader({ logEndOffset: 10 });
    fetch(state, 2, 10, 10, 100);
    fetch(state, 3, 4, 4, 100);
    state.tick(LAG_MS);
    expect(state.ready().isrChangeRequest).toBeUndefined();
    state.tick(LAG_MS + 1);
    const request = state.ready().isrChangeRequest;
    expect(request).toMatchObject({ leaderEpoch: 1, partitionEpoch: 1, newIsr: [1, 2] });
  });

  it('keeps a follower that reached the leader end as of its previous fetch on a busy leader', () => {
    const state = leader({ logEndOffset: 10 });
    fetch(state, 3, 10, 10, 0);
    state.onLocalAppend(20);
    fetch(state, 3, 10, 10, 900); // had everything the leader had at its previous fetch
    state.onLocalAppend(30);
    fetch(state, 3, 20, 20, 1_800); // reached the leader's end as of 900
    fetch(state, 2, 30, 30, 1_800);
    state.tick(1_850);
    expect(state.ready().isrChangeRequest).toBeUndefined();
  });

  it('never removes the leader itself, even with every follower gone', () => {
    const state = leader();
    state.tick(10 * LAG_MS);
    expect(state.ready().isrChangeRequest?.newIsr).toEqual([1]);
  });

  it('while the shrink is pending the old ISR still holds the high watermark; once committed it does not', () => {
    const state = leader({ logEndOffset: 10 });
    fetch(state, 2, 10, 10, LAG_MS * 2);
    state.tick(LAG_MS * 2);
    const request = state.ready().isrChangeRequest;
    expect(request?.newIsr).toEqual([1, 2]);
    expect(state.highWatermark).toBe(0); // 3 never fetched, and the controller may still elect it
    expect(state.onIsrChangeCommitted([1, 2], 2)).toBe(true);
    expect(state.highWatermark).toBe(10);
    expect(state.isr).toEqual([1, 2]);
  });
});

describe('ISR expand', () => {
  function leaderWithout3(flushPolicy: FlushPolicy = 'durable'): PartitionState {
    const state = leader({ flushPolicy, isr: [1, 2], logEndOffset: 10 });
    fetch(state, 2, 10);
    expect(state.highWatermark).toBe(10);
    return state;
  }

  it('proposes adding a follower whose fetch offset reached the high watermark and the epoch start', () => {
    const state = leaderWithout3();
    fetch(state, 3, 9);
    expect(state.ready().isrChangeRequest).toBeUndefined();
    fetch(state, 3, 10);
    expect(state.ready().isrChangeRequest).toMatchObject({ newIsr: [1, 2, 3], partitionEpoch: 1 });
  });

  it('durable: requires the follower to have FLUSHED up to the high watermark; lazy does not', () => {
    const durable = leaderWithout3('durable');
    fetch(durable, 3, 10, 9);
    expect(durable.ready().isrChangeRequest).toBeUndefined();
    const lazy = leaderWithout3('lazy');
    fetch(lazy, 3, 10, 0);
    expect(lazy.ready().isrChangeRequest?.newIsr).toEqual([1, 2, 3]);
  });

  it('requires the follower to reach the leader epoch start offset even when the high watermark lags', () => {
    const state = new PartitionState({ localBrokerId: 1, replicaLagTimeMaxMs: LAG_MS }, { logEndOffset: 10, flushedOffset: 10, highWatermark: 4 });
    state.becomeLeader(assignment({ isr: [1, 2] }), 10, 0);
    fetch(state, 3, 6);
    expect(state.ready().isrChangeRequest).toBeUndefined();
    fetch(state, 3, 10);
    expect(state.ready().isrChangeRequest?.newIsr).toEqual([1, 2, 3]);
  });

  it('counts the new member for the high watermark as soon as the expansion is proposed', () => {
    const state = leaderWithout3();
    state.onLocalAppend(20);
    state.onLocalFlush(20);
    fetch(state, 3, 10);
    expect(state.snapshot().maximalIsr).toEqual([1, 2, 3]);
    fetch(state, 2, 20);
    expect(state.highWatermark).toBe(10); // 3 has only 10: the controller may commit and elect it
    expect(state.isr).toEqual([1, 2]); // min.insync counts it only after the commit
  });

  it('keeps at most one ISR change in flight', () => {
    const state = leader({ isr: [1], logEndOffset: 10 });
    fetch(state, 2, 10);
    const first = state.ready().isrChangeRequest;
    fetch(state, 3, 10);
    expect(state.ready().isrChangeRequest).toBeUndefined();
    expect(state.onIsrChangeCommitted([1, 2], 2)).toBe(true);
    expect(first?.newIsr).toEqual([1, 2]);
    fetch(state, 3, 10);
    expect(state.ready().isrChangeRequest).toMatchObject({ newIsr: [1, 2, 3], partitionEpoch: 2 });
  });
});

describe('controller answers to an ISR change', () => {
  function expanding(): { state: PartitionState; requestId: number } {
    const state = leader({ isr: [1, 2], logEndOffset: 10 });
    fetch(state, 2, 10);
    fetch(state, 3, 10);
    const request = state.ready().isrChangeRequest;
    expect(request).toBeDefined();
    return { state, requestId: request?.requestId ?? -1 };
  }

  it('INELIGIBLE_REPLICA: the change surely was not applied, so the committed ISR is all that counts', () => {
    const { state, requestId } = expanding();
    expect(state.onIsrChangeRejected('INELIGIBLE_REPLICA', requestId)).toBe(true);
    expect(state.snapshot().maximalIsr).toEqual([1, 2]);
  });

  it('INVALID_UPDATE_VERSION: an earlier copy may have been applied, so the maximal ISR holds until new metadata', () => {
    const { state, requestId } = expanding();
    state.onIsrChangeRejected('INVALID_UPDATE_VERSION', requestId);
    expect(state.snapshot().pendingIsrChange?.status).toBe('awaiting-metadata');
    expect(state.snapshot().maximalIsr).toEqual([1, 2, 3]);
    state.tick(1);
    expect(state.ready().isrChangeRequest).toBeUndefined();
    state.becomeLeader(assignment({ partitionEpoch: 2, isr: [1, 2, 3] }), 10, 2);
    expect(state.snapshot().pendingIsrChange).toBeUndefined();
    expect(state.isr).toEqual([1, 2, 3]);
  });

  it('REQUEST_TIMED_OUT: resends the same change once the retry backoff has passed, keeping the maximal ISR', () => {
    const { state, requestId } = expanding();
    state.onIsrChangeRejected('REQUEST_TIMED_OUT', requestId);
    expect(state.ready().isrChangeRequest).toBeUndefined();
    const retryAtMs = state.snapshot().pendingIsrChange?.retryAtMs ?? Number.NaN;
    expect(retryAtMs).toBeGreaterThanOrEqual(ISR_CHANGE_RETRY_BACKOFF_MS);
    state.tick(retryAtMs - 1);
    expect(state.ready().isrChangeRequest).toBeUndefined();
    expect(state.snapshot().maximalIsr).toEqual([1, 2, 3]);
    state.tick(retryAtMs);
    expect(state.ready().isrChangeRequest).toMatchObject({ requestId, newIsr: [1, 2, 3] });
  });

  it('ignores an answer to a request no longer in flight, and a commit older than what it knows', () => {
    const { state, requestId } = expanding();
    expect(state.onIsrChangeRejected('INELIGIBLE_REPLICA', requestId + 1)).toBe(false);
    expect(state.onIsrChangeCommitted([1], 1)).toBe(false);
    expect(state.snapshot().maximalIsr).toEqual([1, 2, 3]);
  });
});

describe('acks=all produce', () => {
  it('refuses before the append when the ISR is smaller than min.insync.replicas', () => {
    expect(leader({ isr: [1] }).canAcceptAcksAll(2)?.codeName).toBe('NOT_ENOUGH_REPLICAS');
    expect(leader({ isr: [1, 2] }).canAcceptAcksAll(2)).toBeUndefined();
  });

  it('completes once the high watermark passes the last offset', () => {
    const state = leader({ logEndOffset: 10 });
    state.onLocalAppend(11);
    expect(state.registerProduce(7, 10, 2)).toBeUndefined();
    fetch(state, 2, 11);
    fetch(state, 3, 11);
    expect(state.ready().produceCompletions).toEqual([]);
    state.onLocalFlush(11);
    expect(state.ready().produceCompletions).toEqual([{ requestId: 7, lastOffset: 10, error: undefined }]);
  });

  it('completes with NOT_ENOUGH_REPLICAS_AFTER_APPEND when the ISR shrank below min.insync.replicas', () => {
    const state = leader({ logEndOffset: 10 });
    state.onLocalAppend(11);
    state.onLocalFlush(11);
    state.registerProduce(7, 10, 2);
    state.tick(LAG_MS * 2);
    state.onIsrChangeCommitted(state.ready().isrChangeRequest?.newIsr ?? [], 2);
    const [completion] = state.ready().produceCompletions;
    expect(completion?.error?.codeName).toBe('NOT_ENOUGH_REPLICAS_AFTER_APPEND');
  });

  it('fails pending requests with NOT_LEADER_OR_FOLLOWER when leadership is lost', () => {
    const state = leader({ logEndOffset: 10 });
    state.onLocalAppend(11);
    state.registerProduce(7, 10, 1);
    state.becomeFollower({ ...assignment({ leaderEpoch: 2, partitionEpoch: 2 }), leaderId: 2 });
    expect(state.ready().produceCompletions.map((c) => c.error?.codeName)).toEqual(['NOT_LEADER_OR_FOLLOWER']);
  });

  it('bounds the requests waiting: back-pressure before the append, a timeout-like answer after it', () => {
    const state = leader({ logEndOffset: 10, pendingProducesMax: 2 });
    state.onLocalAppend(13);
    state.registerProduce(1, 10, 1);
    state.registerProduce(2, 11, 1);
    expect(state.canAcceptAcksAll(1)?.codeName).toBe('THROTTLING_QUOTA_EXCEEDED');
    expect(state.registerProduce(3, 12, 1)?.error?.codeName).toBe('REQUEST_TIMED_OUT');
  });

  it('expires a request at its deadline', () => {
    const state = leader({ logEndOffset: 10 });
    state.onLocalAppend(11);
    state.registerProduce(7, 10, 1, 500);
    state.tick(499);
    expect(state.ready().produceCompletions).toEqual([]);
    state.tick(500);
    expect(state.ready().produceCompletions.map((c) => c.error?.codeName)).toEqual(['REQUEST_TIMED_OUT']);
  });
});

describe('role changes', () => {
  it('ignores metadata of an older leader epoch and applies a newer partition epoch in the same one', () => {
    const state = leader();
    expect(state.becomeLeader(assignment({ leaderEpoch: 0 }), 10, 0).kind).toBe('stale');
    expect(state.becomeLeader(assignment({ partitionEpoch: 2, isr: [1, 3] }), 10, 0).kind).toBe('metadata-update');
    expect(state.isr).toEqual([1, 3]);
  });

  it('a leader never truncates its own log', () => {
    expect(() => leader().onLocalTruncate(5)).toThrow(InvariantViolation);
  });

  it('a follower takes the leader high watermark up to its own log end, and truncation lowers it', () => {
    const state = new PartitionState({ localBrokerId: 2 }, { logEndOffset: 8, flushedOffset: 8, highWatermark: 0 });
    state.becomeFollower({ ...assignment(), leaderId: 1 });
    state.onLeaderHighWatermark(20);
    expect(state.highWatermark).toBe(8);
    state.onLocalTruncate(5);
    expect(state.highWatermark).toBe(5);
    expect(state.ready().highWatermark).toBe(5);
  });

  it('a new leader resets what it knew about followers: offsets from an older epoch prove nothing', () => {
    const state = leader({ logEndOffset: 10 });
    fetch(state, 2, 10);
    state.becomeLeader(assignment({ leaderEpoch: 3, partitionEpoch: 3 }), 10, 0);
    expect(state.snapshot().followers.map((f) => f.logEndOffset)).toEqual([-1, -1]);
    expect(state.leaderEpochStartOffset).toBe(10);
  });
});
