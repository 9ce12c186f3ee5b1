import { assert } from './assert.js';
import type { FlushPolicy, FollowerSnapshot } from './types.js';
import { UNKNOWN_OFFSET } from './types.js';

/**
 * The leader's view of one follower (Kafka's Replica/ReplicaState). Reset on every new leader epoch:
 * offsets learned under an older epoch say nothing about the follower's log after its truncation.
 */
export class FollowerReplica {
  logEndOffset = UNKNOWN_OFFSET;
  flushedOffset = UNKNOWN_OFFSET;
  lastFetchTimeMs = 0;
  /** The leader's log end offset when the previous fetch arrived (Kafka's lastFetchLeaderLogEndOffset). */
  private lastFetchLeaderLogEndOffset = UNKNOWN_OFFSET;

  constructor(
    readonly brokerId: number,
    /** ISR members start "caught up now" so a new leader does not shrink them before they can fetch. */
    public lastCaughtUpTimeMs: number,
  ) {}

  /**
   * A fetch at `fetchOffset` proves the follower holds every record below it. Kafka's rule for
   * lastCaughtUpTime: caught up now if the fetch reached the leader's current end; caught up as of
   * the previous fetch if it reached what the leader's end was then (a busy leader keeps moving).
   */
  updateFetchState(fetchOffset: number, flushedOffset: number, nowMs: number, leaderLogEndOffset: number): void {
    assert(fetchOffset <= leaderLogEndOffset, `follower ${this.brokerId} fetch offset ${fetchOffset} beyond leader end ${leaderLogEndOffset}`);
    assert(flushedOffset <= fetchOffset, `follower ${this.brokerId} flushed ${flushedOffset} beyond its fetch offset ${fetchOffset}`);
    if (fetchOffset >= leaderLogEndOffset) {
      this.lastCaughtUpTimeMs = Math.max(this.lastCaughtUpTimeMs, nowMs);
    } else if (this.lastFetchLeaderLogEndOffset !== UNKNOWN_OFFSET && fetchOffset >= this.lastFetchLeaderLogEndOffset) {
      this.lastCaughtUpTimeMs = Math.max(this.lastCaughtUpTimeMs, this.lastFetchTimeMs);
    }
    this.logEndOffset = fetchOffset;
    this.flushedOffset = flushedOffset;
    this.lastFetchLeaderLogEndOffset = leaderLogEndOffset;
    this.lastFetchTimeMs = nowMs;
  }

  /** Kafka's isFollowerOutOfSync: not at the leader's end, and not caught up for longer than the lag bound. */
  isOutOfSync(leaderLogEndOffset: number, nowMs: number, replicaLagTimeMaxMs: number): boolean {
    return this.logEndOffset !== leaderLogEndOffset && nowMs - this.lastCaughtUpTimeMs > replicaLagTimeMaxMs;
  }

  /** The offset below which this follower counts towards the high watermark. */
  replicatedOffset(policy: FlushPolicy): number {
    return policy === 'durable' ? Math.min(this.flushedOffset, this.logEndOffset) : this.logEndOffset;
  }

  snapshot(): FollowerSnapshot {
    return {
      brokerId: this.brokerId,
      logEndOffset: this.logEndOffset,
      flushedOffset: this.flushedOffset,
      lastCaughtUpTimeMs: this.lastCaughtUpTimeMs,
      lastFetchTimeMs: this.lastFetchTimeMs,
    };
  }
}
